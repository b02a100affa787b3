package threshold

import (
	"maps"
	"math"
	"strconv"
	"testing"
)

// FuzzParse checks that Parse never panics, that an expression it accepts
// parses again from its Source into the same rule, and that the value it
// holds is a usable, normalised number.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"p95 < 800ms",
		"p99<=2s",
		"max < 1500us",
		"mean > 0.5m",
		"error_rate < 0.5%",
		"success_rate >= 99.5%",
		"rate_4xx{request=list} < 0.3%",
		`rate_5xx{ request = "create" } == 0`,
		"throughput >= 12000/m",
		"requests >= 1e3",
		"error_code{code=400100} < 1%",
		"check_failure_rate{check=customer_id is 18 digits} == 0",
		"p95{request=a,latency=raw} < 1s",
		"error_rate > 1% in any 5m window",
		"3 consecutive intervals of mean > 800ms",
		"  p50 < 2ms  ",
		"p95 < -1ms",
		"p95 < 1e+3",
		"error_rate < 150%",
		"p95{request=a < 1s",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		if m, ok := Lookup(e.Metric.Name); !ok || m.Name != e.Metric.Name || m.Kind != e.Metric.Kind {
			t.Fatalf("%q: metric %+v is not a known metric", src, e.Metric)
		}
		switch e.Op {
		case LT, LE, GT, GE, EQ:
		default:
			t.Fatalf("%q: operator %q", src, e.Op)
		}
		if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) || e.Value < 0 {
			t.Fatalf("%q: value %v is not a non-negative number", src, e.Value)
		}
		if e.Metric.Kind == Ratio && e.Value > 1 {
			t.Fatalf("%q: ratio %v is above 1", src, e.Value)
		}
		for k := range e.Labels {
			allowed := false
			for _, l := range e.Metric.Labels {
				allowed = allowed || l == k
			}
			if !allowed {
				t.Fatalf("%q: label %q is not one of %s's", src, k, e.Metric.Name)
			}
		}
		if e.Windowed() && !Windowable(e.Metric.Name) {
			t.Fatalf("%q: windowed rule over %s, which is not measured per interval", src, e.Metric.Name)
		}

		again, err := Parse(e.Source)
		if err != nil {
			t.Fatalf("%q parsed, but its Source %q does not: %v", src, e.Source, err)
		}
		if again.Metric.Name != e.Metric.Name || again.Op != e.Op || again.Value != e.Value {
			t.Fatalf("%q: Source %q parses to %s %s %v, want %s %s %v",
				src, e.Source, again.Metric.Name, again.Op, again.Value, e.Metric.Name, e.Op, e.Value)
		}
		if !maps.Equal(again.Labels, e.Labels) || again.Window != e.Window || again.Consecutive != e.Consecutive {
			t.Fatalf("%q: Source %q parses to labels %v window %v consecutive %d, want %v %v %d",
				src, e.Source, again.Labels, again.Window, again.Consecutive, e.Labels, e.Window, e.Consecutive)
		}

		// The value, written without a unit, is in the metric's
		// normalised unit and so parses to the same number.
		plain := e.Metric.Name + " " + string(e.Op) + " " + strconv.FormatFloat(e.Value, 'f', -1, 64)
		p, err := Parse(plain)
		if err != nil {
			t.Fatalf("%q: the normalised form %q does not parse: %v", src, plain, err)
		}
		if p.Value != e.Value {
			t.Fatalf("%q: the normalised form %q parses to %v, want %v", src, plain, p.Value, e.Value)
		}
	})
}
