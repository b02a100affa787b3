package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// TestCoordinatedOmission runs an open model at 100/s with two workers
// against a server that stalls for 1 s once (every response waits for the
// stall's end): the two requests caught in the stall are the only slow ones
// by their own clock, so raw p99 stays low, while the hundred that should
// have left during the stall waited for it, which the latency from the
// intended send time shows. It runs alone, so that no other test's load
// makes its undisturbed requests slow.
func TestCoordinatedOmission(t *testing.T) {
	var stallEnd atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			stallEnd.Store(time.Now().Add(time.Second).UnixNano())
			return
		}
		if d := time.Until(time.Unix(0, stallEnd.Load())); d > 0 {
			time.Sleep(d)
		}
		time.Sleep(2 * time.Millisecond)
	}))
	time.AfterFunc(1500*time.Millisecond, func() { http.Get(srv.URL + "/stall") })
	defer srv.Close()
	code, r, out := runScenario(t, `name: co
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 4s, rate: 100/s, max_workers: 2}]
thresholds:
  - "p99{latency=raw} < 100ms"
  - p99 >= 500ms
`, nil)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if r.CorrectedLatency == nil || r.CorrectedLatency.P99 < 500 || r.Latency.P99 > 100 {
		t.Fatalf("raw p99 %vms, corrected %+v", r.Latency.P99, r.CorrectedLatency)
	}
	// Raw and corrected side by side, per request and for all, in the
	// terminal summary, summary.md and report.html.
	x := r.Requests["x"]
	pair := func(raw, c float64) string {
		return threshold.FormatValue(threshold.Duration, raw) + " / " + threshold.FormatValue(threshold.Duration, c)
	}
	run := filepath.Join(filepath.Dir(r.Scenario.File), "run")
	for name, text := range map[string]string{
		"summary.txt": readFile(t, filepath.Join(run, "summary.txt")),
		"summary.md":  readFile(t, filepath.Join(run, "summary.md")),
		"report.html": readFile(t, filepath.Join(run, "report.html")),
	} {
		for _, want := range []string{pair(x.Latency.P99, x.CorrectedLatency.P99), pair(r.Latency.P99, r.CorrectedLatency.P99), pair(r.Latency.P50, r.CorrectedLatency.P50)} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	g := r.Generator
	if g == nil || g.LagMax < 800 || g.Late == 0 || g.Sent != 400 {
		t.Errorf("generator health: %+v", g)
	}
	// Both workers were held by the stall for a quarter of the run: the
	// target, not the generator, was the limit.
	if g == nil || g.WorkersMax != 2 || g.WorkersPeak != 2 || g.WorkersAtMax < 0.15 || g.Saturated ||
		!strings.Contains(g.Reason, "max_workers reached") {
		t.Errorf("workers: %+v", g)
	}
}

// TestAbortOnLostThreshold: a threshold with abort stops the run at the
// first interval to end after its grace period once it is lost, soon
// after that interval's end; the report is still whole.
func TestAbortOnLostThreshold(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	code, r, out := runScenario(t, `name: abort
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
fixture: {error_500_rate: 0.3, seed: 3}
requests: [{name: ping, path: /v1/ping}]
stages: [{duration: 30s, rate: 100/s}]
thresholds:
  - {expr: "error_rate < 5%", abort: true, after: 2s}
`, nil)
	took := time.Since(begin)
	if code != ExitFail || r.Verdict != "fail" || r.Interrupted {
		t.Fatalf("exit %d verdict %s\n%s", code, r.Verdict, out)
	}
	// The first interval to end after the grace is the one checked: the
	// run's own clock says when, whatever the machine's load.
	m := regexp.MustCompile(`^aborted after ([0-9.]+s): `).FindStringSubmatch(r.Stopped)
	if m == nil || r.Totals.Requests < 150 {
		t.Fatalf("stopped %q after %d requests", r.Stopped, r.Totals.Requests)
	}
	at, err := time.ParseDuration(m[1])
	if err != nil || at < 2*time.Second || at > 3*time.Second {
		t.Errorf("aborted after %s, want the first interval to end after the 2 s grace", m[1])
	}
	// It is checked LateResults after its end, and requests in flight get
	// their grace: the stop comes within 0.75 s of it, and within five
	// times that on a busy machine; the 30 s stage is far off. The
	// whole command (reports too) within 20 s.
	if after := time.Duration(r.DurationS*float64(time.Second)) - at; r.DurationS < 2 || after > 5*(report.LateResults+attack.DefaultGrace) || took > 20*time.Second {
		t.Errorf("ran %.2fs, %v after the check (took %v), want a stop soon after the check", r.DurationS, after, took)
	}
}

// TestDroppedTicks: one worker against a target that takes 50 ms cannot
// send 100/s; when the 2 s stage is up, the ticks still due are dropped,
// and the generator health counts them: sent and dropped add up to the
// 200 the schedule held.
func TestDroppedTicks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	_, r, out := runScenario(t, `name: dropped
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 2s, rate: 100/s, max_workers: 1}]
`, nil)
	g := r.Generator
	if g == nil || g.Sent+g.Dropped != 200 || g.Dropped < 100 || g.Sent != r.Totals.Requests {
		t.Fatalf("generator %+v, %d requests\n%s", g, r.Totals.Requests, out)
	}
	if !strings.Contains(out, fmt.Sprintf("%d scheduled requests never sent", g.Dropped)) {
		t.Errorf("summary does not say so:\n%s", out)
	}
}

// TestSaturatedGeneratorIsInconclusive: when loadgate used all the cores
// (a CPU clock that runs as fast as the wall clock on every core) and
// fell behind its schedule, the verdict is inconclusive, exit 4, even
// with every threshold met.
func TestSaturatedGeneratorIsInconclusive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
	}))
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: busy
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 2s, rate: 20/s, max_workers: 1}]
thresholds: [error_rate == 0]
`)
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	env := testEnv(&stdout, &stderr, nil)
	began := time.Now()
	env.CPU = func() time.Duration { return time.Duration(runtime.GOMAXPROCS(0)) * time.Since(began) }
	code := Run(context.Background(), env, []string{"run", sc, "--out", out})
	r := readReport(t, out)
	g := r.Generator
	if code != ExitInconclusive || r.Verdict != report.Inconclusive || g == nil || !g.Saturated || g.CPUMean < 0.95 || g.LateShare < 0.5 {
		t.Fatalf("exit %d, verdict %s, generator %+v\n%s", code, r.Verdict, g, stderr.String())
	}
	if !r.Thresholds[0].Pass || !strings.Contains(stdout.String()+stderr.String(), "verdict   INCONCLUSIVE") {
		t.Errorf("thresholds %+v; output:\n%s%s", r.Thresholds, stdout.String(), stderr.String())
	}
	// The same run with the real clock: one worker waiting on a slow
	// target is the target's limit, not the generator's.
	code, r, _ = runScenario(t, `name: slow
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 2s, rate: 20/s, max_workers: 1}]
thresholds: [error_rate == 0]
`, nil)
	if code != ExitPass || r.Generator == nil || r.Generator.Saturated {
		t.Errorf("real clock: exit %d, generator %+v", code, r.Generator)
	}
}
