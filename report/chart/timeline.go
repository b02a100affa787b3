package chart

import (
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// timeline places the run's points on an elapsed-time axis, in seconds
// since the first point's start.
type timeline struct {
	start time.Time
	// step is the interval, in seconds.
	step float64
	// xs holds each point's x: the middle of its interval, since the
	// point's figures describe the whole interval.
	xs []float64
	// min and max are the axis range.
	min, max float64
	unit     timeUnit
}

func newTimeline(d *Data) timeline {
	tl := timeline{step: d.Interval.Seconds()}
	pts := d.Points
	if !(tl.step > 0) && len(pts) > 1 {
		tl.step = pts[1].Start.Sub(pts[0].Start).Seconds()
	}
	if !(tl.step > 0) {
		tl.step = 1
	}
	if len(pts) == 0 {
		tl.max = tl.step
		tl.unit = unitFor(tl.max)
		return tl
	}

	tl.start = pts[0].Start
	// Points without times (all the same start) still get a usable axis:
	// one interval each, in order.
	sameStart := true
	for _, p := range pts[1:] {
		if !p.Start.Equal(tl.start) {
			sameStart = false
			break
		}
	}
	tl.xs = make([]float64, len(pts))
	tl.min, tl.max = 0, 0
	for i, p := range pts {
		off := float64(i) * tl.step
		if !sameStart {
			off = p.Start.Sub(tl.start).Seconds()
		}
		tl.xs[i] = off + tl.step/2
		tl.min = min(tl.min, off)
		tl.max = max(tl.max, off+tl.step)
	}
	tl.unit = unitFor(tl.max - tl.min)
	return tl
}

// at returns t's x on the axis.
func (tl timeline) at(t time.Time) float64 {
	return t.Sub(tl.start).Seconds()
}

// configure sets up p's x axis as this timeline.
func (tl timeline) configure(p *plot.Plot) {
	p.X.Label.Text = "elapsed time (" + tl.unit.name + ")"
	p.X.Tick.Marker = elapsedTicks{unit: tl.unit}
	p.X.Min, p.X.Max = tl.min, tl.max
}

// timeUnit is a unit of the elapsed-time axis.
type timeUnit struct {
	seconds float64
	suffix  string // on tick labels
	name    string // in the axis label
	// steps are the tick steps that read well in this unit, increasing.
	steps []float64
}

var (
	unitSecond = timeUnit{1, "s", "s", []float64{1, 2, 5, 10, 15, 20, 30, 60}}
	unitMinute = timeUnit{60, "m", "min", []float64{1, 2, 5, 10, 15, 20, 30, 60}}
	unitHour   = timeUnit{3600, "h", "h", []float64{1, 2, 3, 6, 12, 24}}
)

// unitFor picks the unit for an axis spanning span seconds: ticks stay
// whole numbers of it.
func unitFor(span float64) timeUnit {
	switch {
	case span <= 5*60:
		return unitSecond
	case span <= 5*3600:
		return unitMinute
	default:
		return unitHour
	}
}

// maxTimeTicks bounds the tick intervals of the time axis: the widest
// labels ("300s", "120m") need about 30 pt, and 10 intervals leave them
// 50 pt apart or more.
const maxTimeTicks = 10

// elapsedTicks labels a time axis with elapsed time in a fixed unit.
type elapsedTicks struct {
	unit timeUnit
}

// Ticks implements plot.Ticker.
func (e elapsedTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	u := e.unit
	if !(u.seconds > 0) || len(u.steps) == 0 {
		u = unitSecond
	}
	step := niceStep((hi-lo)/u.seconds, maxTimeTicks, u.steps)
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	first := math.Ceil(lo/u.seconds/step - 1e-9)
	last := math.Floor(hi/u.seconds/step + 1e-9)
	var ticks []plot.Tick
	for k := first; k <= last; k++ {
		v := k * step
		if v == 0 {
			v = 0 // not -0, which formats as "-0"
		}
		ticks = append(ticks, plot.Tick{
			Value: v * u.seconds,
			Label: strconv.FormatFloat(v, 'f', decimals, 64) + u.suffix,
		})
	}
	return ticks
}

// niceStep returns the smallest step that splits span into at most
// maxIntervals: one of preferred, a 1-2-5 step below them, or a power
// of ten above them.
func niceStep(span float64, maxIntervals int, preferred []float64) float64 {
	limit := float64(maxIntervals)
	for _, s := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5} {
		if span/s <= limit {
			return s
		}
	}
	for _, s := range preferred {
		if span/s <= limit {
			return s
		}
	}
	s := math.Pow(10, math.Ceil(math.Log10(span/limit)))
	if len(preferred) > 0 {
		s = max(s, preferred[len(preferred)-1])
	}
	return s
}
