package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Image size: 10 in × 4.5 in is 1000 × 450 pixels at 100 dpi, wide enough
// for a 30-minute time axis and short enough to stack in a report page.
const (
	width  = 10 * vg.Inch
	height = 4.5 * vg.Inch
	dpi    = 100

	// PNGWidth and PNGHeight are the pixel size of every PNG that Draw
	// returns.
	PNGWidth  = int(width / vg.Inch * dpi)
	PNGHeight = int(height / vg.Inch * dpi)
)

// maxPlotPoints bounds the points one line is drawn with: the data area
// is about 900 pixels wide, so more points only cost time and file size.
const maxPlotPoints = 600

// Text length limits, in runes, keep long names from pushing the data
// area into a sliver.
const (
	maxTitleRunes  = 50
	maxLegendRunes = 30
	// Tick labels are cut shorter once they must be turned to fit.
	maxFlatTickRunes = 40
	maxTickRunes     = 18
)

// margin is left blank around the whole image.
var margin = vg.Points(6)

// Names of the images Draw returns, in order.
var imageNames = []string{"latency", "spectrum", "throughput", "errors", "status", "requests", "phases"}

// Draw renders the run's seven plots — latency, spectrum, throughput,
// errors, status, requests and phases, in that order — each as PNG and
// SVG, and an eighth of the target's observed series when there are any.
// Missing figures give empty plots, not errors, so that a report always
// has the seven images.
func Draw(d *Data) ([]Image, error) {
	if d == nil {
		return nil, errors.New("draw charts: nil data")
	}
	tl := newTimeline(d)
	builders := map[string]func() (*figure, error){
		"latency":    func() (*figure, error) { return latencyFigure(d, tl) },
		"spectrum":   func() (*figure, error) { return spectrumFigure(d) },
		"throughput": func() (*figure, error) { return throughputFigure(d, tl) },
		"errors":     func() (*figure, error) { return errorsFigure(d, tl) },
		"status":     func() (*figure, error) { return statusFigure(d) },
		"requests":   func() (*figure, error) { return requestsFigure(d) },
		"phases":     func() (*figure, error) { return phasesFigure(d) },
	}
	imgs := make([]Image, 0, len(imageNames))
	for _, name := range imageNames {
		img, err := render(name, builders[name])
		if err != nil {
			return nil, fmt.Errorf("draw %s chart: %w", name, err)
		}
		imgs = append(imgs, img)
	}
	if len(d.Observed) > 0 {
		img, err := render("observed", func() (*figure, error) { return observedFigure(d, tl) })
		if err != nil {
			return nil, fmt.Errorf("draw observed chart: %w", err)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// WriteFiles writes each image to dir as NAME.png and NAME.svg, creating
// dir if it is missing.
func WriteFiles(dir string, imgs []Image, write func(path string, data []byte) error) error {
	if write == nil {
		write = func(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write charts: %w", err)
	}
	for _, img := range imgs {
		if img.Name == "" || img.Name == "." || img.Name == ".." || strings.ContainsAny(img.Name, `/\`) {
			return fmt.Errorf("write charts: invalid image name %q", img.Name)
		}
		for _, f := range []struct {
			ext  string
			data []byte
		}{{".png", img.PNG}, {".svg", img.SVG}} {
			path := filepath.Join(dir, img.Name+f.ext)
			if err := write(path, f.data); err != nil {
				return fmt.Errorf("write chart %s: %w", img.Name, err)
			}
		}
	}
	return nil
}

// render builds one figure and draws it to PNG and SVG.
func render(name string, build func() (*figure, error)) (img Image, err error) {
	// gonum/plot panics on some inputs it considers programming errors
	// (a font lookup failing, a non-positive value on a log axis); a
	// report must not bring the run down with it.
	defer func() {
		if r := recover(); r != nil {
			img, err = Image{}, fmt.Errorf("plot panicked: %v", r)
		}
	}()

	fig, err := build()
	if err != nil {
		return Image{}, err
	}

	ic := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi))
	fig.draw(draw.New(ic))
	var pngBuf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pngBuf); err != nil {
		return Image{}, fmt.Errorf("encode png: %w", err)
	}

	sc := vgsvg.New(width, height)
	fig.draw(draw.New(sc))
	var svgBuf bytes.Buffer
	if _, err := sc.WriteTo(&svgBuf); err != nil {
		return Image{}, fmt.Errorf("encode svg: %w", err)
	}

	return Image{
		Name:  name,
		Title: fig.plot.Title.Text,
		PNG:   pngBuf.Bytes(),
		SVG:   svgBuf.Bytes(),
	}, nil
}

// figure is a plot with its legend, which is drawn beside the data area
// rather than inside it so that it never hides a line.
type figure struct {
	plot    *plot.Plot
	legend  plot.Legend
	entries int
	// spanEntries are added to the legend last, after the series, though
	// their shading is drawn first, beneath the series.
	spanEntries []legendEntry
}

type legendEntry struct {
	label string
	thumb plot.Thumbnailer
}

// sans is the typeface of every text: Liberation Sans is embedded in
// gonum/plot and reads better at small sizes than its default serif.
func sans(size float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
}

// newFigure returns an empty figure titled "RUN: what".
func newFigure(d *Data, what string) *figure {
	p := plot.New()
	title := what
	if run := shorten(clean(d.Title), maxTitleRunes); run != "" {
		title = run + ": " + what
	}
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(8)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = sans(11)
		ax.Label.Padding = vg.Points(4)
		ax.Tick.Label.Font = sans(9.5)
		ax.Tick.Length = vg.Points(5)
	}

	leg := plot.NewLegend()
	leg.TextStyle.Font = sans(10)
	leg.TextStyle.Color = color.Black
	leg.Top = true
	leg.Left = true
	leg.ThumbnailWidth = vg.Points(22)
	leg.Padding = vg.Points(3)
	return &figure{plot: p, legend: leg}
}

// addGrid adds light grid lines beneath everything drawn afterwards.
func (f *figure) addGrid() {
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Vertical.Width = vg.Points(0.5)
	g.Horizontal.Width = vg.Points(0.5)
	f.plot.Add(g)
}

// addLegend adds a legend entry.
func (f *figure) addLegend(label string, thumbs ...plot.Thumbnailer) {
	f.legend.Add(shorten(clean(label), maxLegendRunes), thumbs...)
	f.entries++
}

// setTitleSuffix notes on the title that the plot is empty, and why.
func (f *figure) setTitleSuffix(suffix string) {
	f.plot.Title.Text += " (" + suffix + ")"
}

// legendWidth is the width the legend takes beside the plot, gap
// included; 0 without a legend.
func (f *figure) legendWidth() vg.Length {
	if f.entries == 0 {
		return 0
	}
	r := f.legend.Rectangle(draw.Canvas{})
	return r.Size().X + vg.Points(12)
}

// dataWidth estimates the width of the data area, for choosing bar
// widths and whether tick labels fit side by side; it allows for the y
// axis and its labels.
func (f *figure) dataWidth() vg.Length {
	w := width - 2*margin - f.legendWidth() - vg.Points(70)
	return max(w, vg.Points(50))
}

// draw draws the figure over the whole canvas.
func (f *figure) draw(c draw.Canvas) {
	// vgsvg has no background of its own, and vgimg's is white already:
	// fill both the same.
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())

	c = draw.Crop(c, margin, -margin, margin, -margin)
	plotC := c
	if f.entries > 0 {
		lw := f.legendWidth()
		plotC = draw.Crop(c, 0, -lw, 0, 0)
		// Start the legend level with the top of the data area.
		top := f.plot.Title.TextStyle.Rectangle(f.plot.Title.Text).Size().Y + f.plot.Title.Padding
		legC := draw.Crop(c, c.Size().X-lw+vg.Points(10), 0, 0, -top)
		f.legend.Draw(legC)
	}
	f.plot.Draw(plotC)
}

// finish completes a figure once its series are added: the span legend
// entries go last.
func (f *figure) finish() {
	for _, e := range f.spanEntries {
		f.addLegend(e.label, e.thumb)
	}
	f.spanEntries = nil
}

// clean makes caller-provided text safe to draw and to put in SVG:
// valid UTF-8 without control characters, which XML forbids.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r), r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// shorten cuts s to at most n runes, with an ellipsis in the middle:
// request names often share a prefix and differ at the end.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n || n < 3 {
		return s
	}
	r := []rune(s)
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}
