package cli

import (
	"math"
	"strings"
	"testing"
)

// TestLatencyFault: a 200 ms latency fault adds 200 ms ± 20 ms at p50.
func TestLatencyFault(t *testing.T) {
	t.Parallel()
	base := `name: latency
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests: [{name: get, path: /v1/customers/100000000000000001}]
stages: [{duration: 2s, rate: 100/s}]
`
	_, clean, _ := runScenario(t, base, nil)
	code, faulty, out := runScenario(t, base+"faults: [{type: latency, latency: 200ms}]\n", nil)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if added := faulty.Latency.P50 - clean.Latency.P50; math.Abs(added-200) > 20 {
		t.Errorf("p50 %.1fms with the fault, %.1fms without: added %.1fms, want 200 ± 20", faulty.Latency.P50, clean.Latency.P50, added)
	}
	if len(faulty.Faults) != 1 || faulty.Faults[0].Description != "latency 200ms" || faulty.Faults[0].Started.IsZero() {
		t.Errorf("faults in the report: %+v", faulty.Faults)
	}
	if !strings.Contains(out, "fault     latency 200ms, the whole run") {
		t.Errorf("summary lacks the fault:\n%s", out)
	}
}

// TestResetFault: resetting 10% of connections yields 10% ± 3% network
// errors over 5000 requests, each on its own connection.
func TestResetFault(t *testing.T) {
	t.Parallel()
	code, r, out := runScenario(t, `name: reset
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
http: {keepalive: false}
requests: [{name: ping, path: /v1/ping}]
stages: [{duration: 5s, rate: 1000/s}]
faults: [{type: reset, toxicity: 10%}]
thresholds: ["network_error_rate < 13%", "network_error_rate > 7%"]
`, nil)
	// 5000 due; a sender that falls behind on a busy machine drops the
	// ticks still due when the stage's time is up (vegeta's pacing).
	if code != ExitPass || r.Totals.Requests < 4900 || r.Totals.Requests > 5000 {
		t.Fatalf("exit %d, %d requests, network errors %v\n%s", code, r.Totals.Requests, r.Totals.NetworkRate, out)
	}
	if r.Totals.Errors["reset"]+r.Totals.Errors["closed"] != r.Totals.ErrorClasses["network"] {
		t.Errorf("errors %v, classes %v", r.Totals.Errors, r.Totals.ErrorClasses)
	}
}

// TestScheduledFault: a fault from 1s to 2s slows only that second.
func TestScheduledFault(t *testing.T) {
	t.Parallel()
	_, r, _ := runScenario(t, `name: window
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests: [{name: ping, path: /v1/ping}]
stages: [{duration: 3s, rate: 100/s}]
faults: [{type: latency, latency: 100ms, from: 1s, to: 2s}]
thresholds: ["p99 > 90ms in any 1s window", "p50 < 50ms"]
`, nil)
	if r.Thresholds[0].Pass || !r.Thresholds[1].Pass {
		t.Errorf("thresholds: %+v", r.Thresholds)
	}
	f := r.Faults[0]
	if f.Ended.IsZero() || f.Ended.Sub(f.Started).Seconds() < 0.9 || f.Ended.Sub(f.Started).Seconds() > 1.2 || f.FromS != 1 || f.ToS != 2 {
		t.Errorf("fault window: %+v", f)
	}
}
