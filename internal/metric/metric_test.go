package metric

import (
	"flag"
	"math"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the metrics table in scenarios/README.md")

const readme = "../../scenarios/README.md"

// TestReadmeTable fails when the metrics table of scenarios/README.md is not
// the registry's; -update rewrites it.
func TestReadmeTable(t *testing.T) {
	raw, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin := strings.Index(doc, "<!-- metrics:begin")
	end := strings.Index(doc, "<!-- metrics:end -->")
	if begin < 0 || end < begin {
		t.Fatalf("%s: no <!-- metrics:begin --> ... <!-- metrics:end --> markers", readme)
	}
	begin += strings.Index(doc[begin:], "\n") + 1
	if doc[begin:end] == Table() {
		return
	}
	if *update {
		if err := os.WriteFile(readme, []byte(doc[:begin]+Table()+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the metrics table differs from the registry; run go test ./internal/metric -update\nwant:\n%s", readme, Table())
}

func TestEveryMetricIsWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range All() {
		switch {
		case seen[d.Name]:
			t.Errorf("%s: defined twice", d.Name)
		case d.Read == nil || d.Help == "" || d.Kind == 0 || d.Better == 0 || d.Scopes == 0:
			t.Errorf("%s: incomplete: %+v", d.Name, d)
		case d.Kind == Ratio && d.Parts == nil:
			t.Errorf("%s: a share without its parts", d.Name)
		case d.InRun() && d.Kind != Gauge && (len(d.Labels) == 0 || d.Labels[0] != "request"):
			t.Errorf("%s: a run metric takes {request=NAME}", d.Name)
		}
		seen[d.Name] = true
	}
	if _, ok := Lookup("p95"); !ok {
		t.Error("p95 not found")
	}
}

// TestValues reads every kind of metric from figures whose answers are known.
func TestValues(t *testing.T) {
	f := New()
	f.Tries, f.Logical, f.Successes = 110, 100, 95
	f.Status4xx, f.Status5xx = 11, 22
	f.Network, f.Protocol, f.Business, f.System, f.Timeouts = 1, 2, 1, 1, 1
	f.Seconds = 10
	f.Latency = Stats{P95: 120, Max: 300}
	f.Raw = Stats{P95: 80, Max: 200}
	f.ErrorCodes = map[string]float64{"400100": 4}
	f.Checked = 96
	f.Checks = map[string][2]float64{"id": {50, 5}}
	f.NewConns, f.ReusedConns = 10, 90
	f.Phases = map[string]Stats{"tls": {P95: 7}}
	f.Observed = map[string]ObservedStats{"pool": {Min: 0.1, Mean: 0.5, Max: 0.9, Last: 0.2}}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"p95", nil, 120}, {"p95", map[string]string{"latency": "raw"}, 80}, {"max", nil, 300},
		{"error_rate", nil, 0.05}, {"success_rate", nil, 0.95}, {"rate_4xx", nil, 0.1}, {"rate_5xx", nil, 0.2},
		{"network_error_rate", nil, 0.01}, {"protocol_error_rate", nil, 0.02}, {"timeout_rate", nil, 0.01},
		{"error_code", map[string]string{"code": "400100"}, 0.04}, {"error_code", map[string]string{"code": "1"}, 0},
		{"check_failure_rate", nil, 1.0 / 96}, {"check_failure_rate", map[string]string{"check": "id"}, 0.1},
		{"throughput", nil, 9.5}, {"rate", nil, 11}, {"requests", nil, 110}, {"retry_amplification", nil, 1.1},
		{"tls_p95", nil, 7}, {"observed", map[string]string{"series": "pool"}, 0.9},
		{"observed_mean", map[string]string{"series": "pool"}, 0.5}, {"observed_last", map[string]string{"series": "pool"}, 0.2}, {"new_connection_rate", nil, 0.1}, {"connection_reuse_rate", nil, 0.9},
	} {
		if got := Value(c.name, f, c.labels); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := Value("dns_p95", f, nil); !math.IsNaN(v) {
		t.Errorf("dns_p95 without a dns phase = %v, want NaN", v)
	}
	if v := Value("observed", f, map[string]string{"series": "none"}); !math.IsNaN(v) {
		t.Errorf("a series that matched nothing = %v, want NaN (its thresholds fail)", v)
	}
	if v := Value("nonsense", f, nil); !math.IsNaN(v) {
		t.Errorf("an unknown metric = %v, want NaN", v)
	}
	empty := New()
	empty.Logical = 0
	if v := Value("p95", empty, nil); !math.IsNaN(v) {
		t.Errorf("p95 of nothing = %v, want NaN", v)
	}
}
