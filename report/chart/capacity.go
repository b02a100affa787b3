package chart

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CapacityData is what the plots of a capacity search show.
type CapacityData struct {
	Title string // the scenario's name
	Steps []CapacityPoint
	// LatencyLines and ErrorLines are the SLO limits: milliseconds, and
	// fractions.
	LatencyLines, ErrorLines []Line
	// Knee is the index in Steps of the knee; -1 when there is none.
	Knee int
	// CapacityRPS is the capacity found, marked on every plot; 0 for none.
	CapacityRPS float64
}

// CapacityPoint is one step of the search.
type CapacityPoint struct {
	TargetRPS, ThroughputRPS float64
	P50, P95, P99            float64 // milliseconds
	ErrorRate                float64 // fraction
	Pass                     bool
}

// DrawCapacity renders the capacity plots: latency percentiles, throughput
// and the error rate against the target rate, the steps in order of rate,
// failed steps marked with a cross, the knee with a ring and the capacity
// with a vertical line.
func DrawCapacity(d *CapacityData) ([]Image, error) {
	steps := append([]CapacityPoint(nil), d.Steps...)
	knee := CapacityPoint{TargetRPS: math.NaN()}
	if d.Knee >= 0 && d.Knee < len(d.Steps) {
		knee = d.Steps[d.Knee]
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].TargetRPS < steps[j].TargetRPS })
	var out []Image
	for _, b := range []struct {
		name  string
		build func() (*figure, error)
	}{
		{"capacity-latency", func() (*figure, error) { return capacityLatency(d, steps, knee) }},
		{"capacity-throughput", func() (*figure, error) { return capacityThroughput(d, steps, knee) }},
		{"capacity-errors", func() (*figure, error) { return capacityErrors(d, steps, knee) }},
	} {
		img, err := render(b.name, b.build)
		if err != nil {
			return nil, fmt.Errorf("draw %s chart: %w", b.name, err)
		}
		out = append(out, img)
	}
	return out, nil
}

func capacityFigure(d *CapacityData, what, yLabel string) *figure {
	f := newFigure(&Data{Title: d.Title}, what)
	f.plot.X.Label.Text = "target rate (requests/s)"
	f.plot.Y.Label.Text = yLabel
	f.addGrid()
	return f
}

func capacityLatency(d *CapacityData, steps []CapacityPoint, knee CapacityPoint) (*figure, error) {
	f := capacityFigure(d, "latency against load", "latency (ms, from the intended send time)")
	for _, s := range []struct {
		label string
		value func(CapacityPoint) float64
		style draw.LineStyle
	}{
		{"p50", func(p CapacityPoint) float64 { return p.P50 }, lineStyle(colorBlue, 1.5, false)},
		{"p95", func(p CapacityPoint) float64 { return p.P95 }, lineStyle(colorOrange, 2, false)},
		{"p99", func(p CapacityPoint) float64 { return p.P99 }, lineStyle(colorRed, 1.5, false)},
	} {
		th, err := f.addSteps(steps, s.value, s.style)
		if err != nil {
			return nil, err
		}
		if th != nil {
			f.addLegend(s.label, th)
		}
	}
	for i, l := range d.LatencyLines {
		h := &hline{y: l.Value, style: lineStyle(thresholdColors[i%len(thresholdColors)], 1.2, true)}
		f.plot.Add(h)
		f.addLegend(l.Label, h)
	}
	if err := f.addKnee(knee, knee.P95); err != nil {
		return nil, err
	}
	f.finishSteps(d, steps)
	return f, nil
}

func capacityErrors(d *CapacityData, steps []CapacityPoint, knee CapacityPoint) (*figure, error) {
	f := capacityFigure(d, "error rate against load", "error rate (%)")
	th, err := f.addSteps(steps, func(p CapacityPoint) float64 { return p.ErrorRate * 100 }, lineStyle(colorRed, 2, false))
	if err != nil {
		return nil, err
	}
	if th != nil {
		f.addLegend("error rate", th)
	}
	for i, l := range d.ErrorLines {
		h := &hline{y: l.Value * 100, style: lineStyle(thresholdColors[i%len(thresholdColors)], 1.2, true)}
		f.plot.Add(h)
		f.addLegend(l.Label, h)
	}
	if err := f.addKnee(knee, knee.ErrorRate*100); err != nil {
		return nil, err
	}
	f.finishSteps(d, steps)
	return f, nil
}

func capacityThroughput(d *CapacityData, steps []CapacityPoint, knee CapacityPoint) (*figure, error) {
	f := capacityFigure(d, "throughput against load", "throughput (successful requests/s)")
	// Where throughput would be if every request succeeded.
	if len(steps) > 0 {
		hi := steps[len(steps)-1].TargetRPS
		ideal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: hi, Y: hi}})
		if err != nil {
			return nil, err
		}
		ideal.LineStyle = lineStyle(colorGray, 1, true)
		f.plot.Add(ideal)
		f.addLegend("throughput = target", ideal)
	}
	th, err := f.addSteps(steps, func(p CapacityPoint) float64 { return p.ThroughputRPS }, lineStyle(colorGreen, 2, false))
	if err != nil {
		return nil, err
	}
	if th != nil {
		f.addLegend("throughput", th)
	}
	if err := f.addKnee(knee, knee.ThroughputRPS); err != nil {
		return nil, err
	}
	f.finishSteps(d, steps)
	return f, nil
}

// addSteps draws one figure of the steps as a line through them, in
// order of target rate, with a dot for a step that met the SLOs and a
// cross for one that did not.
func (f *figure) addSteps(steps []CapacityPoint, value func(CapacityPoint) float64, sty draw.LineStyle) (plot.Thumbnailer, error) {
	var line, pass, fail plotter.XYs
	for _, s := range steps {
		y := value(s)
		if !finite(y) {
			continue
		}
		pt := plotter.XY{X: s.TargetRPS, Y: y}
		line = append(line, pt)
		if s.Pass {
			pass = append(pass, pt)
		} else {
			fail = append(fail, pt)
		}
	}
	if len(line) == 0 {
		return nil, nil
	}
	l, err := plotter.NewLine(line)
	if err != nil {
		return nil, err
	}
	l.LineStyle = sty
	f.plot.Add(l)
	for _, m := range []struct {
		xy    plotter.XYs
		shape draw.GlyphDrawer
	}{{pass, draw.CircleGlyph{}}, {fail, draw.CrossGlyph{}}} {
		if len(m.xy) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(m.xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Shape: m.shape, Radius: vg.Points(3.5)}
		f.plot.Add(sc)
	}
	return l, nil
}

// addKnee rings the knee and adds it to the legend.
func (f *figure) addKnee(knee CapacityPoint, y float64) error {
	if !finite(knee.TargetRPS) || !finite(y) {
		return nil
	}
	sc, err := plotter.NewScatter(plotter.XYs{{X: knee.TargetRPS, Y: y}})
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: colorGray, Shape: draw.RingGlyph{}, Radius: vg.Points(8)}
	f.plot.Add(sc)
	f.addLegend(fmt.Sprintf("knee %.1f/s", knee.TargetRPS), sc)
	return nil
}

// finishSteps marks the capacity and gives the axes a range that starts
// at zero.
func (f *figure) finishSteps(d *CapacityData, steps []CapacityPoint) {
	p := f.plot
	if len(steps) == 0 {
		f.setTitleSuffix("no steps")
	}
	if d.CapacityRPS > 0 {
		v := &vline{x: d.CapacityRPS, style: lineStyle(colorGreen, 1.2, true)}
		p.Add(v)
		f.addLegend(fmt.Sprintf("capacity %.1f/s", d.CapacityRPS), v)
	}
	if !finite(p.X.Min) || p.X.Min > 0 {
		p.X.Min = 0
	}
	if !finite(p.X.Max) || p.X.Max <= p.X.Min {
		p.X.Max = p.X.Min + 1
	}
	zeroBasedY(p)
	p.Y.Max *= 1.05
	f.finish()
}
