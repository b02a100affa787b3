package cli

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/report"
)

// The network faults of the in-process toxiproxy (internal/faults), each
// measured against a target whose answers the test controls: an
// httptest server on 127.0.0.1 that answers at once, so whatever the
// figures show beyond a millisecond or so is the fault's doing.

// faultTarget answers /ok with a small body, /big with bigBody bytes
// (with a Content-Length) and /eof with a small body delimited by the
// close of the connection (no Content-Length, no chunking), the way an
// HTTP/1.0 server ends a body.
const bigBody = 200_000

func faultTarget(t *testing.T) *httptest.Server {
	t.Helper()
	big := bytes.Repeat([]byte("x"), bigBody)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"code":0}`))
		case "/big":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(big) // one Write of a known size: Content-Length is set
		case "/eof":
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"code\":0}")
			buf.Flush()
			conn.Close()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// faultScenario is a scenario of one GET of path on srv, with extra
// settings (http:, stages:, faults:) appended.
func faultScenario(srv *httptest.Server, path, extra string) string {
	return "name: faults\ntarget: {base_url: \"" + srv.URL + "\"}\nrequests: [{name: get, path: " + path + "}]\n" + extra
}

// mustRun runs a scenario and checks that every request of the schedule
// was sent; it logs how long the run took and its latency.
func mustRun(t *testing.T, body string, want uint64) *report.Report {
	t.Helper()
	began := time.Now()
	_, r, out := runScenario(t, body, nil)
	t.Logf("run of %.2fs: %d requests, latency min %.1fms p50 %.1fms max %.1fms, errors %v",
		time.Since(began).Seconds(), r.Totals.Requests, r.Latency.Min, r.Latency.P50, r.Latency.Max, r.Totals.Errors)
	if r.Totals.Requests != want {
		t.Fatalf("%d requests, want %d\n%s", r.Totals.Requests, want, out)
	}
	return r
}

// TestBandwidthFault: at 500 KB/s a 200 KB body cannot arrive in less
// than 400 ms (200 000 bytes / 500 000 bytes a second), so no request is
// faster; without the fault the same body crosses the loopback in a few
// milliseconds.
func TestBandwidthFault(t *testing.T) {
	t.Parallel()
	srv := faultTarget(t)
	const stages = "http: {keepalive: false}\nstages: [{duration: 500ms, rate: 8/s}]\n"
	const floorMS = bigBody / 500.0 // ms: 500 KB/s is 500 bytes a millisecond
	limited := mustRun(t, faultScenario(srv, "/big", stages+"faults: [{type: bandwidth, rate: 500KB/s}]\n"), 4)
	clean := mustRun(t, faultScenario(srv, "/big", stages), 4)
	for name, r := range map[string]*report.Report{"limited": limited, "clean": clean} {
		if r.Totals.Successes != 4 || r.Totals.BytesIn < 4*bigBody {
			t.Fatalf("%s: %d successes, %d bytes in; want 4 and at least %d", name, r.Totals.Successes, r.Totals.BytesIn, 4*bigBody)
		}
	}
	if limited.Latency.Min < floorMS {
		t.Errorf("with the bandwidth limit the fastest request took %.1fms, below the %.0fms the body needs at 500 KB/s", limited.Latency.Min, floorMS)
	}
	if limited.Latency.Max > 3*floorMS {
		t.Errorf("with the bandwidth limit the slowest request took %.1fms, want under %.0fms", limited.Latency.Max, 3*floorMS)
	}
	if clean.Latency.Max > floorMS/4 {
		t.Errorf("without the fault the slowest request took %.1fms, want far below %.0fms", clean.Latency.Max, floorMS)
	}
	if len(limited.Faults) != 1 || limited.Faults[0].Description != "bandwidth 500 KB/s" {
		t.Errorf("faults in the report: %+v", limited.Faults)
	}
}

// TestTimeoutFault: a timeout fault drops every byte of the answers and
// closes the connection 500 ms after the last one it dropped: every
// request fails as a closed connection (EOF, a network error), no sooner
// than 500 ms after it was sent, and well before the 2 s request timeout.
// Without the fault every request succeeds at once.
//
// Keep-alive stays on: toxiproxy's timeout toxic also closes the
// connection as soon as the target closes its side, so against a target
// that closes after each answer (http.keepalive: false sends Connection:
// close) the stall ends within a millisecond, whatever after says.
func TestTimeoutFault(t *testing.T) {
	t.Parallel()
	srv := faultTarget(t)
	const settings = "http: {timeout: 2s}\nstages: [{duration: 500ms, rate: 8/s}]\n"
	r := mustRun(t, faultScenario(srv, "/ok", settings+"faults: [{type: timeout, after: 500ms}]\n"), 4)
	if r.Totals.Successes != 0 || r.Totals.Errors["closed"] != 4 || r.Totals.NetworkRate != 1 || r.Totals.TimeoutRate != 0 {
		t.Errorf("successes %d, errors %v, network error rate %v, timeout rate %v; want every request closed",
			r.Totals.Successes, r.Totals.Errors, r.Totals.NetworkRate, r.Totals.TimeoutRate)
	}
	if r.Latency.Min < 500 || r.Latency.Max > 1500 {
		t.Errorf("failures after %.1fms to %.1fms, want from 500ms (the toxic's timeout) to 1500ms", r.Latency.Min, r.Latency.Max)
	}
	if len(r.Faults) != 1 || r.Faults[0].Description != "stall, closed after 500ms" {
		t.Errorf("faults in the report: %+v", r.Faults)
	}
	clean := mustRun(t, faultScenario(srv, "/ok", settings), 4)
	if clean.Totals.Successes != 4 || clean.Latency.Max > 100 {
		t.Errorf("without the fault: %d successes, slowest %.1fms", clean.Totals.Successes, clean.Latency.Max)
	}
}

// TestStallFault: a timeout fault without after holds the connections:
// nothing comes back, so every request times out at the scenario's 800 ms
// request timeout (the report's timeout kind), not before. Keep-alive
// stays on, as in TestTimeoutFault: the target must not close first.
func TestStallFault(t *testing.T) {
	t.Parallel()
	srv := faultTarget(t)
	const settings = "http: {timeout: 800ms}\nstages: [{duration: 500ms, rate: 8/s}]\n"
	r := mustRun(t, faultScenario(srv, "/ok", settings+"faults: [{type: timeout}]\n"), 4)
	if r.Totals.Successes != 0 || r.Totals.Errors["timeout"] != 4 || r.Totals.TimeoutRate != 1 || r.Totals.ErrorClasses["network"] != 4 {
		t.Errorf("successes %d, errors %v, classes %v, timeout rate %v; want every request timed out",
			r.Totals.Successes, r.Totals.Errors, r.Totals.ErrorClasses, r.Totals.TimeoutRate)
	}
	if r.Latency.Min < 800 || r.Latency.Max > 1500 {
		t.Errorf("timeouts after %.1fms to %.1fms, want from 800ms (the request timeout) to 1500ms", r.Latency.Min, r.Latency.Max)
	}
	if len(r.Faults) != 1 || r.Faults[0].Description != "stall" {
		t.Errorf("faults in the report: %+v", r.Faults)
	}
}

// TestSlowCloseFault: a body that ends with the connection (no
// Content-Length) is complete only when the close arrives; a slow_close
// fault of 500 ms holds the close back, so every request takes at least
// 500 ms and still succeeds; without it the close follows the body at
// once.
func TestSlowCloseFault(t *testing.T) {
	t.Parallel()
	srv := faultTarget(t)
	const settings = "http: {keepalive: false, timeout: 2s}\nstages: [{duration: 500ms, rate: 8/s}]\n"
	slow := mustRun(t, faultScenario(srv, "/eof", settings+"faults: [{type: slow_close, delay: 500ms}]\n"), 4)
	clean := mustRun(t, faultScenario(srv, "/eof", settings), 4)
	for name, r := range map[string]*report.Report{"slow close": slow, "clean": clean} {
		if r.Totals.Successes != 4 || r.Totals.StatusCodes["200"] != 4 {
			t.Fatalf("%s: %d successes, statuses %v, errors %v; want 4 answered 200", name, r.Totals.Successes, r.Totals.StatusCodes, r.Totals.Errors)
		}
	}
	if slow.Latency.Min < 500 || slow.Latency.Max > 1500 {
		t.Errorf("with the slow close requests took %.1fms to %.1fms, want from 500ms (the delay) to 1500ms", slow.Latency.Min, slow.Latency.Max)
	}
	if clean.Latency.Max > 100 {
		t.Errorf("without the fault the slowest request took %.1fms, want far below 500ms", clean.Latency.Max)
	}
	if len(slow.Faults) != 1 || slow.Faults[0].Description != "close delayed by 500ms" {
		t.Errorf("faults in the report: %+v", slow.Faults)
	}
}

// TestJitterFault: 50 ms of latency with 40 ms of jitter delays answers
// by up to 90 ms, spread uniformly, so p10 to p90 of 100 requests spans
// about 64 ms; 50 ms of latency alone delays every answer by 50 ms, a
// spread of a few milliseconds at most.
func TestJitterFault(t *testing.T) {
	t.Parallel()
	srv := faultTarget(t)
	const stages = "stages: [{duration: 500ms, rate: 200/s}]\n"
	jitter := mustRun(t, faultScenario(srv, "/ok", stages+"faults: [{type: latency, latency: 50ms, jitter: 40ms}]\n"), 100)
	steady := mustRun(t, faultScenario(srv, "/ok", stages+"faults: [{type: latency, latency: 50ms}]\n"), 100)
	for name, r := range map[string]*report.Report{"jitter": jitter, "latency": steady} {
		if r.Totals.Successes != 100 {
			t.Fatalf("%s: %d successes of 100, errors %v", name, r.Totals.Successes, r.Totals.Errors)
		}
	}
	// The report has no p10: both come from the raw results.
	j, s := rawLatencies(t, jitter), rawLatencies(t, steady)
	// No floor for the minimum: toxiproxy counts each chunk's delay from
	// when the chunk reached it, so a chunk queued behind a longer delay
	// can leave at once (1 ms was seen).
	if spread := j.pct(90) - j.pct(10); spread < 30 || j.pct(10) > 35 || j.pct(90) < 65 {
		t.Errorf("latency 50ms ± 40ms: min %.1f, p10 %.1f, p50 %.1f, p90 %.1f, max %.1f: want p90 - p10 of at least 30ms, p10 under 35, p90 over 65",
			j.pct(0), j.pct(10), j.pct(50), j.pct(90), j.pct(100))
	}
	// Under 25 ms: apart from the jitter's 30 ms and more, with room for a
	// loaded machine (16 ms was seen in a make test).
	if spread := s.pct(90) - s.pct(10); spread > 25 || s.pct(0) < 50 {
		t.Errorf("latency 50ms: min %.1f, p10 %.1f, p50 %.1f, p90 %.1f: want at least 50ms and p90 - p10 under 25ms",
			s.pct(0), s.pct(10), s.pct(50), s.pct(90))
	}
	if len(jitter.Faults) != 1 || jitter.Faults[0].Description != "latency 50ms ± 40ms" {
		t.Errorf("faults in the report: %+v", jitter.Faults)
	}
}

// latencies are a run's latencies in milliseconds, sorted.
type latencies []float64

// rawLatencies reads every latency of a run from its raw results.
func rawLatencies(t *testing.T, r *report.Report) latencies {
	t.Helper()
	var l latencies
	countResults(t, filepath.Join(filepath.Dir(r.Scenario.File), "run", "results.lgr"), func(res *results.Result) {
		l = append(l, float64(res.Latency)/1e6)
	})
	if len(l) == 0 {
		t.Fatal("no raw results")
	}
	sort.Float64s(l)
	return l
}

// pct is the nearest-rank percentile q (0 the least, 100 the greatest).
func (l latencies) pct(q float64) float64 {
	i := int(math.Ceil(q/100*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// TestExtremeScenarioFaults: scenarios/extreme.yaml carries the seed's
// harsh network: 200 ms of latency and 10% of connections reset.
func TestExtremeScenarioFaults(t *testing.T) {
	t.Parallel()
	sc, err := scenario.Load(filepath.Join("..", "..", "scenarios", "extreme.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var latency, reset []scenario.Fault
	for _, f := range sc.Faults {
		switch f.Type {
		case "latency":
			latency = append(latency, f)
		case "reset":
			reset = append(reset, f)
		}
	}
	if len(latency) != 1 || latency[0].Latency.D() != 200*time.Millisecond || latency[0].From != 0 || latency[0].To != 0 {
		t.Errorf("latency faults %+v, want one of 200ms for the whole run", latency)
	}
	if len(reset) != 1 || reset[0].Toxicity == nil || float64(*reset[0].Toxicity) != 0.1 || reset[0].From != 0 || reset[0].To != 0 {
		tox := "none"
		if len(reset) == 1 && reset[0].Toxicity != nil {
			tox = fmt.Sprint(float64(*reset[0].Toxicity))
		}
		t.Errorf("reset faults %+v (toxicity %s), want one with toxicity 0.1 for the whole run", reset, tox)
	}
	if len(sc.Faults) != 2 {
		t.Errorf("%d faults, want the latency and the reset: %+v", len(sc.Faults), sc.Faults)
	}
}
