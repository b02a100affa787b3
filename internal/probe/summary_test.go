package probe

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/threshold"
)

// Twenty successful tries whose phases each take 1..20 ms, in a different
// order per phase, plus a per-phase offset of a tenth of a millisecond so a
// figure read from the wrong phase shows. Nearest rank over 20 values: p50
// is the 10th smallest (ceil(0.50×20) = 10), p95 the 19th (ceil(0.95×20) =
// 19).
func TestSummarizePhasesNearestRank(t *testing.T) {
	offsets := map[string]time.Duration{"dns": 0, "connect": 100 * time.Microsecond, "tls": 200 * time.Microsecond, "ttfb": 300 * time.Microsecond, "total": 400 * time.Microsecond}
	// Multipliers prime to 20 make (i*m)%20 a permutation of 0..19.
	step := map[string]int{"dns": 7, "connect": 3, "tls": 11, "ttfb": 13, "total": 17}
	at := func(phase string, i int) time.Duration {
		return time.Duration((i*step[phase])%20+1)*time.Millisecond + offsets[phase]
	}
	var tries []Try
	for i := range 20 {
		tries = append(tries, Try{
			N: i + 1, Status: 200,
			DNS: at("dns", i), Connect: at("connect", i), TLS: at("tls", i), TTFB: at("ttfb", i), Total: at("total", i),
		})
	}
	// A try that timed out before any phase: its total is not a success's
	// and its phases did not happen, so no phase counts it.
	tries = append(tries, Try{N: 21, Total: 900 * time.Millisecond, Failure: FailTimeout, Error: "timeout during connect"})

	s := Summarize("http://example.test/", tries)
	want := map[string]Phase{
		"dns":     {N: 20, Min: 1, P50: 10, P95: 19, Max: 20},
		"connect": {N: 20, Min: 1.1, P50: 10.1, P95: 19.1, Max: 20.1},
		"tls":     {N: 20, Min: 1.2, P50: 10.2, P95: 19.2, Max: 20.2},
		"ttfb":    {N: 20, Min: 1.3, P50: 10.3, P95: 19.3, Max: 20.3},
		"total":   {N: 20, Min: 1.4, P50: 10.4, P95: 19.4, Max: 20.4},
	}
	if len(s.Phases) != len(want) {
		t.Errorf("phases %v, want %d phases", s.Phases, len(want))
	}
	for name, w := range want {
		if got := s.Phases[name]; got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
		for stat, v := range map[string]float64{"min": w.Min, "p50": w.P50, "p95": w.P95, "max": w.Max} {
			if got, ok := s.Metric(name + "_" + stat); !ok || got != v {
				t.Errorf("Metric(%s_%s) = %v, %v; want %v", name, stat, got, ok, v)
			}
		}
	}
	if s.Tries != 21 || s.Successes != 20 || s.Status[200] != 20 || s.Errors["timeout during connect"] != 1 {
		t.Errorf("tries %d, successes %d, status %v, errors %v; want 21, 20, 200×20, 1 timeout", s.Tries, s.Successes, s.Status, s.Errors)
	}

	// Small sets, where nearest rank and interpolation part ways: over
	// 1, 2, 3, 4 ms p50 is 2 (not 2.5) and p95 is 4 (not 3.85); one value
	// is every percentile.
	four := []Try{{DNS: 4 * time.Millisecond, Total: time.Millisecond}, {DNS: 2 * time.Millisecond, Total: time.Millisecond}, {DNS: 1 * time.Millisecond, Total: time.Millisecond}, {DNS: 3 * time.Millisecond, Total: time.Millisecond}}
	if got, w := Summarize("", four).Phases["dns"], (Phase{N: 4, Min: 1, P50: 2, P95: 4, Max: 4}); got != w {
		t.Errorf("dns over 1..4 ms: %+v, want %+v", got, w)
	}
	if got, w := Summarize("", four[:1]).Phases["dns"], (Phase{N: 1, Min: 4, P50: 4, P95: 4, Max: 4}); got != w {
		t.Errorf("dns over one try: %+v, want %+v", got, w)
	}
	// A phase that never happened is absent: its metrics are NaN.
	if v, ok := Summarize("", four).Metric("tls_p95"); !ok || !math.IsNaN(v) {
		t.Errorf("tls_p95 with no TLS = %v, %v; want NaN, true", v, ok)
	}
}

// triesWith makes n tries of which the given number failed each way.
func triesWith(n int, failures map[string]int) []Try {
	var out []Try
	for kind, k := range failures {
		for range k {
			out = append(out, Try{Failure: kind, Error: kind + " failure", Total: time.Millisecond})
		}
	}
	for len(out) < n {
		out = append(out, Try{Status: 200, Connect: time.Millisecond, Total: 2 * time.Millisecond})
	}
	return out
}

// The seed: "timeout rate should be ≤0.1%". One timeout in 1000 tries is
// 0.1% and passes `timeout_rate <= 0.1%`; two are 0.2% and fail it.
func TestSummarizeRatesAndThreshold(t *testing.T) {
	e, err := threshold.Parse("timeout_rate <= 0.1%")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Metric.InProbe() {
		t.Fatalf("timeout_rate is not a probe metric: %+v", e.Metric)
	}
	strict, err := threshold.Parse("timeout_rate < 0.1%")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                           string
		failures                       map[string]int
		timeout, errRate, success, dns float64
		pass, strictPass               bool
	}{
		{"no failures", nil, 0, 0, 1, 0, true, true},
		{"1 timeout in 1000", map[string]int{FailTimeout: 1}, 0.001, 0.001, 0.999, 0, true, false},
		{"2 timeouts in 1000", map[string]int{FailTimeout: 2}, 0.002, 0.002, 0.998, 0, false, false},
		// Failures of other kinds are not timeouts.
		{"1 timeout and 3 DNS errors in 1000", map[string]int{FailTimeout: 1, FailDNS: 3}, 0.001, 0.004, 0.996, 0.003, true, false},
	}
	for _, tc := range tests {
		s := Summarize("http://example.test/", triesWith(1000, tc.failures))
		if s.Tries != 1000 {
			t.Fatalf("%s: %d tries", tc.name, s.Tries)
		}
		if s.TimeoutRate != tc.timeout || s.ErrorRate != tc.errRate || s.SuccessRate != tc.success || s.DNSErrorRate != tc.dns {
			t.Errorf("%s: timeout_rate %v, error_rate %v, success_rate %v, dns_error_rate %v; want %v, %v, %v, %v",
				tc.name, s.TimeoutRate, s.ErrorRate, s.SuccessRate, s.DNSErrorRate, tc.timeout, tc.errRate, tc.success, tc.dns)
		}
		if s.ConnectErrorRate != 0 || s.TLSErrorRate != 0 {
			t.Errorf("%s: connect_error_rate %v, tls_error_rate %v; want 0", tc.name, s.ConnectErrorRate, s.TLSErrorRate)
		}
		// Evaluated as `loadgate probe --threshold` does (internal/cli
		// evalProbe): the summary's metric against the parsed expression.
		v, ok := s.Metric(e.Metric.Name)
		if !ok || v != tc.timeout {
			t.Errorf("%s: Metric(%s) = %v, %v; want %v", tc.name, e.Metric.Name, v, ok, tc.timeout)
		}
		if got := e.Holds(v); got != tc.pass {
			t.Errorf("%s: %q holds = %v at %v, want %v", tc.name, e.Source, got, v, tc.pass)
		}
		if got := strict.Holds(v); got != tc.strictPass {
			t.Errorf("%s: %q holds = %v at %v, want %v", tc.name, strict.Source, got, v, tc.strictPass)
		}
	}
}

// Each try records the address it connected to: the test server's.
func TestProbeRemoteAddr(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	want := srv.Listener.Addr().String()
	if host, _, _ := net.SplitHostPort(want); host != "127.0.0.1" {
		t.Fatalf("test server on %s, want 127.0.0.1", want)
	}
	tries := Run(context.Background(), Options{URL: srv.URL, Count: 3, Interval: time.Millisecond, Timeout: 5 * time.Second})
	if len(tries) != 3 {
		t.Fatalf("%d tries, want 3", len(tries))
	}
	for _, tr := range tries {
		if tr.Failure != "" || tr.Status != 200 {
			t.Fatalf("try %d: failure %q %q, status %d", tr.N, tr.Failure, tr.Error, tr.Status)
		}
		if tr.Remote != want {
			t.Errorf("try %d: remote %q, want the server's %q", tr.N, tr.Remote, want)
		}
	}

	// A connection refused leaves no remote address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	for _, tr := range Run(context.Background(), Options{URL: closed, Count: 1, Timeout: 5 * time.Second}) {
		if tr.Failure != FailConnect || tr.Remote != "" {
			t.Errorf("closed port: failure %q, remote %q; want connect and no remote", tr.Failure, tr.Remote)
		}
	}
}
