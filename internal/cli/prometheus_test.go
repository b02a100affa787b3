package cli

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/loadgate/loadgate/fixtures"
)

const prometheusPath = "/usr/bin/prometheus"

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestObserveThroughPrometheus runs Debian's Prometheus server scraping the
// fixture (its service model overloaded: 2 workers of 50 ms against 60/s)
// and loadgate's own /metrics (run --listen) every second. The run's
// observe.prometheus queries that server: its observed queue depth and the
// threshold on it must be what Prometheus itself returns for the same
// query, and the tries Prometheus scraped from loadgate must be the
// report's.
//
// Not parallel: the Prometheus server is a heavy process of its own, kept apart
// from the parallel tests, which time targets in this process.
func TestObserveThroughPrometheus(t *testing.T) {
	if _, err := os.Stat(prometheusPath); err != nil {
		if os.Getenv("LOADGATE_REQUIRE_PROMETHEUS") == "1" {
			t.Fatal("Prometheus is not at " + prometheusPath + ": make prometheus installs it")
		}
		t.Skip("no Prometheus at " + prometheusPath)
	}
	dir := t.TempDir()
	fx, err := fixtures.Start("127.0.0.1:0", fixtures.Options{Service: fixtures.Service{Workers: 2, Queue: 16},
		Faults: fixtures.Faults{Latency: fixtures.Latency{Fixed: 50 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	promAddr, liveAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - {job_name: crm, static_configs: [{targets: ["%s"]}]}
  - {job_name: loadgate, static_configs: [{targets: ["%s"]}]}
`, fx.URL[len("http://"):], liveAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var promOut bytes.Buffer
	prom := exec.CommandContext(ctx, prometheusPath, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	prom.Stdout, prom.Stderr = &promOut, &promOut
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", promOut.String())
		}
	}()
	waitFor(t, 30*time.Second, "Prometheus to be ready", func() bool {
		resp, err := http.Get("http://" + promAddr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + promAddr})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(c)
	// Prometheus applies its targets a few seconds after it starts: the run
	// begins once the fixture has been scraped.
	waitFor(t, 30*time.Second, "Prometheus to scrape the fixture", func() bool {
		v, _, _, err := api.Query(ctx, `up{job="crm"}`, time.Now())
		vec, ok := v.(model.Vector)
		return err == nil && ok && len(vec) == 1 && vec[0].Value == 1
	})

	sc := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(sc, []byte(fmt.Sprintf(`name: prom
target: {base_url: "%s"}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests: [{name: ping, path: /v1/ping, expect: {status: [200, 503]}}]
stages: [{duration: 4s, rate: 60/s}]
report: {interval: 1s}
observe:
  prometheus: http://%s
  series:
    queue_depth: 'max(crm_queue_depth{job="crm"})'
thresholds:
  - observed{series=queue_depth} < 5
`, fx.URL, promAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := Run(ctx, testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out, "-q", "--listen", liveAddr, "--listen-linger", "2500ms"})
	if code != ExitFail {
		t.Fatalf("exit %d, want 1 (the queue threshold fails)\n%s\n%s", code, stdout.String(), stderr.String())
	}
	r := readReport(t, out)
	q := r.Observed["queue_depth"]
	if q == nil || len(q.Points) < 3 || q.Max < 10 {
		t.Fatalf("observed queue_depth %+v: the overloaded fixture's queue is near 16", q)
	}

	// What Prometheus itself says for the same query over the run.
	// At the very instants the run evaluated it.
	promMax := math.Inf(-1)
	for _, p := range q.Points {
		at := q.Start.Add(time.Duration(p[0] * float64(time.Second)))
		v, _, _, err := api.Query(ctx, `max(crm_queue_depth{job="crm"})`, at)
		if err != nil {
			t.Fatal(err)
		}
		vec := v.(model.Vector)
		if len(vec) != 1 || float64(vec[0].Value) != p[1] {
			t.Errorf("at +%gs the run observed %v, Prometheus says %v", p[0], p[1], vec)
			continue
		}
		promMax = math.Max(promMax, float64(vec[0].Value))
	}
	if promMax != q.Max {
		t.Errorf("observed max %v, Prometheus says %v for the same query", q.Max, promMax)
	}
	if th := r.Thresholds[0]; th.Pass || th.Actual != promMax {
		t.Errorf("threshold %q: pass %v, actual %v; Prometheus' max is %v", th.Expr, th.Pass, th.Actual, promMax)
	}
	// loadgate's /metrics, as Prometheus scraped it after the run ended.
	waitFor(t, 10*time.Second, "Prometheus to hold loadgate's final count of tries", func() bool {
		v, _, _, err := api.Query(ctx, `sum(loadgate_tries_total{job="loadgate"})`, time.Now())
		vec, ok := v.(model.Vector)
		return err == nil && ok && len(vec) == 1 && uint64(vec[0].Value) == r.Totals.Requests
	})
}
