package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPhaseTimingsInRun runs against a TLS server that counts the
// connections it accepts and answers each request after 20 ms: the
// report's new and reused connections match the server's count, every
// new connection has a connect and a TLS timing, time to first byte is at
// least the server's delay, and thresholds read the phases.
func TestPhaseTimingsInRun(t *testing.T) {
	t.Parallel()
	const delay = 20 * time.Millisecond
	for _, keepalive := range []bool{true, false} {
		t.Run(fmt.Sprint("keepalive=", keepalive), func(t *testing.T) {
			t.Parallel()
			var accepted atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(delay)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					accepted.Add(1)
				}
			}
			srv.StartTLS()
			defer srv.Close()
			// With keep-alive, by name: localhost, which resolves to
			// loopback, so that the DNS phase is measured too.
			url := srv.URL
			if keepalive {
				url = strings.Replace(url, "127.0.0.1", "localhost", 1)
			}
			code, r, out := runScenarioEnv(t, plotsEnv, fmt.Sprintf(`name: phases
target: {base_url: "%s"}
http: {insecure_tls: true, keepalive: %v}
requests: [{name: a, path: /a}]
stages: [{duration: 1s, concurrency: 4}]
thresholds:
  - ttfb_p50 >= 20ms
  - tls_max < 10s
  - connect_p95{request=a} < 10s
`, url, keepalive), nil)
			if code != ExitPass || len(r.Thresholds) != 3 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			n := r.Totals.Requests
			ph := r.Phases
			// More requests than workers, so that some reuse a connection
			// (a loaded machine may send few).
			if n <= 4 || ph == nil {
				t.Fatalf("%d requests, phases %+v", n, ph)
			}
			newConns := uint64(4)
			if !keepalive {
				newConns = n
			}
			if got := uint64(accepted.Load()); got != newConns {
				t.Errorf("the server accepted %d connections, want %d", got, newConns)
			}
			if ph.NewConnections != newConns || ph.ReusedConnection != n-newConns ||
				ph.ReuseRate != float64(n-newConns)/float64(n) {
				t.Errorf("%d requests: %d new connections, %d reused, reuse rate %v; want %d new",
					n, ph.NewConnections, ph.ReusedConnection, ph.ReuseRate, newConns)
			}
			if ph.Connect == nil || ph.TLS == nil || ph.TTFB == nil || ph.Connect.Max <= 0 || ph.TLS.Min <= 0 ||
				ph.TTFB.Min < float64(delay.Milliseconds()) {
				t.Errorf("phases: connect %+v tls %+v ttfb %+v", ph.Connect, ph.TLS, ph.TTFB)
			}
			if keepalive && (ph.DNS == nil || ph.DNS.Max <= 0) {
				t.Errorf("by name, no DNS timings: %+v", ph.DNS)
			}
			// The HTML report has the phases table, and the phases plot
			// its bars.
			run := filepath.Join(filepath.Dir(r.Scenario.File), "run")
			if html := readFile(t, filepath.Join(run, "report.html")); !strings.Contains(html, "Connection phases") {
				t.Error("report.html has no phases table")
			}
			if svg := readFile(t, filepath.Join(run, "plots", "phases.svg")); strings.Contains(svg, "not traced") || !strings.Contains(svg, "ttfb") {
				t.Error("plots/phases.svg does not draw the phases")
			}
			if pa := r.Requests["a"].Phases; pa == nil || pa.NewConnections != ph.NewConnections || pa.TTFB.P50 != ph.TTFB.P50 {
				t.Errorf("request a's phases %+v, the run's %+v", pa, ph)
			}
		})
	}
}
