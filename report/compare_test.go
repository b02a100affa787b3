package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/threshold"
)

// synthRun is a run drawn from a known distribution: intervals of one
// second, perSec requests each, latency lognormal around medianMS, each
// request failing with probability errP.
type synthRun struct {
	seed      uint64
	intervals int
	perSec    int
	medianMS  float64
	sigma     float64
	errP      float64
}

func pct(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func latencyOf(xs []float64) Latency {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Latency{Min: s[0], Mean: sum / float64(len(s)), P50: pct(s, 50), P90: pct(s, 90), P95: pct(s, 95),
		P99: pct(s, 99), Max: s[len(s)-1]}
}

// build returns the run's report and time series, for one request "list".
func (sr synthRun) build(t *testing.T) CompareInput {
	t.Helper()
	rng := rand.New(rand.NewPCG(sr.seed, 7))
	var all []float64
	var fails uint64
	series := &Series{ByRequest: map[string][]*IntervalRecord{}}
	for i := 0; i < sr.intervals; i++ {
		xs := make([]float64, sr.perSec)
		var f uint64
		for j := range xs {
			xs[j] = sr.medianMS * math.Exp(sr.sigma*rng.NormFloat64())
			if rng.Float64() < sr.errP {
				f++
			}
		}
		l := latencyOf(xs)
		rec := IntervalRecord{Start: int64(i) * 1000, LengthMS: 1000, Request: "list", Requests: uint64(sr.perSec),
			Logical: uint64(sr.perSec), Successes: uint64(sr.perSec) - f, MeanMS: l.Mean, MaxMS: l.Max,
			P50MS: l.P50, P90MS: l.P90, P95MS: l.P95, P99MS: l.P99}
		all2 := rec
		all2.Request = AllRequests
		series.ByRequest["list"] = append(series.ByRequest["list"], &rec)
		series.ByRequest[AllRequests] = append(series.ByRequest[AllRequests], &all2)
		all = append(all, xs...)
		fails += f
	}
	n := uint64(len(all))
	tot := Totals{Requests: n, LogicalRequests: n, Successes: n - fails, Failures: fails,
		ErrorRate: float64(fails) / float64(n), ThroughputRPS: float64(n-fails) / float64(sr.intervals)}
	lat := latencyOf(all)
	r := &Report{Totals: tot, Latency: lat, Requests: map[string]RequestSummary{"list": {Totals: tot, Latency: lat}}}
	return CompareInput{Name: "synthetic", Report: r, Series: series}
}

func changeOf(t *testing.T, c *Comparison, request, metric string) Change {
	t.Helper()
	for _, ch := range c.Changes {
		if ch.Request == request && ch.Metric == metric {
			return ch
		}
	}
	t.Fatalf("no change for %s %s in %+v", request, metric, c.Changes)
	return Change{}
}

// Two runs drawn from the same distribution must never be called a
// regression, even when the noise moves a whole-run figure beyond its
// tolerance.
func TestComparePureNoisePasses(t *testing.T) {
	// A heavy tail and few requests: whole-run percentiles swing by more
	// than 10% from run to run.
	base := synthRun{intervals: 30, perSec: 40, medianMS: 100, sigma: 0.8, errP: 0.01}
	tols := []Tolerance{{Metric: "p95", Relative: 0.10}, {Metric: "p99", Relative: 0.10},
		{Metric: "error_rate", Absolute: 0.001}, {Metric: "throughput", Relative: 0.01}}
	var beyond, failed int
	const pairs = 200
	for seed := uint64(1); seed <= pairs; seed++ {
		b, c := base, base
		b.seed, c.seed = 2*seed, 2*seed+1
		cmp := Compare(b.build(t), c.build(t), tols, 0.05)
		for _, ch := range cmp.Changes {
			if ch.Verdict == CmpNotSignficant || ch.Verdict == CmpRegression {
				beyond++
			}
		}
		if cmp.Verdict == Fail {
			failed++
		}
	}
	if beyond < 50 {
		t.Fatalf("only %d changes went beyond tolerance by noise; the case does not test the statistics", beyond)
	}
	// With Holm's adjustment a pure-noise comparison fails with
	// probability at most alpha (5%, so about 10 of 200; 20 is far out in
	// the binomial tail).
	if failed > 20 {
		t.Fatalf("pure noise: %d of %d comparisons failed (%d changes beyond tolerance)", failed, pairs, beyond)
	}
	t.Logf("pure noise over %d pairs: %d changes beyond tolerance, %d comparisons failed", pairs, beyond, failed)

	// One fixed pair, checked change by change: the p95 moved by more than
	// 10% and the verdict is still a pass.
	b, c := base, base
	for seed := uint64(1); ; seed++ {
		b.seed, c.seed = 1000+2*seed, 1001+2*seed
		bi, ci := b.build(t), c.build(t)
		if ci.Report.Latency.P95 > 1.1*bi.Report.Latency.P95 {
			cmp := Compare(bi, ci, tols, 0.05)
			ch := changeOf(t, cmp, AllRequests, "p95")
			if ch.Verdict != CmpNotSignficant || ch.PValue < 0.05 {
				t.Fatalf("p95 %+.1f%% by noise alone: verdict %q, p = %.3f", ch.Relative*100, ch.Verdict, ch.PValue)
			}
			if cmp.Verdict != Pass {
				t.Fatalf("pure noise failed the comparison: %+v", cmp.Changes)
			}
			break
		}
		if seed > 1000 {
			t.Fatal("no seed moved p95 by 10%")
		}
	}
}

func TestCompareFindsRegression(t *testing.T) {
	base := synthRun{seed: 1, intervals: 30, perSec: 100, medianMS: 100, sigma: 0.3}
	slow := base
	slow.seed, slow.medianMS = 2, 130 // 30% slower everywhere
	cmp := Compare(base.build(t), slow.build(t), DefaultTolerances, 0.05)
	if cmp.Verdict != Fail {
		t.Fatalf("30%% slower passed: %+v", cmp.Changes)
	}
	for _, req := range []string{AllRequests, "list"} {
		ch := changeOf(t, cmp, req, "p95")
		if ch.Verdict != CmpRegression || ch.PValue >= 0.001 || math.Abs(ch.Relative-0.30) > 0.08 {
			t.Errorf("%s p95: %+v, want a regression near +30%% with p < 0.001", req, ch)
		}
	}
	// The other way round it is an improvement, and passes.
	cmp = Compare(slow.build(t), base.build(t), DefaultTolerances, 0.05)
	if cmp.Verdict != Pass || changeOf(t, cmp, AllRequests, "p95").Verdict != CmpImproved {
		t.Fatalf("30%% faster: %+v", cmp.Changes)
	}
}

func TestCompareErrorRate(t *testing.T) {
	base := synthRun{seed: 1, intervals: 20, perSec: 500, medianMS: 50, sigma: 0.2, errP: 0.01}
	tol := []Tolerance{{Metric: "error_rate", Absolute: 0.001}}
	worse := base
	worse.seed, worse.errP = 2, 0.02
	ch := changeOf(t, Compare(base.build(t), worse.build(t), tol, 0.05), AllRequests, "error_rate")
	if ch.Verdict != CmpRegression || ch.Test != "two-proportion z-test" || ch.PValue > 1e-6 {
		t.Fatalf("1%% -> 2%% errors over 10000 requests: %+v", ch)
	}
	// 1% against 1% (different draws): within 0.1pp or not significant.
	same := base
	same.seed = 3
	ch = changeOf(t, Compare(base.build(t), same.build(t), tol, 0.05), AllRequests, "error_rate")
	if ch.Verdict == CmpRegression {
		t.Fatalf("equal error rates called a regression: %+v", ch)
	}
}

func TestCompareThroughputDrop(t *testing.T) {
	base := synthRun{seed: 1, intervals: 20, perSec: 200, medianMS: 50, sigma: 0.2}
	drop := base
	drop.seed, drop.perSec = 2, 150
	ch := changeOf(t, Compare(base.build(t), drop.build(t), DefaultTolerances, 0.05), AllRequests, "throughput")
	if ch.Verdict != CmpRegression || math.Abs(ch.Relative+0.25) > 1e-9 {
		t.Fatalf("throughput 200/s -> 150/s: %+v", ch)
	}
}

// Without a time series there is no test: the change alone decides.
func TestCompareWithoutSeries(t *testing.T) {
	base := synthRun{seed: 1, intervals: 10, perSec: 100, medianMS: 100, sigma: 0.3}.build(t)
	cur := synthRun{seed: 1, intervals: 10, perSec: 100, medianMS: 120, sigma: 0.3}.build(t)
	base.Series, cur.Series = nil, nil
	ch := changeOf(t, Compare(base, cur, []Tolerance{{Metric: "p95", Relative: 0.10}}, 0.05), AllRequests, "p95")
	if ch.Verdict != CmpRegression || ch.PValue != -1 || !strings.HasPrefix(ch.Test, "none") {
		t.Fatalf("+20%% without samples: %+v", ch)
	}
	ch = changeOf(t, Compare(base, cur, []Tolerance{{Metric: "p95", Absolute: 40}}, 0.05), AllRequests, "p95")
	if ch.Verdict != CmpOK {
		t.Fatalf("+20%% (33 ms) against a 40 ms tolerance: %+v", ch)
	}
}

// The p-value matches the textbook normal approximation: U = 25 for two
// fully separated samples of five, z = (25 - 12.5 - 0.5) / sqrt(25*11/12).
func TestMannWhitneyKnownValue(t *testing.T) {
	p := mannWhitneyGreater([]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5})
	want := 1 - normalCDF(12/math.Sqrt(25.0*11/12))
	if math.Abs(p-want) > 1e-12 || math.Abs(p-0.00609) > 0.0001 {
		t.Fatalf("p = %.6f, want %.6f (0.00609)", p, want)
	}
	if p := mannWhitneyGreater([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}); p < 0.99 {
		t.Fatalf("reversed: p = %.4f, want near 1", p)
	}
	if p := mannWhitneyGreater([]float64{3, 3, 3, 3, 3}, []float64{3, 3, 3, 3, 3}); p != 1 {
		t.Fatalf("all tied: p = %v, want 1", p)
	}
}

func TestParseTolerances(t *testing.T) {
	got, err := ParseTolerances("p95=10%, error_rate=0.1pp,throughput=-5%,p99=50ms")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tolerance{{Metric: "p95", Relative: 0.10}, {Metric: "error_rate", Absolute: 0.001},
		{Metric: "throughput", Relative: 0.05}, {Metric: "p99", Absolute: 50}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Metric != want[i].Metric || math.Abs(got[i].Relative-want[i].Relative) > 1e-12 || math.Abs(got[i].Absolute-want[i].Absolute) > 1e-12 {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"p95", "p95=", "latency=10%", "p95=ten%", "error_rate=xpp", "", "p95=-"} {
		if _, err := ParseTolerances(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCompareOutputs(t *testing.T) {
	base := synthRun{seed: 1, intervals: 30, perSec: 100, medianMS: 100, sigma: 0.3}
	slow := base
	slow.seed, slow.medianMS = 2, 150
	cmp := Compare(base.build(t), slow.build(t), DefaultTolerances, 0.05)
	var text, md, js, ju bytes.Buffer
	for _, w := range []struct {
		buf *bytes.Buffer
		fn  func(*bytes.Buffer) error
	}{
		{&text, func(b *bytes.Buffer) error { return cmp.WriteText(b) }},
		{&md, func(b *bytes.Buffer) error { return cmp.WriteMarkdown(b) }},
		{&js, func(b *bytes.Buffer) error { return cmp.WriteJSON(b) }},
		{&ju, func(b *bytes.Buffer) error { return cmp.WriteJUnit(b) }},
	} {
		if err := w.fn(w.buf); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(text.String(), "REGRESSION") || !strings.Contains(text.String(), "verdict   FAIL") {
		t.Errorf("text:\n%s", text.String())
	}
	if !strings.Contains(md.String(), "**regression**") || !strings.Contains(md.String(), "| list | p95 |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if !strings.Contains(js.String(), `"verdict": "fail"`) {
		t.Errorf("json:\n%s", js.String())
	}
	var suites junitSuites
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	// p95 and p99 regress for all and for list; error rate and throughput do not.
	if suites.Tests != 8 || suites.Failures != 4 {
		t.Errorf("junit: %d tests, %d failures; want 8 and 4\n%s", suites.Tests, suites.Failures, ju.String())
	}
}

// The target's observed series are set side by side, without a verdict.
func TestCompareObservedSeries(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	obs := func(vs ...float64) map[string]*Observed {
		var pts []ObservedPoint
		for i, v := range vs {
			pts = append(pts, ObservedPoint{T: start.Add(time.Duration(i) * time.Second), V: v})
		}
		return map[string]*Observed{"pool": NewObserved("q", "ratio", pts, start, 0, "")}
	}
	base, cur := passingReport("a"), passingReport("b")
	base.Observed, cur.Observed = obs(0.2, 0.4), obs(0.5, 0.9)
	c := Compare(CompareInput{Name: "a", Report: base}, CompareInput{Name: "b", Report: cur}, []Tolerance{{Metric: "p95", Relative: 0.5}}, 0.05)
	var got []string
	for _, ch := range c.Changes {
		if strings.HasPrefix(ch.Metric, "observed") {
			got = append(got, fmt.Sprintf("%s %g->%g %s", ch.Metric, ch.Baseline, ch.Current, ch.Verdict))
		}
	}
	want := "observed{series=pool} 0.4->0.9 info, observed_mean{series=pool} 0.30000000000000004->0.7 info"
	if strings.Join(got, ", ") != want || c.Verdict != Pass {
		t.Errorf("observed rows %q (verdict %s), want %q", got, c.Verdict, want)
	}
	var b strings.Builder
	if err := c.WriteText(&b); err != nil || !strings.Contains(b.String(), "observed{series=pool}") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}

// Windowed rules on an observed series: the window's figure against the
// condition, and the actual value nearest it.
func TestObservedWindowedRules(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	var pts []ObservedPoint
	for i, v := range []float64{1, 2, 9, 8, 2, 1} { // one point a second
		pts = append(pts, ObservedPoint{T: start.Add(time.Duration(i) * time.Second), V: v})
	}
	r := passingReport("w")
	r.Observed = map[string]*Observed{"q": NewObserved("q", "", pts, start, 0, "")}
	for _, c := range []struct {
		rule   string
		pass   bool
		actual float64
	}{
		{"observed{series=q} > 8 in any 2s window", false, 9},        // max of [9 8]
		{"observed_mean{series=q} > 8 in any 2s window", false, 8.5}, // mean of [9 8]
		{"observed{series=q} > 9 in any 10s window", true, 9},        // shorter than the window: one window
		{"observed_mean{series=q} < 1.2 in any 2s window", true, 1.5},
		{"2 consecutive intervals of observed{series=q} >= 8", false, 2},
		{"3 consecutive intervals of observed{series=q} >= 8", true, 2},
	} {
		e, err := threshold.Parse(c.rule)
		if err != nil {
			t.Fatal(err)
		}
		got := Evaluate(r, []threshold.Expr{e}, nil)[0]
		if got.Pass != c.pass || got.Actual != c.actual {
			t.Errorf("%s: pass %v actual %v, want %v %v (%s)", c.rule, got.Pass, got.Actual, c.pass, c.actual, got.Detail)
		}
	}
}
