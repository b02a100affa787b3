package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestObservedQueueDepth drives the embedded fixture's service model (2
// workers, 50 ms each: 40/s) at 200/s, so its queue fills to its size,
// 16, and stays there. loadgate scrapes the fixture's /metrics every
// interval; the observed queue depth must be the fixture's own full queue,
// and the thresholds on it fail with that value.
func TestObservedQueueDepth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(sc, []byte(`name: observed
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
fixture: {workers: 2, queue: 16, latency: {fixed: 50ms}}
requests: [{name: ping, path: /v1/ping, expect: {status: [200, 503]}}]
stages: [{duration: 2s, rate: 200/s}]
report: {interval: 250ms}
observe:
  scrape: [{name: crm, url: embedded}]
  series:
    queue_depth: max(crm_queue_depth)
    busy: crm_workers_busy / crm_workers
    nothing: crm_no_such_metric
thresholds:
  - observed{series=queue_depth} < 5
  - observed{series=queue_depth} > 10 in any 1s window
  - observed_mean{series=busy} > 50%
  - observed{series=nothing} < 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), plotsEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out})
	if code != ExitFail {
		t.Fatalf("exit %d, want 1 (thresholds on the queue fail)\n%s\n%s", code, stdout.String(), stderr.String())
	}
	r := readReport(t, out)
	q := r.Observed["queue_depth"]
	if q == nil || q.Max != 16 || len(q.Points) < 4 || q.ScrapeErrors != 0 {
		t.Fatalf("observed queue_depth %+v: want a maximum of 16, the fixture's full queue", q)
	}
	if st := r.Scrapes["crm"]; st.Scrapes < 4 || st.Errors != 0 || !strings.HasSuffix(st.URL, "/metrics") {
		t.Errorf("scrapes %+v", st)
	}
	if b := r.Observed["busy"]; b == nil || b.Max != 1 {
		t.Errorf("observed busy %+v: both workers are busy under overload", b)
	}
	want := map[string]bool{ // threshold -> pass
		"observed{series=queue_depth} < 5":                   false,
		"observed{series=queue_depth} > 10 in any 1s window": false,
		"observed_mean{series=busy} > 50%":                   true,
		"observed{series=nothing} < 1":                       false,
	}
	for _, th := range r.Thresholds {
		if p, ok := want[th.Expr]; !ok || th.Pass != p {
			t.Errorf("threshold %q: pass %v (actual %s, %s), want %v", th.Expr, th.Pass, th.ActualText, th.Detail, p)
		}
		if th.Expr == "observed{series=queue_depth} < 5" && th.Actual != 16 {
			t.Errorf("the queue threshold fails with %v, want 16", th.Actual)
		}
	}
	if n := r.Observed["nothing"]; n == nil || !strings.Contains(n.Warning, "matched nothing") {
		t.Errorf("a series that matched nothing: %+v", n)
	}
	if !strings.Contains(stdout.String(), "observed  queue_depth: min") {
		t.Errorf("the summary has no observed line:\n%s", stdout.String())
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !bytes.Contains(html, []byte("Observed in the target")) || !bytes.Contains(html, []byte("max(crm_queue_depth)")) {
		t.Error("report.html has no observed section")
	}
	if _, err := os.Stat(filepath.Join(out, "plots", "observed.png")); err != nil {
		t.Error(err)
	}
}
