package report

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
)

func sample(n int, seed uint64) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(r.ExpFloat64()*float64(20*time.Millisecond)) + time.Millisecond
	}
	return out
}

func exactMoments(xs []time.Duration) (mean, sd float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}

// TestStatsAgainstExactValues compares the streaming figures with values
// computed from the full sample.
func TestStatsAgainstExactValues(t *testing.T) {
	t.Parallel()
	xs := sample(100_000, 7)
	s := NewStats()
	start := time.Unix(1_700_000_000, 0)
	for i, x := range xs {
		s.AddTry(&Try{Code: 200, Timestamp: start.Add(time.Duration(i) * time.Millisecond), Latency: x})
		s.AddLogical(&Logical{Class: outcome.ClassOK, Tries: 1, Code: 200})
	}
	mean, sd := exactMoments(xs)
	if math.Abs(float64(s.Mean())-mean) > 1 || math.Abs(float64(s.StdDev())-sd) > 1 {
		t.Errorf("mean %v sd %v, exact %v %v", s.Mean(), s.StdDev(), time.Duration(mean), time.Duration(sd))
	}
	sorted := append([]time.Duration(nil), xs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, q := range []float64{50, 90, 95, 99, 99.9} {
		exact := sorted[int(math.Ceil(q/100*float64(len(sorted))))-1]
		got := s.Quantile(q)
		// Three significant digits: within 0.1% (plus the 1 µs unit).
		if tol := time.Duration(float64(exact)*0.001) + time.Microsecond; absDur(got-exact) > tol {
			t.Errorf("p%v = %v, exact %v (tolerance %v)", q, got, exact, tol)
		}
	}
	if s.Min != sorted[0] || s.Max != sorted[len(sorted)-1] {
		t.Errorf("min %v max %v, exact %v %v", s.Min, s.Max, sorted[0], sorted[len(sorted)-1])
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// TestMergeEqualsWhole checks that merging the stats of two halves gives
// the stats of the whole: counts exactly, moments to rounding.
func TestMergeEqualsWhole(t *testing.T) {
	t.Parallel()
	xs := sample(20_000, 3)
	whole, a, b := NewStats(), NewStats(), NewStats()
	at := time.Unix(1_700_000_000, 0)
	for i, x := range xs {
		class := []outcome.Class{outcome.ClassOK, outcome.ClassProtocol, outcome.ClassProtocol, outcome.ClassNetwork}[i%4]
		o := &Try{Code: []int{200, 404, 500, 0}[i%4], Err: []outcome.Kind{0, 0, 0, outcome.Reset}[i%4], Timestamp: at.Add(time.Duration(i)), Latency: x, BytesIn: 10,
			Group: []string{"db-01", "db-03"}[i%2], Class: class}
		l := &Logical{Class: class, Tries: 1, Code: o.Code, ErrorCode: []string{"", "400100", "500301", ""}[i%4]}
		whole.AddTry(o)
		whole.AddLogical(l)
		if i%3 == 0 {
			a.AddTry(o)
			a.AddLogical(l)
		} else {
			b.AddTry(o)
			b.AddLogical(l)
		}
	}
	a.Merge(b)
	if a.Requests != whole.Requests || a.Successes != whole.Successes || a.Status != whole.Status ||
		a.Classes != whole.Classes || a.ErrorCodes["400100"] != 5000 || a.Groups["db-03"].Errors != whole.Groups["db-03"].Errors ||
		a.Errors != whole.Errors || a.BytesIn != whole.BytesIn || a.Min != whole.Min || a.Max != whole.Max ||
		!a.First.Equal(whole.First) || !a.Last.Equal(whole.Last) {
		t.Errorf("merged counts differ from the whole")
	}
	if math.Abs(float64(a.Mean()-whole.Mean())) > 1 || math.Abs(float64(a.StdDev()-whole.StdDev())) > 1 {
		t.Errorf("merged mean %v sd %v, whole %v %v", a.Mean(), a.StdDev(), whole.Mean(), whole.StdDev())
	}
	if !a.Hist.Equals(whole.Hist) {
		t.Errorf("merged histogram differs from the whole")
	}
	if a.Count4xx() != 5000 || a.Count5xx() != 5000 || a.TransportErrors() != 5000 {
		t.Errorf("4xx %d 5xx %d transport %d", a.Count4xx(), a.Count5xx(), a.TransportErrors())
	}
}

func TestLatencyBeyondRangeIsClamped(t *testing.T) {
	t.Parallel()
	s := NewStats()
	s.AddTry(&Try{Code: 200, Latency: 2 * time.Hour})
	if s.Max != 2*time.Hour || s.Quantile(100) < 59*time.Minute {
		t.Errorf("max %v p100 %v", s.Max, s.Quantile(100))
	}
}
