package chart

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func rgb(v uint32) color.Color {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// Series colours, from the widely used Tableau 10 palette, which stays
// distinguishable for most colour-blind readers.
var (
	colorBlue   = rgb(0x1f77b4)
	colorOrange = rgb(0xff7f0e)
	colorGreen  = rgb(0x2ca02c)
	colorRed    = rgb(0xd62728)
	colorPurple = rgb(0x9467bd)
	colorBrown  = rgb(0x8c564b)
	colorPink   = rgb(0xe377c2)
	colorGray   = rgb(0x555555)
)

// thresholdColors are dark, to stand apart from the series they cross.
var thresholdColors = []color.Color{colorGray, colorPurple, colorBrown, colorPink}

// spanColors are light and translucent, so that series show through.
var spanColors = []color.Color{
	color.NRGBA{R: 255, G: 165, B: 0, A: 60},
	color.NRGBA{R: 80, G: 80, B: 255, A: 45},
	color.NRGBA{R: 0, G: 170, B: 0, A: 45},
	color.NRGBA{R: 200, G: 0, B: 200, A: 40},
}

var dashes = []vg.Length{vg.Points(6), vg.Points(3)}

func lineStyle(c color.Color, w float64, dashed bool) draw.LineStyle {
	s := draw.LineStyle{Color: c, Width: vg.Points(w)}
	if dashed {
		s.Dashes = dashes
	}
	return s
}

// latencyFigure plots p50, p95 and p99 latency over time, with the
// threshold lines and the spans.
func latencyFigure(d *Data, tl timeline) (*figure, error) {
	f := timeFigure(d, tl, "latency over time", "latency (ms)")
	var xs, p50, p95, p99 []float64
	for i, p := range d.Points {
		// An interval without requests has zero latencies by convention,
		// not measurements: leave a gap rather than a dip to zero.
		if p.Requests == 0 {
			continue
		}
		xs = append(xs, tl.xs[i])
		p50 = append(p50, p.P50)
		p95 = append(p95, p.P95)
		p99 = append(p99, p.P99)
	}
	drawn := 0
	for _, s := range []struct {
		label string
		ys    []float64
		color color.Color
	}{
		{"p50", p50, colorBlue},
		{"p95", p95, colorOrange},
		{"p99", p99, colorRed},
	} {
		thumb, err := f.addLine(xs, s.ys, aggMax, lineStyle(s.color, 1.3, false))
		if err != nil {
			return nil, fmt.Errorf("%s line: %w", s.label, err)
		}
		if thumb != nil {
			f.addLegend(s.label, thumb)
			drawn++
		}
	}
	for i, ln := range d.LatencyLines {
		if !finite(ln.Value) {
			continue
		}
		h := &hline{y: ln.Value, style: lineStyle(thresholdColors[i%len(thresholdColors)], 1.2, true)}
		f.plot.Add(h)
		label := clean(ln.Label)
		if label == "" {
			label = strconv.FormatFloat(ln.Value, 'g', 4, 64) + " ms"
		}
		f.addLegend(label, h)
	}
	if drawn == 0 {
		f.setTitleSuffix("no data")
	}
	f.finishTime(tl)
	return f, nil
}

// spectrumFigure plots the percentile spectrum as HdrHistogram's plotter
// does: x is 1/(1-p) on a log axis, so that each added nine of the
// percentile gets the same width.
func spectrumFigure(d *Data) (*figure, error) {
	f := newFigure(d, "latency percentile spectrum")
	p := f.plot
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"

	var xs, ys []float64
	maxX := 1.0
	for _, sp := range d.Spectrum {
		if !finite(sp.Percentile) || sp.Percentile < 0 || sp.Percentile >= 100 || !finite(sp.Value) {
			continue
		}
		x := 100 / (100 - sp.Percentile)
		if !finite(x) {
			continue
		}
		xs = append(xs, x)
		ys = append(ys, sp.Value)
		maxX = max(maxX, x)
	}
	nines := 5
	if maxX > 1e5 {
		nines = min(int(math.Ceil(math.Log10(maxX))), maxNines)
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks(nines)
	f.addGrid()

	thumb, err := f.addLine(xs, ys, aggMax, lineStyle(colorBlue, 1.5, false))
	if err != nil {
		return nil, fmt.Errorf("spectrum line: %w", err)
	}
	if thumb == nil {
		f.setTitleSuffix("no data")
	}
	// Set after the line, whose data range would otherwise narrow the axis
	// to the data: the axis always reaches 99.999%.
	p.X.Min, p.X.Max = 1, math.Pow10(nines)
	zeroBasedY(p)
	f.finish()
	return f, nil
}

// maxNines bounds the spectrum's x axis at 99.9999999999%: beyond it, a
// percentile is noise.
const maxNines = 12

// percentileTicks returns the spectrum's ticks up to 10^nines: labelled
// at each power of ten (0%, 90%, 99%, 99.9%, …), unlabelled between.
func percentileTicks(nines int) plot.ConstantTicks {
	var ticks []plot.Tick
	for k := 0; k <= nines; k++ {
		v := math.Pow10(k)
		ticks = append(ticks, plot.Tick{Value: v, Label: percentileLabel(k)})
		if k == nines {
			break
		}
		for m := 2; m < 10; m++ {
			ticks = append(ticks, plot.Tick{Value: v * float64(m)})
		}
	}
	return ticks
}

// percentileLabel names the percentile at x = 10^k, 1 - 10^-k.
func percentileLabel(k int) string {
	switch k {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", k-2) + "%"
}

// throughputFigure plots successes and requests per second over time,
// with the target rate of an open-model schedule.
func throughputFigure(d *Data, tl timeline) (*figure, error) {
	f := timeFigure(d, tl, "throughput", "requests/s")
	n := len(d.Points)
	succ := make([]float64, n)
	reqs := make([]float64, n)
	var txs, target []float64
	for i, p := range d.Points {
		succ[i] = float64(p.Successes) / tl.step
		reqs[i] = float64(p.Requests) / tl.step
		if p.TargetRate > 0 && finite(p.TargetRate) {
			txs = append(txs, tl.xs[i])
			target = append(target, p.TargetRate)
		}
	}
	drawn := 0
	for _, s := range []struct {
		label string
		xs    []float64
		ys    []float64
		style draw.LineStyle
	}{
		{"throughput (successes/s)", tl.xs, succ, lineStyle(colorGreen, 1.5, false)},
		{"achieved rate (requests/s)", tl.xs, reqs, lineStyle(colorBlue, 1.2, false)},
		{"target rate", txs, target, lineStyle(colorGray, 1.2, true)},
	} {
		thumb, err := f.addLine(s.xs, s.ys, aggMean, s.style)
		if err != nil {
			return nil, fmt.Errorf("%s line: %w", s.label, err)
		}
		if thumb != nil {
			f.addLegend(s.label, thumb)
			drawn++
		}
	}
	if drawn == 0 {
		f.setTitleSuffix("no data")
	}
	f.finishTime(tl)
	return f, nil
}

// errorsFigure plots the error rate of each class over time, as a
// percentage of requests.
func errorsFigure(d *Data, tl timeline) (*figure, error) {
	f := timeFigure(d, tl, "error rate by class", "errors (% of requests)")
	classes := []struct {
		label string
		rate  func(Point) float64
		color color.Color
	}{
		{"network", func(p Point) float64 { return p.Network }, colorRed},
		{"protocol", func(p Point) float64 { return p.Protocol }, colorPurple},
		{"business", func(p Point) float64 { return p.Business }, colorOrange},
		{"system", func(p Point) float64 { return p.System }, colorBrown},
	}
	measured := false
	drawn := 0
	for _, c := range classes {
		var xs, ys []float64
		nonzero := false
		for i, p := range d.Points {
			// Without requests there is no rate to speak of.
			if p.Requests == 0 {
				continue
			}
			measured = true
			v := 100 * c.rate(p)
			nonzero = nonzero || (finite(v) && v != 0)
			xs = append(xs, tl.xs[i])
			ys = append(ys, v)
		}
		// A class that never occurred would only clutter the legend.
		if !nonzero {
			continue
		}
		thumb, err := f.addLine(xs, ys, aggMean, lineStyle(c.color, 1.3, false))
		if err != nil {
			return nil, fmt.Errorf("%s line: %w", c.label, err)
		}
		if thumb != nil {
			f.addLegend(c.label, thumb)
			drawn++
		}
	}
	switch {
	case !measured:
		f.setTitleSuffix("no data")
	case drawn == 0:
		f.setTitleSuffix("no errors")
	}
	f.finishTime(tl)
	return f, nil
}

// statusFigure plots the response count of each status code or error
// kind, in key order.
func statusFigure(d *Data) (*figure, error) {
	f := newFigure(d, "responses by status")
	p := f.plot
	p.X.Label.Text = "status"
	p.Y.Label.Text = "responses"

	keys := make([]string, 0, len(d.StatusCodes))
	for k := range d.StatusCodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		f.setTitleSuffix("no responses")
		f.emptyNominal()
		return f, nil
	}
	f.addHGrid()

	n := len(keys)
	slot := f.dataWidth() / vg.Length(n)
	barW := max(min(slot*0.7, vg.Points(40)), vg.Points(1))
	labels := make([]string, n)
	counts := make(plotter.XYs, n)
	for i, k := range keys {
		count := float64(d.StatusCodes[k])
		bc, err := plotter.NewBarChart(plotter.Values{count}, barW)
		if err != nil {
			return nil, fmt.Errorf("bar %q: %w", k, err)
		}
		bc.XMin = float64(i)
		bc.Color = statusColor(k)
		bc.LineStyle.Width = 0
		p.Add(bc)
		labels[i] = strconv.FormatUint(d.StatusCodes[k], 10)
		counts[i] = plotter.XY{X: float64(i), Y: count}
	}
	if err := f.addBarLabels(counts, labels, slot); err != nil {
		return nil, err
	}
	names := make([]string, n)
	for i, k := range keys {
		names[i] = clean(k)
		if names[i] == "" {
			names[i] = "(empty)"
		}
	}
	f.nominalX(names)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	zeroBasedY(p)
	f.finish()
	return f, nil
}

// statusColor colours a bar by its status class: success green, client
// errors orange, server errors red, transport errors purple.
func statusColor(key string) color.Color {
	code, err := strconv.Atoi(key)
	if err != nil || code < 100 || code > 599 {
		return colorPurple
	}
	switch code / 100 {
	case 2:
		return colorGreen
	case 3:
		return colorBlue
	case 4:
		return colorOrange
	case 5:
		return colorRed
	}
	return colorGray
}

// addBarLabels writes each bar's value above it, when the values fit
// side by side.
func (f *figure) addBarLabels(at plotter.XYs, labels []string, slot vg.Length) error {
	sty := f.plot.X.Tick.Label
	sty.Font = sans(9)
	sty.Rotation = 0
	sty.XAlign = draw.XCenter
	sty.YAlign = draw.YBottom
	for _, l := range labels {
		if sty.Width(l) > slot*0.95 {
			return nil
		}
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: at, Labels: labels})
	if err != nil {
		return fmt.Errorf("bar labels: %w", err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i] = sty
	}
	lb.Offset = vg.Point{Y: vg.Points(2)}
	f.plot.Add(lb)
	return nil
}

// requestsFigure compares the request names' p50, p95 and p99 latency as
// grouped bars.
func requestsFigure(d *Data) (*figure, error) {
	return barsFigure(d, "latency by request", "request", "no requests", d.Requests)
}

// phasesFigure compares the connection phases: DNS, connect and TLS on new
// connections, time to first byte on every try.
func phasesFigure(d *Data) (*figure, error) {
	return barsFigure(d, "connection phases", "phase", "not traced", d.Phases)
}

// barsFigure draws p50, p95 and p99 bars side by side for each item.
func barsFigure(d *Data, what, xLabel, none string, items []RequestLatency) (*figure, error) {
	f := newFigure(d, what)
	p := f.plot
	p.X.Label.Text = xLabel
	p.Y.Label.Text = "latency (ms)"
	n := len(items)
	if n == 0 {
		f.setTitleSuffix(none)
		f.emptyNominal()
		return f, nil
	}
	f.addHGrid()

	series := []struct {
		label string
		value func(RequestLatency) float64
		color color.Color
	}{
		{"p50", func(r RequestLatency) float64 { return r.P50 }, colorBlue},
		{"p95", func(r RequestLatency) float64 { return r.P95 }, colorOrange},
		{"p99", func(r RequestLatency) float64 { return r.P99 }, colorRed},
	}
	bars := make([]*plotter.BarChart, len(series))
	for j, s := range series {
		vals := make(plotter.Values, n)
		for i, r := range items {
			// A missing figure draws as no bar rather than failing the plot.
			if v := s.value(r); finite(v) && v > 0 {
				vals[i] = v
			}
		}
		// The width is set below, once the legend's room is known.
		bc, err := plotter.NewBarChart(vals, 1)
		if err != nil {
			return nil, fmt.Errorf("%s bars: %w", s.label, err)
		}
		bc.Color = s.color
		bc.LineStyle.Width = 0
		p.Add(bc)
		f.addLegend(s.label, bc)
		bars[j] = bc
	}
	slot := f.dataWidth() / vg.Length(n)
	barW := max(min(slot*0.8/vg.Length(len(series)), vg.Points(24)), vg.Points(0.5))
	for j, bc := range bars {
		bc.Width = barW
		bc.Offset = vg.Length(j-1) * barW
	}
	names := make([]string, n)
	for i, r := range items {
		names[i] = clean(r.Name)
		if names[i] == "" {
			names[i] = "(unnamed)"
		}
	}
	f.nominalX(names)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	zeroBasedY(p)
	f.finish()
	return f, nil
}

// timeFigure returns a figure with an elapsed-time x axis, a grid and the
// spans shaded.
func timeFigure(d *Data, tl timeline, what, yLabel string) *figure {
	f := newFigure(d, what)
	f.plot.Y.Label.Text = yLabel
	tl.configure(f.plot)
	f.addGrid()
	f.addSpans(d, tl)
	return f
}

// finishTime completes a time figure: series have widened the axes to
// their data, and the time axis must span the whole run instead.
func (f *figure) finishTime(tl timeline) {
	f.plot.X.Min, f.plot.X.Max = tl.min, tl.max
	zeroBasedY(f.plot)
	f.finish()
}

// addSpans shades the spans that overlap the run.
func (f *figure) addSpans(d *Data, tl timeline) {
	// Without points there is no run to place the spans in.
	if len(tl.xs) == 0 {
		return
	}
	colors := make(map[string]color.Color)
	for _, s := range d.Spans {
		// A span without a start or an end runs from the run's start or
		// to its end.
		x0, x1 := tl.min, tl.max
		if !s.Start.IsZero() {
			x0 = tl.at(s.Start)
		}
		if !s.End.IsZero() {
			x1 = tl.at(s.End)
		}
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		if x1 < tl.min || x0 > tl.max {
			continue
		}
		x0, x1 = max(x0, tl.min), min(x1, tl.max)
		label := clean(s.Label)
		if label == "" {
			label = "span"
		}
		// Spans of one label share a colour and a legend entry.
		c, seen := colors[label]
		if !seen {
			c = spanColors[len(colors)%len(spanColors)]
			colors[label] = c
		}
		sh := &shade{x0: x0, x1: x1, color: c}
		f.plot.Add(sh)
		if !seen {
			f.spanEntries = append(f.spanEntries, legendEntry{label: label, thumb: sh})
		}
	}
}

// addLine adds a line for the series, downsampled, and returns its
// legend thumbnail; nil when no sample is finite.
func (f *figure) addLine(xs, ys []float64, agg aggregation, sty draw.LineStyle) (plot.Thumbnailer, error) {
	xy := downsample(xs, ys, maxPlotPoints, agg)
	if len(xy) == 0 {
		return nil, nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	l.LineStyle = sty
	f.plot.Add(l)
	// A line through one point draws nothing: mark the point.
	if len(xy) == 1 {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Color = sty.Color
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		f.plot.Add(sc)
	}
	return l, nil
}

// addHGrid adds horizontal grid lines only: vertical ones would cross
// the bars.
func (f *figure) addHGrid() {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Horizontal.Width = vg.Points(0.5)
	f.plot.Add(g)
}

// emptyNominal sets up the axes of a bar chart without bars.
func (f *figure) emptyNominal() {
	p := f.plot
	p.X.Tick.Marker = plot.ConstantTicks(nil)
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1
}

// zeroBasedY starts the y axis at zero, and gives it a range when the
// data has none (all zero, or no data).
func zeroBasedY(p *plot.Plot) {
	if !finite(p.Y.Min) || p.Y.Min > 0 {
		p.Y.Min = 0
	}
	if !finite(p.Y.Max) || p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
}

// nominalX labels the x axis with names at 0, 1, …. Labels that would
// not fit side by side are turned 45°, or 90° and thinned out, so that
// they never overlap.
func (f *figure) nominalX(names []string) {
	p := f.plot
	n := len(names)
	if n == 0 {
		return
	}
	p.X.Tick.Width = 0
	p.X.Tick.Length = 0
	p.X.Width = 0

	sty := &p.X.Tick.Label
	slot := f.dataWidth() / vg.Length(n)
	lineH := sty.Height("Xg")
	// Whole names when they fit side by side; short ones otherwise, as
	// turned labels need the height.
	var labels []string
	var widest vg.Length
	for _, limit := range []int{maxFlatTickRunes, maxTickRunes} {
		labels = make([]string, n)
		widest = 0
		for i, name := range names {
			labels[i] = shorten(name, limit)
			widest = max(widest, sty.Width(labels[i]))
		}
		if widest <= slot*0.9 {
			break
		}
	}
	every := 1
	switch {
	case widest <= slot*0.9:
	case slot*math.Sqrt2/2 >= 1.2*lineH:
		sty.Rotation = math.Pi / 4
		sty.XAlign = draw.XRight
		sty.YAlign = draw.YCenter
	default:
		sty.Rotation = math.Pi / 2
		sty.XAlign = draw.XRight
		sty.YAlign = draw.YCenter
		every = max(1, int(math.Ceil(float64(1.2*lineH/slot))))
	}
	ticks := make([]plot.Tick, n)
	for i := range labels {
		ticks[i].Value = float64(i)
		if i%every == 0 {
			ticks[i].Label = labels[i]
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// The first label may reach left of its slot, into the y axis labels:
	// move the y axis out of its way.
	reach := -sty.Rectangle(labels[0]).Min.X - slot/2 + vg.Points(2)
	p.Y.Padding = max(p.Y.Padding, reach)
}

// observedFigure plots the target's observed series over the run's time
// axis, the same as latency's, so a queue that grows can be read against
// the latency it causes.
func observedFigure(d *Data, tl timeline) (*figure, error) {
	f := timeFigure(d, tl, "target's observed series", "value")
	drawn := 0
	for i, s := range d.Observed {
		var xs, ys []float64
		for _, p := range s.Points {
			if tl.start.IsZero() || !finite(p.V) {
				continue
			}
			xs = append(xs, p.T.Sub(tl.start).Seconds())
			ys = append(ys, p.V)
		}
		thumb, err := f.addLine(xs, ys, aggMax, lineStyle(thresholdColors[i%len(thresholdColors)], 1.3, false))
		if err != nil {
			return nil, fmt.Errorf("%s line: %w", s.Name, err)
		}
		if thumb != nil {
			label := s.Name
			if s.Unit != "" {
				label += " (" + s.Unit + ")"
			}
			f.addLegend(clean(label), thumb)
			drawn++
		}
	}
	if drawn == 0 {
		f.setTitleSuffix("no data")
	}
	f.finishTime(tl)
	return f, nil
}
