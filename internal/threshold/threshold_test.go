package threshold

import (
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		metric  string
		request string
		op      Op
		value   float64
	}{
		{"p95 < 800ms", "p95", "", LT, 800},
		{"p99<=2s", "p99", "", LE, 2000},
		{"max < 1500us", "max", "", LT, 1.5},
		{"mean > 0.5m", "mean", "", GT, 30000},
		{"stddev < 150", "stddev", "", LT, 150},
		{"error_rate < 0.5%", "error_rate", "", LT, 0.005},
		{"error_rate < 0.005", "error_rate", "", LT, 0.005},
		{"success_rate >= 99.5%", "success_rate", "", GE, 0.995},
		{"rate_4xx{request=list} < 0.3%", "rate_4xx", "list", LT, 0.003},
		{"rate_5xx{ request = \"create\" } == 0", "rate_5xx", "create", EQ, 0},
		{"throughput >= 200/s", "throughput", "", GE, 200},
		{"throughput >= 12000/m", "throughput", "", GE, 200},
		{"rate > 100", "rate", "", GT, 100},
		{"requests >= 1e3", "requests", "", GE, 1000},
		{"  p50 < 2ms  ", "p50", "", LT, 2},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if e.Metric.Name != tc.metric || e.Request() != tc.request || e.Op != tc.op || math.Abs(e.Value-tc.value) > 1e-9 {
				t.Errorf("got %s %q %s %v", e.Metric.Name, e.Request(), e.Op, e.Value)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                              "empty threshold",
		"p59 < 800ms":                   `unknown metric "p59" (did you mean "p50"?)`,
		"latency < 1s":                  `unknown metric "latency"`,
		"p95 800ms":                     "expected an operator",
		"p95 <":                         "expected a value",
		"p95 < fast":                    "is not a number",
		"p95 < 800kg":                   `unit "kg" is not a duration unit`,
		"error_rate < 5/s":              `unit "/s" is not a ratio unit`,
		"error_rate < 150%":             "above 100%",
		"throughput > 5ms":              `unit "ms" is not a rate unit`,
		"requests > 5/s":                "a count takes no unit",
		"p95{request=a < 1s":            "no closing '}'",
		"p95{node=a} < 1s":              `takes no selector "node"`,
		"p95{request} < 1s":             "want key=value",
		"p95{request=a,request=b} < 1s": "given twice",
		"p95 < -5ms":                    "negative",
		"123 < 5":                       "unknown metric",
		"<5":                            "expected a metric name",
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			_, err := Parse(src)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", src, err, want)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src    string
		actual float64
		want   bool
	}{
		{"p95 < 800ms", 799.9, true},
		{"p95 < 800ms", 800, false},
		{"p95 <= 800ms", 800, true},
		{"error_rate < 0.5%", 0.0049, true},
		{"error_rate < 0.5%", 0.005, false},
		{"success_rate >= 99.5%", 0.995, true},
		{"success_rate >= 99.5%", 0.9949, false},
		{"throughput > 200/s", 200.1, true},
		{"requests == 100", 100, true},
		{"requests == 100", 101, false},
		{"p95 < 800ms", math.NaN(), false},
		{"p95 > 1ms", math.NaN(), false},
	}
	for _, tc := range tests {
		e, err := Parse(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Holds(tc.actual); got != tc.want {
			t.Errorf("%q holds for %v = %v, want %v", tc.src, tc.actual, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k    Kind
		v    float64
		want string
	}{
		{Duration, 812.345, "812.35ms"},
		{Duration, 1500, "1.5s"},
		{Duration, 0.25, "250µs"},
		{Ratio, 0.005, "0.5%"},
		{Ratio, 1, "100%"},
		{PerSecond, 200.04, "200/s"},
		{Count, 1000, "1000"},
		{Count, 1.893, "1.893"}, // retry_amplification: not rounded to 2
		{Duration, math.NaN(), "n/a"},
	}
	for _, tc := range tests {
		if got := FormatValue(tc.k, tc.v); got != tc.want {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", tc.k, tc.v, got, tc.want)
		}
	}
}
