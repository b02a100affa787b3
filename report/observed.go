package report

import (
	"fmt"
	"math"
	"time"

	"github.com/loadgate/loadgate/internal/metric"
	"github.com/loadgate/loadgate/internal/threshold"
)

// Observed is one of the target's series (observe:) over a run: its
// figures and its values on the report's intervals.
type Observed struct {
	Query string `json:"query"`
	// Unit is the series' unit when its metric names tell (seconds,
	// bytes, ratio); empty otherwise.
	Unit string  `json:"unit,omitempty"`
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
	Last float64 `json:"last"`
	// Points are [seconds from Start, value]; Start is when sending began.
	Start  time.Time    `json:"start"`
	Points [][2]float64 `json:"points"`
	// ScrapeErrors counts the failed scrapes of the run's endpoints.
	ScrapeErrors int `json:"scrape_errors"`
	// Warning says why there are no points (the series matched nothing;
	// its thresholds fail), or how several series were made one.
	Warning string `json:"warning,omitempty"`
}

// ScrapeStats count one endpoint's scrapes.
type ScrapeStats struct {
	URL       string `json:"url"`
	Scrapes   int    `json:"scrapes"`
	Errors    int    `json:"scrape_errors"`
	LastError string `json:"last_error,omitempty"`
}

// ObservedPoint is a value of a series at a time.
type ObservedPoint struct {
	T time.Time
	V float64
}

// NewObserved sums up a series' points (NaN values left out) from start.
func NewObserved(query, unit string, pts []ObservedPoint, start time.Time, scrapeErrors int, warning string) *Observed {
	o := &Observed{Query: query, Unit: unit, ScrapeErrors: scrapeErrors, Warning: warning, Start: start, Points: [][2]float64{}}
	sum, n := 0.0, 0
	for _, p := range pts {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			continue
		}
		if n == 0 || p.V < o.Min {
			o.Min = p.V
		}
		if n == 0 || p.V > o.Max {
			o.Max = p.V
		}
		sum += p.V
		n++
		o.Last = p.V
		o.Points = append(o.Points, [2]float64{math.Round(p.T.Sub(start).Seconds()*1000) / 1000, p.V})
	}
	if n > 0 {
		o.Mean = sum / float64(n)
	} else if o.Warning == "" {
		o.Warning = "the series has no values: its thresholds fail"
	}
	return o
}

// observedStats are the figures of the series that have values.
func (r *Report) observedStats() map[string]metric.ObservedStats {
	out := map[string]metric.ObservedStats{}
	for name, o := range r.Observed {
		if len(o.Points) > 0 {
			out[name] = metric.ObservedStats{Min: o.Min, Mean: o.Mean, Max: o.Max, Last: o.Last}
		}
	}
	return out
}

// evaluateObservedWindowed checks a windowed rule on an observed series:
// "observed{series=queue} > 100 in any 1m window" fails when the series'
// maximum (mean, last) over some window of that length meets the
// condition; "3 consecutive intervals of ..." when three points in a row
// do.
func (r *Report) evaluateObservedWindowed(e threshold.Expr) ThresholdResult {
	res := ThresholdResult{
		Expr: e.Source, Metric: e.Metric.Name, Op: string(e.Op),
		Limit: e.Value, LimitText: e.Format(e.Value), Actual: math.NaN(), Pass: false,
	}
	o := r.Observed[e.Labels["series"]]
	if o == nil || len(o.Points) == 0 {
		res.ActualText, res.Detail = "n/a", "the series has no values"
		return res
	}
	res.Pass = true
	pick := func(vs []float64) float64 {
		f := metric.ObservedStats{Min: vs[0], Max: vs[0], Last: vs[len(vs)-1]}
		sum := 0.0
		for _, v := range vs {
			f.Min, f.Max, sum = math.Min(f.Min, v), math.Max(f.Max, v), sum+v
		}
		f.Mean = sum / float64(len(vs))
		return e.Metric.Read(&metric.Figures{Observed: map[string]metric.ObservedStats{"s": f}}, map[string]string{"series": "s"})
	}
	if e.Consecutive > 0 {
		streak, best := 0, 0
		for _, p := range o.Points {
			if e.Holds(p[1]) {
				streak++
				best = max(best, streak)
				if streak == e.Consecutive && res.Pass {
					res.Pass = false
					res.Detail = fmt.Sprintf("%d consecutive points up to +%gs", e.Consecutive, p[0])
				}
			} else {
				streak = 0
			}
		}
		res.Actual, res.ActualText = float64(best), fmt.Sprintf("%d in a row", best)
		res.LimitText = fmt.Sprintf("%d in a row", e.Consecutive)
		return res
	}
	w := e.Window.Seconds()
	worst := math.NaN()
	// Whole windows only: one that starts too late to fill its length
	// would judge its last few points alone. A series shorter than the
	// window is one window.
	step, last := 0.0, o.Points[len(o.Points)-1][0]
	if len(o.Points) > 1 {
		step = o.Points[1][0] - o.Points[0][0]
	}
	for i, p := range o.Points {
		if i > 0 && p[0]+w > last+step+1e-9 {
			break
		}
		var vs []float64
		for _, q := range o.Points[i:] {
			if q[0]-p[0] >= w && len(vs) > 0 {
				break
			}
			vs = append(vs, q[1])
		}
		// Actual is the window nearest the condition: the highest for a
		// rule of > or >=, the lowest for < or <=.
		v := pick(vs)
		up := e.Op == threshold.GT || e.Op == threshold.GE || e.Op == threshold.EQ
		if math.IsNaN(worst) || up && v > worst || !up && v < worst {
			worst = v
		}
		if e.Holds(v) && res.Pass {
			res.Pass = false
			res.Detail = fmt.Sprintf("the window from +%gs", p[0])
		}
	}
	res.Actual, res.ActualText = worst, e.Format(worst)
	return res
}

// SortedNames returns the observed series' names in order.
func SortedNames(m map[string]*Observed) []string { return sortedKeys(m) }
