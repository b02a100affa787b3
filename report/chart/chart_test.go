package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// spikeAt is the interval of synthetic runs whose p99 spikes to spikeP99.
const spikeP99 = 2400.0

func spikeAt(n int) int { return n * 2 / 3 }

// syntheticRun returns an n-interval run with known figures: steady
// latency with a one-interval p99 spike, a fault span over the middle
// fifth, two thresholds, a target rate ramping up to 200/s and network
// errors during the span.
func syntheticRun(n int, interval time.Duration) *Data {
	d := &Data{
		Title:    "checkout <&> flow",
		Interval: interval,
		LatencyLines: []Line{
			{Label: "p95 < 800ms", Value: 800},
			{Label: "p99 < 1.5s & more", Value: 1500},
		},
		Spans: []Span{{
			Label: "fault: db slow",
			Start: t0.Add(time.Duration(n*2/5) * interval),
			End:   t0.Add(time.Duration(n*3/5) * interval),
		}},
		StatusCodes: map[string]uint64{"200": 9000, "503": 120, "404": 40, "timeout": 7, "refused": 2},
		Requests: []RequestLatency{
			{Name: "login", P50: 40, P95: 90, P99: 140},
			{Name: "GET /api/v1/catalog/items?page=1", P50: 25, P95: 70, P99: 120},
			{Name: "checkout", P50: 120, P95: 480, P99: 900},
		},
	}
	for i := range n {
		target := 200.0
		if ramp := n / 5; i < ramp {
			target = 200 * float64(i+1) / float64(ramp)
		}
		p := Point{
			Start:      t0.Add(time.Duration(i) * interval),
			Requests:   uint64(target * interval.Seconds()),
			TargetRate: target,
			P50:        20 + 5*math.Sin(float64(i)/7),
			P95:        60 + 10*math.Sin(float64(i)/11),
			P99:        90,
			Mean:       25,
			Max:        120,
		}
		p.Successes = p.Requests * 98 / 100
		if i >= n*2/5 && i < n*3/5 {
			p.Network = 0.02
			p.P95 = 300
		}
		if i == spikeAt(n) {
			p.P99 = spikeP99
			p.Max = spikeP99 + 100
		}
		d.Points = append(d.Points, p)
	}
	for _, pc := range []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999} {
		d.Spectrum = append(d.Spectrum, SpectrumPoint{Percentile: pc, Value: 10 + pc*pc/100})
	}
	return d
}

func TestDraw(t *testing.T) {
	t.Parallel()
	nanRun := syntheticRun(30, time.Second)
	for i := range nanRun.Points {
		if i%3 == 0 {
			nanRun.Points[i].P99 = math.NaN()
			nanRun.Points[i].Network = math.NaN()
			nanRun.Points[i].TargetRate = math.Inf(1)
		}
	}
	nanRun.Spectrum = append(nanRun.Spectrum, SpectrumPoint{Percentile: math.NaN(), Value: 1}, SpectrumPoint{Percentile: 100, Value: 3})
	nanRun.Requests[0].P99 = math.NaN()
	nanRun.LatencyLines = append(nanRun.LatencyLines, Line{Label: "bad", Value: math.Inf(1)})

	zeroLatency := syntheticRun(20, time.Second)
	for i := range zeroLatency.Points {
		p := &zeroLatency.Points[i]
		p.P50, p.P95, p.P99, p.Max, p.Mean = 0, 0, 0, 0, 0
		p.Network = 0
	}
	zeroLatency.LatencyLines = nil
	for i := range zeroLatency.Spectrum {
		zeroLatency.Spectrum[i].Value = 0
	}

	idle := syntheticRun(15, time.Second)
	for i := range idle.Points {
		idle.Points[i] = Point{Start: idle.Points[i].Start}
	}

	many := syntheticRun(60, 500*time.Millisecond)
	many.StatusCodes = map[string]uint64{}
	many.Requests = nil
	for i := range 80 {
		many.Requests = append(many.Requests, RequestLatency{
			Name: fmt.Sprintf("scenario step number %02d with a long name", i),
			P50:  float64(10 + i), P95: float64(30 + i), P99: float64(50 + 2*i),
		})
		many.StatusCodes[fmt.Sprint(200+i)] = uint64(1000 * (i + 1))
	}

	tests := []struct {
		name string
		data *Data
		// want are strings each named image's SVG must contain: tick
		// labels, legend entries and title suffixes.
		want map[string][]string
		// colours are series colours each named image's PNG must show, so
		// that the data, not only the axes, is drawn.
		colours map[string][]color.Color
	}{
		{
			name: "10 seconds",
			data: syntheticRun(10, time.Second),
			want: map[string][]string{
				"latency":    {"checkout &lt;&amp;&gt; flow: latency over time", ">0s<", ">5s<", ">10s<", "elapsed time (s)", ">p50<", ">p95<", ">p99<", "p95 &lt; 800ms", "fault: db slow"},
				"spectrum":   {">0%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<", ">99.999%<", "latency (ms)"},
				"throughput": {"target rate", "requests/s", "throughput (successes/s)", "achieved rate (requests/s)"},
				"errors":     {">network<", "fault: db slow"},
				"status":     {">200<", ">503<", ">timeout<", ">9000<"},
				"requests":   {">login<", ">checkout<", ">p50<"},
			},
			colours: seriesColours,
		},
		{
			name: "30 minutes",
			data: syntheticRun(1800, time.Second),
			want: map[string][]string{
				"latency":    {">0m<", ">5m<", ">30m<", "elapsed time (min)"},
				"throughput": {">15m<", "target rate"},
				"errors":     {">network<"},
			},
			colours: seriesColours,
		},
		{
			name: "empty",
			data: &Data{},
			want: map[string][]string{
				"latency":  {"(no data)"},
				"spectrum": {"(no data)", ">99.999%<"},
				"errors":   {"(no data)"},
				"status":   {"(no responses)"},
				"requests": {"(no requests)"},
			},
		},
		{
			name: "one point",
			data: syntheticRun(1, time.Second),
		},
		{
			name: "all-zero latency",
			data: zeroLatency,
			want: map[string][]string{"errors": {"(no errors)"}},
		},
		{
			name: "NaN and infinite values",
			data: nanRun,
		},
		{
			name: "idle run",
			data: idle,
			want: map[string][]string{"latency": {"(no data)"}},
		},
		{
			name: "many requests and status codes",
			data: many,
		},
		{
			name: "points without times",
			data: &Data{Points: []Point{{Requests: 5, P50: 1, P95: 2, P99: 3}, {Requests: 5, P50: 2, P95: 3, P99: 4}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			imgs, err := Draw(tt.data)
			if err != nil {
				t.Fatalf("Draw: %v", err)
			}
			if len(imgs) != len(imageNames) {
				t.Fatalf("Draw returned %d images, want %d", len(imgs), len(imageNames))
			}
			for i, img := range imgs {
				if img.Name != imageNames[i] {
					t.Errorf("image %d is %q, want %q", i, img.Name, imageNames[i])
				}
				if img.Title == "" {
					t.Errorf("%s: empty title", img.Name)
				}
				if tt.data.Title != "" && !strings.HasPrefix(img.Title, tt.data.Title) {
					t.Errorf("%s: title %q does not start with the run's title", img.Name, img.Title)
				}
				checkPNG(t, img, tt.colours[img.Name])
				checkSVG(t, img)
				for _, s := range tt.want[img.Name] {
					if !bytes.Contains(img.SVG, []byte(s)) {
						t.Errorf("%s: SVG does not contain %q", img.Name, s)
					}
				}
			}
		})
	}
}

func TestDrawNil(t *testing.T) {
	t.Parallel()
	if _, err := Draw(nil); err == nil {
		t.Error("Draw(nil) returned no error")
	}
}

// seriesColours are the colours of series that synthetic runs show.
var seriesColours = map[string][]color.Color{
	"latency":    {colorBlue, colorOrange, colorRed},
	"spectrum":   {colorBlue},
	"throughput": {colorGreen},
	"errors":     {colorRed},
	"status":     {colorGreen, colorRed},
	"requests":   {colorBlue, colorOrange, colorRed},
}

// checkPNG checks that img.PNG decodes to a PNGWidth × PNGHeight image
// that is not blank: enough pixels differ from the background, in
// several colours, among them want.
func checkPNG(t *testing.T, img Image, want []color.Color) {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(img.PNG))
	if err != nil {
		t.Errorf("%s: decode PNG: %v", img.Name, err)
		return
	}
	b := m.Bounds()
	if b.Dx() != PNGWidth || b.Dy() != PNGHeight {
		t.Errorf("%s: PNG is %dx%d, want %dx%d", img.Name, b.Dx(), b.Dy(), PNGWidth, PNGHeight)
	}
	ink, colours, seen := inkAndColours(m)
	// Even an empty plot has its title, axes and labels: over 1% of the
	// image.
	if min := b.Dx() * b.Dy() / 100; ink < min {
		t.Errorf("%s: only %d non-background pixels, want at least %d", img.Name, ink, min)
	}
	if colours < 4 {
		t.Errorf("%s: only %d distinct colours", img.Name, colours)
	}
	for _, c := range want {
		r, g, b, _ := c.RGBA()
		if !seen[[4]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8), 255}] {
			t.Errorf("%s: no pixel of colour %v", img.Name, c)
		}
	}
}

// inkAndColours counts the pixels that differ from the background (the
// top-left pixel) and the distinct colours, and returns the colours seen.
func inkAndColours(m image.Image) (ink, colours int, seen map[[4]byte]bool) {
	// Reading the pixel bytes rather than calling At keeps the test quick
	// under the race detector.
	var pix []byte
	var stride int
	switch im := m.(type) {
	case *image.RGBA:
		pix, stride = im.Pix, im.Stride
	case *image.NRGBA:
		pix, stride = im.Pix, im.Stride
	default:
		b := m.Bounds()
		rgba := image.NewRGBA(b)
		draw.Draw(rgba, b, m, b.Min, draw.Src)
		pix, stride = rgba.Pix, rgba.Stride
	}
	b := m.Bounds()
	bg := [4]byte(pix[0:4])
	seen = make(map[[4]byte]bool)
	for y := range b.Dy() {
		row := pix[y*stride : y*stride+4*b.Dx()]
		for x := 0; x < len(row); x += 4 {
			c := [4]byte(row[x : x+4])
			seen[c] = true
			if c != bg {
				ink++
			}
		}
	}
	return ink, len(seen), seen
}

// checkSVG checks that img.SVG is well-formed XML with an svg element.
func checkSVG(t *testing.T, img Image) {
	t.Helper()
	if !bytes.Contains(img.SVG, []byte("<svg")) {
		t.Errorf("%s: SVG has no <svg element", img.Name)
	}
	dec := xml.NewDecoder(bytes.NewReader(img.SVG))
	elements := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("%s: SVG is not well-formed XML: %v", img.Name, err)
			return
		}
		if _, ok := tok.(xml.StartElement); ok {
			elements++
		}
	}
	if elements < 10 {
		t.Errorf("%s: SVG has only %d elements", img.Name, elements)
	}
}

func TestDownsample(t *testing.T) {
	t.Parallel()
	const n = 1800
	xs := make([]float64, n)
	p99 := make([]float64, n)
	rate := make([]float64, n)
	for i := range n {
		xs[i] = float64(i) + 0.5
		p99[i] = 100
		rate[i] = 50 + 40*math.Sin(float64(i)/30)
	}
	const spike = 1235
	p99[spike] = 5000

	withNaN := append([]float64(nil), p99...)
	for i := 0; i < n; i += 2 {
		withNaN[i] = math.NaN()
	}

	tests := []struct {
		name  string
		xs    []float64
		ys    []float64
		limit int
		agg   aggregation
		// check returns what is wrong with the result, or "".
		check func(got []float64) string
	}{
		{
			name: "max keeps a one-interval spike", xs: xs, ys: p99, limit: maxPlotPoints, agg: aggMax,
			check: func(got []float64) string {
				if m := maxOf(got); m != 5000 {
					return fmt.Sprintf("max %v, want 5000", m)
				}
				return ""
			},
		},
		{
			name: "mean preserves the mean rate", xs: xs, ys: rate, limit: maxPlotPoints, agg: aggMean,
			check: func(got []float64) string {
				if want, m := meanOf(rate), meanOf(got); math.Abs(m-want) > 1e-9 {
					return fmt.Sprintf("mean %v, want %v", m, want)
				}
				if lo, hi := minOf(got), maxOf(got); lo < minOf(rate) || hi > maxOf(rate) {
					return fmt.Sprintf("range [%v, %v] outside the data's", lo, hi)
				}
				return ""
			},
		},
		{
			name: "NaN samples are left out", xs: xs, ys: withNaN, limit: maxPlotPoints, agg: aggMax,
			check: func(got []float64) string {
				for _, v := range got {
					if math.IsNaN(v) {
						return "NaN in the result"
					}
				}
				if m := maxOf(got); m != 5000 {
					return fmt.Sprintf("max %v, want 5000", m)
				}
				return ""
			},
		},
		{
			name: "short series is kept", xs: xs[:10], ys: rate[:10], limit: maxPlotPoints, agg: aggMean,
			check: func(got []float64) string {
				if len(got) != 10 {
					return fmt.Sprintf("%d points, want 10", len(got))
				}
				for i, v := range got {
					if v != rate[i] {
						return fmt.Sprintf("point %d is %v, want %v", i, v, rate[i])
					}
				}
				return ""
			},
		},
		{
			name: "uneven buckets", xs: xs[:1001], ys: rate[:1001], limit: 100, agg: aggMean,
			check: func(got []float64) string { return "" },
		},
		{
			name: "empty", limit: maxPlotPoints, agg: aggMax,
			check: func(got []float64) string {
				if len(got) != 0 {
					return fmt.Sprintf("%d points, want none", len(got))
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := downsample(tt.xs, tt.ys, tt.limit, tt.agg)
			if len(got) > tt.limit {
				t.Errorf("%d points, want at most %d", len(got), tt.limit)
			}
			ys := make([]float64, len(got))
			for i, p := range got {
				ys[i] = p.Y
				if i > 0 && p.X <= got[i-1].X {
					t.Errorf("x not increasing at %d: %v after %v", i, p.X, got[i-1].X)
				}
			}
			if msg := tt.check(ys); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestElapsedTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		n      int
		step   time.Duration
		labels []string
	}{
		{"10 seconds", 10, time.Second, []string{"0s", "1s", "2s", "3s", "4s", "5s", "6s", "7s", "8s", "9s", "10s"}},
		{"2 minutes", 120, time.Second, []string{"0s", "15s", "30s", "45s", "60s", "75s", "90s", "105s", "120s"}},
		{"30 minutes", 1800, time.Second, []string{"0m", "5m", "10m", "15m", "20m", "25m", "30m"}},
		{"12 hours", 720, time.Minute, []string{"0h", "2h", "4h", "6h", "8h", "10h", "12h"}},
		{"half a second", 5, 100 * time.Millisecond, []string{"0.00s", "0.05s", "0.10s", "0.15s", "0.20s", "0.25s", "0.30s", "0.35s", "0.40s", "0.45s", "0.50s"}},
		{"one point", 1, time.Second, []string{"0.0s", "0.1s", "0.2s", "0.3s", "0.4s", "0.5s", "0.6s", "0.7s", "0.8s", "0.9s", "1.0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &Data{Interval: tt.step}
			for i := range tt.n {
				d.Points = append(d.Points, Point{Start: t0.Add(time.Duration(i) * tt.step)})
			}
			tl := newTimeline(d)
			ticks := elapsedTicks{unit: tl.unit}.Ticks(tl.min, tl.max)
			var got []string
			for _, tk := range ticks {
				got = append(got, tk.Label)
			}
			if strings.Join(got, " ") != strings.Join(tt.labels, " ") {
				t.Errorf("labels %q, want %q", got, tt.labels)
			}
			if len(ticks) > maxTimeTicks+1 {
				t.Errorf("%d ticks, want at most %d", len(ticks), maxTimeTicks+1)
			}
			// Neighbouring labels must not overlap even in a data area
			// narrowed by a wide legend.
			sty := newFigure(d, "test").plot.X.Tick.Label
			dataW := float64(width - 2*margin - vg.Points(250))
			for i := 1; i < len(ticks); i++ {
				gap := (ticks[i].Value - ticks[i-1].Value) / (tl.max - tl.min) * dataW
				need := float64(sty.Width(ticks[i].Label)+sty.Width(ticks[i-1].Label))/2 + 4
				if gap < need {
					t.Errorf("labels %q and %q overlap: %v apart, need %v", ticks[i-1].Label, ticks[i].Label, gap, need)
				}
			}
		})
	}
}

// TestNominalLabelsFit checks that bar labels are turned or thinned out
// rather than overlapping.
func TestNominalLabelsFit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		n        int
		label    string
		rotation float64
		thinned  bool
	}{
		{"few short", 3, "login", 0, false},
		{"few long", 4, "GET /api/v1/catalog/items?page=1", 0, false},
		{"some long", 12, "a fairly long request name", math.Pi / 4, false},
		{"many", 120, "step", math.Pi / 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFigure(&Data{}, "test")
			names := make([]string, tt.n)
			for i := range names {
				names[i] = fmt.Sprintf("%s %d", tt.label, i)
			}
			f.nominalX(names)
			sty := f.plot.X.Tick.Label
			if sty.Rotation != tt.rotation {
				t.Errorf("rotation %v, want %v", sty.Rotation, tt.rotation)
			}
			var shown []plot.Tick
			for _, tk := range f.plot.X.Tick.Marker.Ticks(0, float64(tt.n)) {
				if tk.Label != "" {
					shown = append(shown, tk)
				}
			}
			if thinned := len(shown) < tt.n; thinned != tt.thinned {
				t.Errorf("%d of %d labels shown, want thinned %v", len(shown), tt.n, tt.thinned)
			}
			slot := float64(f.dataWidth()) / float64(tt.n)
			h := float64(sty.Height("Xg"))
			for i := 1; i < len(shown); i++ {
				gap := (shown[i].Value - shown[i-1].Value) * slot
				if sty.Rotation == 0 {
					need := float64(sty.Width(shown[i].Label)+sty.Width(shown[i-1].Label)) / 2
					if gap < need {
						t.Errorf("labels %q and %q overlap: %v apart, %v wide", shown[i-1].Label, shown[i].Label, gap, need)
					}
					continue
				}
				// Turned labels are parallel: their distance across is what
				// must hold a line of text.
				if across := gap * math.Sin(sty.Rotation); across < h {
					t.Errorf("turned labels %v apart, want at least %v", across, h)
				}
			}
		})
	}
}

func TestWriteFiles(t *testing.T) {
	t.Parallel()
	imgs, err := Draw(syntheticRun(10, time.Second))
	if err != nil {
		t.Fatalf("Draw: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "charts", "run")
	if err := WriteFiles(dir, imgs, nil); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	for _, img := range imgs {
		for _, f := range []struct {
			ext  string
			want []byte
		}{{".png", img.PNG}, {".svg", img.SVG}} {
			got, err := os.ReadFile(filepath.Join(dir, img.Name+f.ext))
			if err != nil {
				t.Errorf("read %s%s: %v", img.Name, f.ext, err)
				continue
			}
			if !bytes.Equal(got, f.want) {
				t.Errorf("%s%s differs from the image", img.Name, f.ext)
			}
		}
	}
	if err := WriteFiles(dir, []Image{{Name: "../escape"}}, nil); err == nil {
		t.Error("WriteFiles accepted a name with a path separator")
	}
}

func BenchmarkDraw(b *testing.B) {
	d := syntheticRun(1800, time.Second)
	for b.Loop() {
		if _, err := Draw(d); err != nil {
			b.Fatal(err)
		}
	}
}

func maxOf(vs []float64) float64 {
	m := math.Inf(-1)
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}

func minOf(vs []float64) float64 {
	m := math.Inf(1)
	for _, v := range vs {
		m = min(m, v)
	}
	return m
}

func meanOf(vs []float64) float64 {
	var s float64
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}
