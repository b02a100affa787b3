package cli

import (
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/results"
)

// TestAccuracy runs against a fixed-delay endpoint: p50 lands within 1 ms
// of the delay, and every percentile of the report is within the
// histogram's precision (3 significant digits) of the exact one, computed
// here from the raw results. It runs before the package's parallel tests,
// on a machine no busier than the other packages' tests make it, since
// what it measures is loadgate's timing.
func TestAccuracy(t *testing.T) {
	const delay = 5 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
	}))
	defer srv.Close()
	code, r, out := runScenario(t, `name: accuracy
target: {base_url: "`+srv.URL+`"}
requests: [{name: fixed, path: /}]
stages: [{duration: 2s, rate: 500/s}]
`, nil)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Within 1 ms; the race detector's instrumentation of both HTTP stacks
	// adds about another (make test also runs this test without it).
	tol := 1.0
	if raceEnabled {
		tol = 2
	}
	if math.Abs(r.Latency.P50-float64(delay.Milliseconds())) > tol {
		t.Errorf("p50 %vms, want within %v ms of %v", r.Latency.P50, tol, delay)
	}
	// The exact percentiles, from every latency in the raw results.
	dir := filepath.Dir(r.Scenario.File)
	var lat []time.Duration
	_, rd := countResults(t, filepath.Join(dir, "run", "results.lgr"), func(r *results.Result) { lat = append(lat, r.Latency) })
	if len(lat) != 1000 || rd.Damage != nil {
		t.Fatalf("%d raw results (damage %v)", len(lat), rd.Damage)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	exact := func(q float64) float64 {
		return float64(lat[int(math.Ceil(q/100*float64(len(lat))-1e-9))-1]) / 1e6
	}
	var sum float64
	for _, l := range lat {
		sum += float64(l) / 1e6
	}
	for _, c := range []struct {
		name       string
		got, exact float64
	}{
		{"p50", r.Latency.P50, exact(50)}, {"p90", r.Latency.P90, exact(90)}, {"p95", r.Latency.P95, exact(95)},
		{"p99", r.Latency.P99, exact(99)}, {"p999", r.Latency.P999, exact(99.9)},
		{"max", r.Latency.Max, float64(lat[len(lat)-1]) / 1e6}, {"min", r.Latency.Min, float64(lat[0]) / 1e6},
		{"mean", r.Latency.Mean, sum / float64(len(lat))},
	} {
		// 3 significant digits: within 0.1% (and the 1 µs unit and the
		// report's rounding to 1 µs).
		if tol := c.exact*0.001 + 0.002; math.Abs(c.got-c.exact) > tol {
			t.Errorf("%s: report %vms, exact %vms (tolerance %vms)", c.name, c.got, c.exact, tol)
		}
	}
}
