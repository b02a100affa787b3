package run

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/report/chart"
)

// More files of a run folder.
const (
	FileStats  = "stats.json"
	FileSeries = "timeseries.jsonl"
	FileHlog   = "latency.hlog"
	FileHTML   = "report.html"
	FileJUnit  = "junit.xml"
	FileMD     = "summary.md"
	DirPlots   = "plots"
)

// Data is what a report is rendered from: the exact figures and the
// time series of one run, or of several merged.
type Data struct {
	Snap   *report.Snapshot
	Series *report.Series
	Dir    string
	// NoPlots leaves the plots out (plots/ and report.html's images).
	NoPlots bool
}

// LoadRun reads a run folder's stats.json and time series. A damaged time
// series is reported as a warning and used up to the damage.
func LoadRun(dir string, warn io.Writer) (*Data, error) {
	f, err := os.Open(filepath.Join(dir, FileStats))
	if err != nil {
		return nil, fmt.Errorf("%s: not a run folder: %v", dir, pathErr(err))
	}
	snap, err := report.ReadSnapshot(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, FileStats), err)
	}
	return &Data{Snap: snap, Dir: dir, Series: loadSeries(dir, warn)}, nil
}

// loadSeries reads a run folder's time series, up to any damage (with a
// warning); nil when there is none.
func loadSeries(dir string, warn io.Writer) *report.Series {
	jf, err := os.Open(filepath.Join(dir, FileSeries))
	if err != nil {
		fmt.Fprintf(warn, "loadgate: warning: %s: no time series (%v); plots and windowed thresholds will be empty\n", dir, pathErr(err))
		return nil
	}
	defer jf.Close()
	var hlog io.Reader
	if hf, err := os.Open(filepath.Join(dir, FileHlog)); err == nil {
		defer hf.Close()
		hlog = hf
	}
	series, err := report.ReadSeries(jf, hlog)
	if err != nil {
		fmt.Fprintf(warn, "loadgate: warning: %s: %v; the time series is used up to there\n", dir, err)
	}
	return series
}

// Merge merges the runs of one split run.
func Merge(runs []*Data) (*Data, error) {
	if len(runs) == 1 {
		return runs[0], nil
	}
	snaps := make([]*report.Snapshot, len(runs))
	series := make([]*report.Series, len(runs))
	for i, r := range runs {
		snaps[i], series[i] = r.Snap, r.Series
	}
	snap, err := report.MergeSnapshots(snaps)
	if err != nil {
		return nil, err
	}
	return &Data{Snap: snap, Series: report.MergeSeries(series...)}, nil
}

// Rendered is a run's report with its plots.
type Rendered struct {
	Report *report.Report
	Charts []chart.Image
	Dir    string
	// Warnings are the files of it that could not be written.
	Warnings []string
}

// Render builds the report of rd and its plots. Plots that cannot be drawn
// leave the report without them, with the error.
func Render(rd *Data) (*Rendered, error) {
	in, err := rd.Snap.Input(rd.Series)
	if err != nil {
		return nil, err
	}
	rep := report.Build(in)
	r := &Rendered{Report: rep, Dir: rd.Dir}
	if rd.NoPlots {
		return r, nil
	}
	if r.Charts, err = chart.Draw(chartData(rep, in, rd.Series)); err != nil {
		return r, fmt.Errorf("draw plots: %w", err)
	}
	return r, nil
}

// files writes rendered files into a folder, each whole or not at all,
// and collects every error.
type Files struct {
	Dir  string
	Out  *outfile.Writer
	errs []error
}

func (f *Files) Put(name string, write func(io.Writer) error) {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		f.errs = append(f.errs, fmt.Errorf("render %s: %w", name, err))
		return
	}
	if err := f.Out.WriteFile(filepath.Join(f.Dir, name), b.Bytes()); err != nil {
		f.errs = append(f.errs, fmt.Errorf("write %s: %w", name, err))
	}
}

func (f *Files) Err() error { return errors.Join(f.errs...) }

// WriteRendered writes a run's report files other than report.json into
// dir (writeReport writes report.json first).
func WriteRendered(out *outfile.Writer, dir string, r *Rendered) error {
	f := &Files{Dir: dir, Out: out}
	put := f.Put
	put(FileSummary, r.Report.WriteText)
	put(FileMD, r.Report.WriteMarkdown)
	put(FileJUnit, func(w io.Writer) error { return report.WriteJUnit(w, []*report.Report{r.Report}) })
	put(FileHTML, func(w io.Writer) error {
		return report.WriteHTML(w, &report.Page{Title: r.Report.Scenario.Name, Runs: []report.PageRun{{Report: r.Report, Charts: r.Charts, Dir: filepath.Base(dir)}}})
	})
	if len(r.Charts) > 0 { // none with --no-plots
		if err := chart.WriteFiles(filepath.Join(dir, DirPlots), r.Charts, out.WriteFile); err != nil {
			f.errs = append(f.errs, fmt.Errorf("write plots: %w", err))
		}
	}
	return f.Err()
}

// chartData gathers what the plots show.
func chartData(rep *report.Report, in report.Input, s *report.Series) *chart.Data {
	d := &chart.Data{Title: rep.Scenario.Name, StatusCodes: map[string]uint64{}}
	for _, f := range rep.Faults {
		d.Spans = append(d.Spans, chart.Span{Label: f.Description, Start: f.Started, End: f.Ended})
	}
	for c, n := range rep.Totals.StatusCodes {
		d.StatusCodes[c] = n
	}
	for _, name := range report.SortedNames(rep.Observed) {
		o := rep.Observed[name]
		os := chart.ObservedSeries{Name: name, Unit: o.Unit}
		for _, p := range o.Points {
			os.Points = append(os.Points, chart.ObservedPoint{T: rep.StartedAt.Add(time.Duration(p[0] * float64(time.Second))), V: p[1]})
		}
		d.Observed = append(d.Observed, os)
	}
	for k, n := range rep.Totals.Errors {
		d.StatusCodes[k] = n
	}
	for _, name := range rep.RequestNames() {
		l := rep.Requests[name].Latency
		d.Requests = append(d.Requests, chart.RequestLatency{Name: name, P50: l.P50, P95: l.P95, P99: l.P99})
	}
	for _, t := range in.Thresholds {
		if t.Metric.Kind == threshold.Duration && t.Request() == "" && !t.Windowed() &&
			(t.Metric.Name == "p50" || t.Metric.Name == "p95" || t.Metric.Name == "p99") {
			d.LatencyLines = append(d.LatencyLines, chart.Line{Label: t.Source, Value: t.Value})
		}
	}
	if p := rep.Phases; p != nil {
		for i, l := range []*report.Latency{p.DNS, p.Connect, p.TLS, p.TTFB} {
			if l != nil {
				d.Phases = append(d.Phases, chart.RequestLatency{Name: []string{"dns", "connect", "tls", "ttfb"}[i], P50: l.P50, P95: l.P95, P99: l.P99})
			}
		}
	}
	total := in.Collector.Total()
	if total.Hist.TotalCount() > 0 {
		for _, q := range spectrumPercentiles() {
			d.Spectrum = append(d.Spectrum, chart.SpectrumPoint{Percentile: q, Value: float64(total.Hist.ValueAtPercentile(q)) / 1e3})
		}
	}
	if s != nil {
		d.Interval = s.Interval
		for _, r := range s.All() {
			p := chart.Point{Start: r.Time(), Requests: r.Requests, Successes: r.Successes, TargetRate: r.TargetRate}
			if r.Logical > 0 {
				n := float64(r.Logical)
				p.Network, p.Protocol, p.Business, p.System = float64(r.Network)/n, float64(r.Protocol)/n, float64(r.Business)/n, float64(r.System)/n
			}
			if r.Requests > 0 {
				p.Mean, p.P50, p.P95, p.P99, p.Max = r.MeanMS, r.P50MS, r.P95MS, r.P99MS, r.MaxMS
			}
			d.Points = append(d.Points, p)
		}
	}
	return d
}

// spectrumPercentiles are the percentiles of the spectrum plot: dense
// where the tail is, as HdrHistogram's plotter samples them.
func spectrumPercentiles() []float64 {
	var out []float64
	for k := 0.0; k <= 5.0; k += 0.05 {
		q := 100 * (1 - math.Pow(10, -k))
		out = append(out, q)
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// targetRate returns the schedule's rate at a time, from the stages that
// have started.
func targetRate(stages []report.StageInfo) func(time.Time) float64 {
	return func(t time.Time) float64 {
		for _, st := range stages {
			if !st.Open || st.Started.IsZero() || t.Before(st.Started) || !t.Before(st.Started.Add(st.Planned)) {
				continue
			}
			frac := float64(t.Sub(st.Started)) / float64(st.Planned)
			return st.Rate + (st.RampTo-st.Rate)*frac
		}
		return 0
	}
}
