package report

import (
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgate/loadgate/internal/metric"
	"github.com/loadgate/loadgate/internal/threshold"
)

func isPercentile(metric string) bool {
	switch metric {
	case "p50", "p90", "p95", "p99", "p999":
		return true
	}
	return false
}

// slide calls fn with the figures of every window of k consecutive
// intervals, in order. Counts and moments come from running sums, and
// the window's histogram (when wanted) from counts added as the window
// enters an interval and taken away as it leaves it, so the cost is one
// pass rather than one merge per interval per window.
func slide(recs []*IntervalRecord, k int, hist bool, fn func(i int, w *IntervalRecord)) {
	pre := prefixSums(recs)
	var h windowHist
	if hist {
		for _, r := range recs[:min(k, len(recs))] {
			h.add(r, 1)
		}
	}
	for i := 0; i+k <= len(recs); i++ {
		if hist && i > 0 {
			h.add(recs[i-1], -1)
			h.add(recs[i+k-1], 1)
		}
		w := windowRecord(pre[i], pre[i+k], recs[i:i+k])
		if hist && h.proto != nil {
			s := *h.proto
			s.Counts = h.counts
			w.hist = hdrhistogram.Import(&s)
		}
		fn(i, w)
	}
}

// windowSums are running totals of the intervals' counts and latency
// moments.
type windowSums struct {
	req, logical, ok, net, proto, biz, sys, to, s4, s5 uint64
	sum, sumsq                                         float64 // ns, ns²
}

// prefixSums returns the running totals before each interval of recs and
// after the last; a nil interval adds nothing.
func prefixSums(recs []*IntervalRecord) []windowSums {
	pre := make([]windowSums, len(recs)+1)
	for i, r := range recs {
		p := pre[i]
		if r != nil {
			n := float64(r.Requests)
			mean := r.MeanMS * 1e6
			p.req += r.Requests
			p.logical += r.Logical
			p.ok += r.Successes
			p.net += r.Network
			p.proto += r.Protocol
			p.biz += r.Business
			p.sys += r.System
			p.to += r.Timeouts
			p.s4 += r.S4xx
			p.s5 += r.S5xx
			p.sum += n * mean
			p.sumsq += r.M2 + n*mean*mean
		}
		pre[i+1] = p
	}
	return pre
}

// windowHist holds the bucket counts of a sliding window's histogram; proto
// is nil until an interval with a histogram joins.
type windowHist struct {
	counts []int64
	proto  *hdrhistogram.Snapshot
}

// add adds the buckets of r's histogram to the window (sign 1) or takes
// them away (sign -1).
func (h *windowHist) add(r *IntervalRecord, sign int64) {
	if r == nil || r.hist == nil || r.Requests == 0 {
		return
	}
	snap := r.hist.Export()
	if h.proto == nil {
		h.proto = &hdrhistogram.Snapshot{LowestTrackableValue: snap.LowestTrackableValue, HighestTrackableValue: snap.HighestTrackableValue, SignificantFigures: snap.SignificantFigures}
		h.counts = make([]int64, len(snap.Counts))
	}
	for j, c := range snap.Counts {
		if j < len(h.counts) {
			h.counts[j] += sign * c
		}
	}
}

// windowRecord is the figures of the window of intervals win, from the
// running totals a before it and b after it; min and max from win itself.
func windowRecord(a, b windowSums, win []*IntervalRecord) *IntervalRecord {
	w := &IntervalRecord{
		Requests: b.req - a.req, Logical: b.logical - a.logical, Successes: b.ok - a.ok,
		Network: b.net - a.net, Protocol: b.proto - a.proto, Business: b.biz - a.biz, System: b.sys - a.sys,
		Timeouts: b.to - a.to, S4xx: b.s4 - a.s4, S5xx: b.s5 - a.s5,
	}
	if w.Requests > 0 {
		n := float64(w.Requests)
		mean := (b.sum - a.sum) / n
		w.MeanMS = mean / 1e6
		w.M2 = math.Max(0, (b.sumsq-a.sumsq)-n*mean*mean)
		first := true
		for _, r := range win {
			if r == nil || r.Requests == 0 {
				continue
			}
			if first || r.MinMS < w.MinMS {
				w.MinMS = r.MinMS
			}
			w.MaxMS = math.Max(w.MaxMS, r.MaxMS)
			first = false
		}
	}
	return w
}

// WindowValue is the value of a windowable metric over the figures rec
// covering d of wall time; NaN when there is nothing to measure.
func WindowValue(name string, rec *IntervalRecord, d time.Duration) float64 {
	def, ok := metric.Lookup(name)
	if !ok || !def.InWindow() {
		return math.NaN()
	}
	f := metric.New()
	f.Tries, f.Logical, f.Successes = float64(rec.Requests), float64(rec.Logical), float64(rec.Successes)
	f.Status4xx, f.Status5xx = float64(rec.S4xx), float64(rec.S5xx)
	f.Network, f.Protocol, f.Business, f.System = float64(rec.Network), float64(rec.Protocol), float64(rec.Business), float64(rec.System)
	f.Timeouts, f.Seconds = float64(rec.Timeouts), d.Seconds()
	if def.Kind == metric.Duration && rec.Requests > 0 {
		// Percentiles cost a walk of the histogram: only for latency.
		l := metric.Stats{Min: rec.MinMS, Mean: rec.MeanMS, StdDev: rec.StdDevMS(), Max: rec.MaxMS,
			P50: math.NaN(), P90: math.NaN(), P95: math.NaN(), P99: math.NaN(), P999: math.NaN()}
		if rec.hist != nil {
			q := rec.hist.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
			l.P50, l.P90, l.P95, l.P99, l.P999 = float64(q[0])/1e3, float64(q[1])/1e3, float64(q[2])/1e3, float64(q[3])/1e3, float64(q[4])/1e3
		} else if rec.P50MS > 0 {
			// A record read without its histogram: the percentiles written.
			l.P50, l.P90, l.P95, l.P99 = rec.P50MS, rec.P90MS, rec.P95MS, rec.P99MS
		}
		f.Latency, f.Raw = l, l
	}
	return def.Read(f, nil)
}

// aligned returns the intervals of a request (or all) on the time axis of
// the whole run, with nil where the request had no result.
func (s *Series) aligned(name string) []*IntervalRecord {
	all := s.All()
	if name == "" || name == AllRequests {
		return all
	}
	byStart := map[int64]*IntervalRecord{}
	for _, r := range s.ByRequest[name] {
		byStart[r.Start] = r
	}
	out := make([]*IntervalRecord, len(all))
	for i, r := range all {
		out[i] = byStart[r.Start]
	}
	return out
}

func clock(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05") }

// EvaluateWindowed checks a windowed rule against the time series. The
// rule names a condition that must not happen; the result passes when it
// never does. Actual is the worst value found (for a consecutive rule, the
// longest streak), and Detail names the window.
func EvaluateWindowed(e threshold.Expr, s *Series) ThresholdResult {
	res := ThresholdResult{
		Expr: e.Source, Metric: e.Metric.Name, Request: e.Request(), Op: string(e.Op),
		Limit: e.Value, LimitText: e.Format(e.Value), Actual: math.NaN(), Pass: true,
	}
	if s == nil || len(s.All()) == 0 {
		res.ActualText, res.Detail = "n/a", "no time series to evaluate"
		return res
	}
	if e.Consecutive > 0 {
		evaluateStreak(e, s, &res)
	} else {
		evaluateSliding(e, s, &res)
	}
	return res
}

// offset is the time from the start of the series to ms, as "+1m30s".
func (s *Series) offset(ms int64) string {
	return "+" + (time.Duration(ms-s.All()[0].Start) * time.Millisecond).String()
}

// evaluateStreak checks a consecutive rule: it fails once the condition
// holds in e.Consecutive intervals in a row.
func evaluateStreak(e threshold.Expr, s *Series, res *ThresholdResult) {
	recs := s.aligned(e.Request())
	streak, best, bestEnd, firstHit := 0, 0, 0, -1
	for i, r := range recs {
		v := math.NaN()
		if r != nil {
			v = WindowValue(e.Metric.Name, r, s.Interval)
		}
		if e.Holds(v) {
			streak++
			if streak > best {
				best, bestEnd = streak, i
			}
			if streak == e.Consecutive && firstHit < 0 {
				firstHit = i
			}
		} else {
			streak = 0
		}
	}
	res.Actual = float64(best)
	res.ActualText = fmt.Sprintf("%d in a row", best)
	res.LimitText = fmt.Sprintf("%d in a row", e.Consecutive)
	if firstHit >= 0 {
		res.Pass = false
		from := recs[firstHit-e.Consecutive+1]
		if from == nil {
			from = s.All()[firstHit-e.Consecutive+1]
		}
		end := s.All()[firstHit].Start + s.All()[firstHit].LengthMS
		res.Detail = fmt.Sprintf("%d consecutive intervals from %s to %s UTC (%s to %s)",
			e.Consecutive, clock(from.Start), clock(end), s.offset(from.Start), s.offset(end))
	} else if best > 0 {
		end := s.All()[bestEnd]
		res.Detail = fmt.Sprintf("longest streak %d, ending at %s UTC (%s)", best, clock(end.Start+end.LengthMS), s.offset(end.Start+end.LengthMS))
	} else {
		res.Detail = "no interval met the condition"
	}
}

// evaluateSliding checks a windowed rule over every window of e.Window:
// it fails at the first window where the condition holds, and otherwise
// reports the worst.
func evaluateSliding(e threshold.Expr, s *Series, res *ThresholdResult) {
	recs := s.aligned(e.Request())
	k := int(math.Ceil(float64(e.Window) / float64(s.Interval)))
	k = max(1, min(k, len(recs)))
	worse := func(a, b float64) bool { // a is worse than b for this rule
		if math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		switch e.Op {
		case threshold.GT, threshold.GE:
			return a > b
		case threshold.LT, threshold.LE:
			return a < b
		}
		return math.Abs(a-e.Value) < math.Abs(b-e.Value)
	}
	worst, worstAt := math.NaN(), -1
	slide(recs, k, isPercentile(e.Metric.Name), func(i int, w *IntervalRecord) {
		v := WindowValue(e.Metric.Name, w, time.Duration(k)*s.Interval)
		if math.IsNaN(v) {
			return
		}
		if e.Holds(v) && res.Pass {
			res.Pass = false
			worst, worstAt = v, i
		}
		if res.Pass && worse(v, worst) {
			worst, worstAt = v, i
		}
	})
	res.Actual, res.ActualText = worst, e.Format(worst)
	if worstAt >= 0 {
		from := s.All()[worstAt].Start
		last := s.All()[worstAt+k-1]
		end := last.Start + last.LengthMS
		what := "worst window"
		if !res.Pass {
			what = "first window where it happened"
		}
		res.Detail = fmt.Sprintf("%s: %s to %s UTC (%s to %s): %s %s", what, clock(from), clock(end), s.offset(from), s.offset(end), e.Metric.Name, e.Format(worst))
	} else {
		res.Detail = "no window had requests"
	}
}
