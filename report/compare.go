package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/metric"
)

// Tolerance is how far one metric may move the bad way before a
// comparison calls it a regression.
type Tolerance struct {
	Metric string
	// Relative is a fraction of the baseline (0.10 for 10%); Absolute a
	// difference in the metric's own unit (0.001 for 0.1 percentage point
	// of a rate). One of them is set.
	Relative, Absolute float64
}

// DefaultTolerances are used when none are given.
var DefaultTolerances = []Tolerance{
	{Metric: "p95", Relative: 0.10}, {Metric: "p99", Relative: 0.20},
	{Metric: "error_rate", Absolute: 0.001}, {Metric: "throughput", Relative: 0.05},
}

// ParseTolerances reads "p95=10%,error_rate=0.1pp,throughput=-5%".
func ParseTolerances(s string) ([]Tolerance, error) {
	var out []Tolerance
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: want metric=tolerance, such as p95=10%%", part)
		}
		if _, known := comparable(k); !known {
			return nil, fmt.Errorf("%q: metric %q cannot be compared (%s)", part, k, strings.Join(comparableNames(), ", "))
		}
		v = strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+")
		t := Tolerance{Metric: k}
		switch {
		case strings.HasSuffix(v, "pp"):
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "pp"), 64)
			if err != nil || f < 0 {
				return nil, fmt.Errorf("%q: %q is not a number of percentage points", part, v)
			}
			t.Absolute = f / 100
		case strings.HasSuffix(v, "%"):
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if err != nil || f < 0 {
				return nil, fmt.Errorf("%q: %q is not a percentage", part, v)
			}
			t.Relative = f / 100
		default:
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
			if err != nil || f < 0 {
				return nil, fmt.Errorf("%q: %q is not a tolerance (10%%, 0.1pp, or 50ms)", part, v)
			}
			t.Absolute = f
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no tolerances in %q", s)
	}
	return out, nil
}

// comparable reports whether a metric can be compared, and whether lower
// is better: a metric of runs and of their intervals (its change is tested
// on them) with a better way.
func comparable(name string) (lower, ok bool) {
	d, known := metric.Lookup(name)
	if !known || !d.InRun() || !d.InWindow() || d.Better == metric.Either {
		return false, false
	}
	return d.Better == metric.Lower, true
}

// Comparison verdicts.
const (
	CmpOK            = "ok"
	CmpImproved      = "improved"
	CmpRegression    = "regression"
	CmpNotSignficant = "no significant change"
	CmpMissing       = "missing"
	// CmpInfo is a figure shown beside the compared ones, without a
	// verdict: the target's observed series.
	CmpInfo = "info"
)

// Change is one metric of one request compared.
type Change struct {
	Request   string  `json:"request"` // "all" for every request
	Metric    string  `json:"metric"`
	Baseline  float64 `json:"baseline"`
	Current   float64 `json:"current"`
	Delta     float64 `json:"delta"`          // current - baseline
	Relative  float64 `json:"relative"`       // delta / baseline
	Tolerance string  `json:"tolerance"`      // as given
	Test      string  `json:"test,omitempty"` // the statistical test used
	// PValue is the test's p-value adjusted for the number of changes
	// compared (Holm), the one held against alpha; RawP the test's own.
	// Both are -1 when no test ran.
	PValue  float64 `json:"p_value"`
	RawP    float64 `json:"raw_p_value"`
	Verdict string  `json:"verdict"`
}

// Comparison is a baseline and a current run compared.
type Comparison struct {
	Baseline string   `json:"baseline"`
	Current  string   `json:"current"`
	Alpha    float64  `json:"alpha"`
	Changes  []Change `json:"changes"`
	Verdict  string   `json:"verdict"` // pass or fail
}

// CompareInput is one side of a comparison.
type CompareInput struct {
	Name   string
	Report *Report
	Series *Series // nil: no per-interval samples, no test
}

// MinIntervals is the fewest per-interval samples on each side for a rank
// test; MinIntervalRequests the fewest requests an interval needs to count.
const (
	MinIntervals        = 5
	MinIntervalRequests = 20
)

// Compare compares two runs metric by metric and request by request. A
// change beyond its tolerance the bad way is a regression only when a test
// on the per-interval samples finds it significant at alpha (Mann-Whitney
// U on the intervals' values for latency and throughput, a two-proportion
// z-test on the counts for rates), its p-value adjusted by Holm's method
// for the number of changes compared; without enough samples the change
// alone decides.
func Compare(base, cur CompareInput, tols []Tolerance, alpha float64) *Comparison {
	c := &Comparison{Baseline: base.Name, Current: cur.Name, Alpha: alpha, Verdict: Pass}
	names := []string{AllRequests}
	for _, n := range base.Report.RequestNames() {
		if _, ok := cur.Report.Requests[n]; ok {
			names = append(names, n)
		}
	}
	m := 0 // the changes compared: the family of tests
	var tested []int
	for _, name := range names {
		for _, tol := range tols {
			ch := compareOne(base, cur, name, tol)
			if ch.Verdict != CmpMissing {
				m++
			}
			if ch.Verdict == "" {
				tested = append(tested, len(c.Changes))
			}
			c.Changes = append(c.Changes, ch)
		}
	}
	// Holm's step-down adjustment: with many metrics and requests, pure
	// noise still fails the whole comparison with probability at most alpha.
	sort.SliceStable(tested, func(i, j int) bool { return c.Changes[tested[i]].RawP < c.Changes[tested[j]].RawP })
	var adj float64
	for i, k := range tested {
		ch := &c.Changes[k]
		adj = math.Max(adj, math.Min(1, float64(m-i)*ch.RawP))
		ch.PValue = adj
		if adj < alpha {
			ch.Verdict = CmpRegression
		} else {
			ch.Verdict = CmpNotSignficant
		}
	}
	for _, ch := range c.Changes {
		if ch.Verdict == CmpRegression {
			c.Verdict = Fail
		}
	}
	c.Changes = append(c.Changes, compareObserved(base.Report, cur.Report)...)
	return c
}

// compareObserved sets the target's observed series of the two runs side
// by side, each by its maximum (observed) and mean, without a verdict:
// which way is better depends on the series.
func compareObserved(base, cur *Report) []Change {
	var out []Change
	for _, name := range sortedKeys(base.Observed) {
		b, c := base.Observed[name], cur.Observed[name]
		if c == nil || len(b.Points) == 0 || len(c.Points) == 0 {
			continue
		}
		for _, m := range []struct {
			metric string
			bv, cv float64
		}{{"observed", b.Max, c.Max}, {"observed_mean", b.Mean, c.Mean}} {
			ch := Change{Request: AllRequests, Metric: m.metric + "{series=" + name + "}", Baseline: m.bv, Current: m.cv,
				Delta: m.cv - m.bv, Tolerance: "-", PValue: -1, RawP: -1, Verdict: CmpInfo}
			if m.bv != 0 {
				ch.Relative = ch.Delta / m.bv
			}
			out = append(out, ch)
		}
	}
	return out
}

// comparableNames lists the metrics compare takes.
func comparableNames() []string {
	var out []string
	for _, d := range metric.All() {
		if _, ok := comparable(d.Name); ok {
			out = append(out, d.Name)
		}
	}
	return out
}

func tolText(t Tolerance) string {
	if t.Relative > 0 || t.Absolute == 0 {
		return strconv.FormatFloat(t.Relative*100, 'f', -1, 64) + "%"
	}
	if strings.HasPrefix(t.Metric, "rate") || strings.HasSuffix(t.Metric, "_rate") {
		return strconv.FormatFloat(t.Absolute*100, 'f', -1, 64) + "pp"
	}
	return strconv.FormatFloat(t.Absolute, 'f', -1, 64) + "ms"
}

// compareOne compares one metric of one request. A change beyond its
// tolerance the bad way is left without a verdict, its raw p-value set,
// for Compare to adjust; without enough samples it is a regression.
func compareOne(base, cur CompareInput, name string, tol Tolerance) Change {
	bf, bok := base.Report.Figures(name)
	cf, cok := cur.Report.Figures(name)
	ch := Change{Request: name, Metric: tol.Metric, Tolerance: tolText(tol), PValue: -1, RawP: -1}
	if !bok || !cok || bf.Tries == 0 || cf.Tries == 0 {
		ch.Verdict = CmpMissing
		return ch
	}
	d, _ := metric.Lookup(tol.Metric)
	ch.Baseline, ch.Current = d.Read(bf, nil), d.Read(cf, nil)
	if math.IsNaN(ch.Baseline) || math.IsNaN(ch.Current) {
		ch.Verdict = CmpMissing
		return ch
	}
	ch.Delta = ch.Current - ch.Baseline
	if ch.Baseline != 0 {
		ch.Relative = ch.Delta / ch.Baseline
	}
	lower, _ := comparable(tol.Metric)
	worse := ch.Delta // how much worse, in the metric's unit
	if !lower {
		worse = -ch.Delta
	}
	limit := tol.Absolute
	if tol.Relative > 0 || tol.Absolute == 0 {
		limit = tol.Relative * math.Abs(ch.Baseline)
	}
	switch {
	case worse <= limit && -worse <= limit:
		ch.Verdict = CmpOK
		return ch
	case worse < 0:
		ch.Verdict = CmpImproved
		return ch
	}
	// Beyond the tolerance the bad way: is it more than noise?
	switch {
	case d.Parts != nil:
		eb, nb := d.Parts(bf, nil)
		ec, nc := d.Parts(cf, nil)
		if !lower {
			eb, ec = nb-eb, nc-ec // a share that falls: its complement grew
		}
		ch.Test, ch.RawP = "two-proportion z-test", proportionGreater(uint64(eb+0.5), uint64(nb+0.5), uint64(ec+0.5), uint64(nc+0.5))
	default:
		xs, ys := samples(cur.Series, name, tol.Metric), samples(base.Series, name, tol.Metric)
		if len(xs) < MinIntervals || len(ys) < MinIntervals {
			ch.Verdict, ch.Test = CmpRegression, fmt.Sprintf("none: fewer than %d intervals of %d requests on a side", MinIntervals, MinIntervalRequests)
			return ch
		}
		if !lower {
			xs, ys = ys, xs // is the baseline greater than the current?
		}
		ch.Test, ch.RawP = fmt.Sprintf("Mann-Whitney U over %d and %d intervals", len(ys), len(xs)), mannWhitneyGreater(xs, ys)
	}
	return ch
}

// samples returns a metric's per-interval values, over intervals with
// enough requests to measure it.
func samples(s *Series, name, m string) []float64 {
	if s == nil {
		return nil
	}
	var out []float64
	for _, r := range s.ByRequest[name] {
		if r.Requests < MinIntervalRequests {
			continue
		}
		if v := WindowValue(m, r, time.Duration(max(r.LengthMS, 1))*time.Millisecond); !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// mannWhitneyGreater tests whether x tends to be greater than y: the
// one-sided p-value of the Mann-Whitney U test, normal approximation with
// tie and continuity corrections.
func mannWhitneyGreater(x, y []float64) float64 {
	n1, n2 := float64(len(x)), float64(len(y))
	type obs struct {
		v    float64
		inX  bool
		rank float64
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, obs{v: v, inX: true})
	}
	for _, v := range y {
		all = append(all, obs{v: v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			all[k].rank = rank
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	var rx float64
	for _, o := range all {
		if o.inX {
			rx += o.rank
		}
	}
	u := rx - n1*(n1+1)/2
	n := n1 + n2
	mean := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance <= 0 {
		return 1
	}
	z := (u - mean - 0.5) / math.Sqrt(variance)
	return 1 - normalCDF(z)
}

// proportionGreater tests whether the current rate ec/nc is greater than
// the baseline's eb/nb: a one-sided two-proportion z-test.
func proportionGreater(eb, nb, ec, nc uint64) float64 {
	if nb == 0 || nc == 0 {
		return 1
	}
	p1, p2 := float64(eb)/float64(nb), float64(ec)/float64(nc)
	p := float64(eb+ec) / float64(nb+nc)
	se := math.Sqrt(p * (1 - p) * (1/float64(nb) + 1/float64(nc)))
	if se == 0 {
		if p2 > p1 {
			return 0
		}
		return 1
	}
	return 1 - normalCDF((p2-p1)/se)
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// WriteJSON writes the comparison as JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
