package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/loadgate/loadgate/report"
)

// vegetaCLI returns the vegeta command at the library's version: make test
// installs it and names it in LOADGATE_VEGETA.
func vegetaCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOADGATE_VEGETA"); p != "" {
		return p
	}
	if p, err := exec.LookPath("vegeta"); err == nil {
		return p
	}
	t.Skip("no vegeta CLI: make test installs it (LOADGATE_VEGETA)")
	return ""
}

// triesServer answers /x: every 20th request has its connection dropped,
// every 10th a 500, every 7th a 302 to /x?hop (answered 200).
func triesServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch {
		case r.URL.RawQuery == "hop":
		case i%20 == 0:
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		case i%10 == 0:
			w.WriteHeader(http.StatusInternalServerError)
		case i%7 == 0:
			http.Redirect(w, r, "/x?hop", http.StatusFound)
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestRawResultsHoldEveryTry: with dropped connections, 500s that are
// retried and redirects, report.json counts every try the server saw, and
// so do results.lgr, every export format and the vegeta CLI reading them;
// 'loadgate report results.lgr' gives report.json's status and error-kind
// counts; 'vegeta plot' reads every export and a --raw vegeta run's
// results.gob.
func TestRawResultsHoldEveryTry(t *testing.T) {
	t.Parallel()
	vegeta := vegetaCLI(t)
	srv, served := triesServer(t)
	scenario := `name: tries
target: {base_url: "` + srv.URL + `"}
retry: {on_5xx: {max: 2, delay: 10ms, backoff: fixed}, on_network: {max: 1, delay: 10ms}}
requests: [{name: x, path: /x}]
stages: [{duration: 2s, rate: 200/s}]
`
	_, r, out := runScenario(t, scenario, nil)
	tot := r.Totals
	if int64(tot.Requests) != served.Load() || tot.Requests <= tot.LogicalRequests || tot.StatusCodes["302"] == 0 || tot.Errors["closed"] == 0 {
		t.Fatalf("report.json counts %d tries (%d logical, status %v, errors %v); the server saw %d\n%s",
			tot.Requests, tot.LogicalRequests, tot.StatusCodes, tot.Errors, served.Load(), out)
	}
	dir := filepath.Dir(r.Scenario.File)
	run := filepath.Join(dir, "run")
	if n, rd := countResults(t, filepath.Join(run, "results.lgr")); n != tot.Requests || rd.Damage != nil {
		t.Errorf("results.lgr holds %d tries (damage %v); report.json counts %d", n, rd.Damage, tot.Requests)
	}

	// loadgate report on the raw results alone.
	var stdout, stderr bytes.Buffer
	Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"report", filepath.Join(run, "results.lgr"), "--format", "json"})
	raw, err := report.ReadJSON(&stdout)
	if err != nil {
		t.Fatalf("report results.lgr: %v\n%s", err, stderr.String())
	}
	if !equalCounts(raw.Totals.StatusCodes, tot.StatusCodes) || !equalCounts(raw.Totals.Errors, tot.Errors) ||
		raw.Totals.Requests != tot.Requests || raw.Totals.LogicalRequests != tot.LogicalRequests {
		t.Errorf("from results.lgr: %d tries, %d logical, status %v, errors %v\nreport.json: %d, %d, %v, %v",
			raw.Totals.Requests, raw.Totals.LogicalRequests, raw.Totals.StatusCodes, raw.Totals.Errors,
			tot.Requests, tot.LogicalRequests, tot.StatusCodes, tot.Errors)
	}

	total := regexp.MustCompile(`Requests\s+\[total, rate, throughput\]\s+(\d+),`)
	vegetaReads := func(what, file string) {
		t.Helper()
		rep, err := exec.Command(vegeta, "report", file).CombinedOutput()
		m := total.FindSubmatch(rep)
		if err != nil || m == nil {
			t.Fatalf("vegeta report %s: %v\n%s", what, err, rep)
		}
		if n, _ := strconv.ParseUint(string(m[1]), 10, 64); n == 0 {
			t.Errorf("vegeta report %s: no requests", what)
		} else if what != "results.gob" && n != tot.Requests {
			t.Errorf("vegeta report %s: %d requests; report.json counts %d", what, n, tot.Requests)
		}
		plot, err := exec.Command(vegeta, "plot", file).CombinedOutput()
		if err != nil || !bytes.Contains(plot, []byte("<html")) {
			t.Errorf("vegeta plot %s: %v\n%.300s", what, err, plot)
		}
	}
	for _, format := range []string{"gob", "csv", "json"} {
		file := filepath.Join(dir, "export."+format)
		stderr.Reset()
		if code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"export", run, "--format", format, "--out", file}); code != 0 {
			t.Fatalf("export %s: exit %d: %s", format, code, stderr.String())
		}
		vegetaReads("export --format "+format, file)
	}

	// A --raw vegeta run's own results.gob.
	_, r2, _ := runScenario(t, scenario, nil, "--raw", "vegeta", "--duration", "500ms")
	gob := filepath.Join(filepath.Dir(r2.Scenario.File), "run", "results.gob")
	if _, err := os.Stat(filepath.Join(filepath.Dir(gob), "results.lgr")); err == nil {
		t.Errorf("--raw vegeta left results.lgr beside results.gob")
	}
	vegetaReads("results.gob", gob)
}

func equalCounts(a, b map[string]uint64) bool {
	for k, v := range a {
		if v != 0 && b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if v != 0 && a[k] != v {
			return false
		}
	}
	return true
}
