package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgate/loadgate/internal/outcome"
)

// DefaultInterval is the length of a time-series interval.
const DefaultInterval = time.Second

// IntervalDigits is the precision of per-interval histograms: two
// significant digits keep each small, since a run holds one per interval
// and request name while it writes them out.
const IntervalDigits = 2

// AllRequests names the time series of all requests together.
const AllRequests = "all"

// IntervalRecord is one line of timeseries.jsonl: the figures of one
// request name (or all) in one interval. Its latency histogram is in
// latency.hlog under the same start time and tag.
type IntervalRecord struct {
	Start      int64   `json:"t"`       // Unix milliseconds
	LengthMS   int64   `json:"len_ms"`  // interval length
	Request    string  `json:"request"` // a request name, or "all"
	Requests   uint64  `json:"requests"`
	Logical    uint64  `json:"logical"`
	Successes  uint64  `json:"successes"`
	Network    uint64  `json:"network"`
	Protocol   uint64  `json:"protocol"`
	Business   uint64  `json:"business"`
	System     uint64  `json:"system"`
	Timeouts   uint64  `json:"timeouts"`
	S2xx       uint64  `json:"s2xx"`
	S3xx       uint64  `json:"s3xx"`
	S4xx       uint64  `json:"s4xx"`
	S5xx       uint64  `json:"s5xx"`
	Transport  uint64  `json:"transport"` // tries with no response
	TargetRate float64 `json:"target_rps,omitempty"`
	// Latency of the tries: exact moments (so intervals merge exactly) and
	// percentiles from the interval histogram, in milliseconds.
	MeanMS float64 `json:"mean_ms"`
	M2     float64 `json:"m2_ns2"` // sum of squared deviations, ns²
	MinMS  float64 `json:"min_ms"`
	MaxMS  float64 `json:"max_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`

	hist *hdrhistogram.Histogram
}

// Time returns the interval's start.
func (r *IntervalRecord) Time() time.Time { return time.UnixMilli(r.Start) }

// Hist returns the interval's latency histogram (microseconds), when it
// was read or recorded.
func (r *IntervalRecord) Hist() *hdrhistogram.Histogram { return r.hist }

// SetHist sets the interval's latency histogram.
func (r *IntervalRecord) SetHist(h *hdrhistogram.Histogram) { r.hist = h }

// newIntervalHist returns an empty per-interval histogram.
func newIntervalHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowest, HistHighest, IntervalDigits)
}

// acc accumulates one request name's figures in one interval.
type acc struct {
	rec      IntervalRecord
	mean, m2 float64
	min, max time.Duration
}

func (a *acc) reset(start int64, length time.Duration, name string, h *hdrhistogram.Histogram) {
	h.Reset()
	*a = acc{rec: IntervalRecord{Start: start, LengthMS: length.Milliseconds(), Request: name, hist: h}}
}

func (a *acc) addTry(t *Try) {
	r := &a.rec
	r.Requests++
	switch {
	case t.Code == 0:
		r.Transport++
	case t.Code < 300:
		r.S2xx++
	case t.Code < 400:
		r.S3xx++
	case t.Code < 500:
		r.S4xx++
	default:
		r.S5xx++
	}
	record(r.hist, t.Latency)
	x := float64(t.Latency)
	d := x - a.mean
	a.mean += d / float64(r.Requests)
	a.m2 += d * (x - a.mean)
	if r.Requests == 1 || t.Latency < a.min {
		a.min = t.Latency
	}
	a.max = max(a.max, t.Latency)
}

func (a *acc) addLogical(l *Logical) {
	r := &a.rec
	r.Logical++
	switch l.Class {
	case outcome.ClassOK:
		r.Successes++
	case outcome.ClassNetwork:
		r.Network++
	case outcome.ClassProtocol:
		r.Protocol++
	case outcome.ClassBusiness:
		r.Business++
	case outcome.ClassSystem:
		r.System++
	}
	if l.Timeout {
		r.Timeouts++
	}
}

// finish fills the summary fields from the accumulated figures.
func (a *acc) finish() *IntervalRecord {
	r := &a.rec
	r.MeanMS, r.M2 = a.mean/1e6, a.m2
	r.MinMS, r.MaxMS = float64(a.min)/1e6, float64(a.max)/1e6
	r.fillPercentiles()
	return r
}

func (r *IntervalRecord) fillPercentiles() {
	if r.hist == nil || r.hist.TotalCount() == 0 {
		r.P50MS, r.P90MS, r.P95MS, r.P99MS = 0, 0, 0, 0
		return
	}
	q := r.hist.ValueAtPercentilesSlice([]float64{50, 90, 95, 99})
	r.P50MS, r.P90MS, r.P95MS, r.P99MS = float64(q[0])/1e3, float64(q[1])/1e3, float64(q[2])/1e3, float64(q[3])/1e3
}

// Timeline buckets results by the time they completed into fixed
// intervals aligned on the wall clock (so the shards of a split run line
// up), and writes each interval out as soon as it closes: the figures to
// timeseries.jsonl, the latency histograms to latency.hlog. It keeps only
// the intervals still open in memory.
type Timeline struct {
	interval time.Duration
	names    []string
	target   func(mid time.Time) float64 // the schedule's rate, or 0
	jw       *bufio.Writer
	hw       *hdrhistogram.HistogramLogWriter
	hbuf     *bufio.Writer
	// open holds two intervals: late results (completing just before the
	// newest interval began) still land in the right one.
	open    [2][]acc // [slot][name], name index len(names) is "all"
	openIdx [2]int64 // interval index of each slot; -1 when unused
	last    int64    // highest interval index written; -1 before the first
	err     error
	// OnInterval, when set, receives each interval of all requests as it
	// is written (for live progress and thresholds).
	OnInterval func(*IntervalRecord)
	// OnRequestInterval, when set, receives each interval of each request
	// name (for the live view's counters).
	OnRequestInterval func(*IntervalRecord)
}

// NewTimeline writes intervals of the given length for the named
// requests. target returns the schedule's rate at a time (0 when there
// is none).
func NewTimeline(interval time.Duration, names []string, target func(time.Time) float64, series, hlog io.Writer) *Timeline {
	if interval <= 0 {
		interval = DefaultInterval
	}
	hb := bufio.NewWriterSize(hlog, 64<<10)
	tl := &Timeline{
		interval: interval, names: names, target: target,
		jw: bufio.NewWriterSize(series, 64<<10), hbuf: hb, hw: hdrhistogram.NewHistogramLogWriter(hb),
		openIdx: [2]int64{-1, -1}, last: -1,
	}
	for s := range tl.open {
		tl.open[s] = make([]acc, len(names)+1)
		for i := range tl.open[s] {
			tl.open[s][i].rec.hist = newIntervalHist()
		}
	}
	_ = tl.hw.OutputLogFormatVersion() // into a buffer: errors surface at Flush
	_ = tl.hw.OutputComment("loadgate latency per interval and request name; values in microseconds (so the max column is in seconds); Tag=all is every request")
	_ = tl.hw.OutputLegend()
	return tl
}

func (tl *Timeline) index(t time.Time) int64 { return t.UnixNano() / int64(tl.interval) }

// slot returns the accumulators of interval idx, opening it (and closing
// older ones) when needed.
func (tl *Timeline) slot(idx int64) []acc {
	if idx <= tl.last {
		// A late result for an interval already written: it counts in
		// the next one.
		idx = tl.last + 1
	}
	for s := range tl.openIdx {
		if tl.openIdx[s] == idx {
			return tl.open[s]
		}
	}
	newest := max(tl.openIdx[0], tl.openIdx[1])
	switch {
	case newest < 0:
	case idx > newest:
		tl.flushBefore(idx - 1)
	case idx == newest-1:
		// The interval before the newest had no result yet: open it.
	default:
		// Older than both open intervals (not yet written, in a gap): it
		// counts in the oldest one still open.
		oldest := 0
		if tl.openIdx[1] >= 0 && (tl.openIdx[0] < 0 || tl.openIdx[1] < tl.openIdx[0]) {
			oldest = 1
		}
		return tl.open[oldest]
	}
	s := 0
	if tl.openIdx[0] >= 0 {
		s = 1
	}
	tl.openSlot(s, idx)
	return tl.open[s]
}

// flushBefore writes, oldest first, the open intervals before idx.
func (tl *Timeline) flushBefore(idx int64) {
	for {
		s := -1
		for i := range tl.openIdx {
			if tl.openIdx[i] >= 0 && tl.openIdx[i] < idx && (s < 0 || tl.openIdx[i] < tl.openIdx[s]) {
				s = i
			}
		}
		if s < 0 {
			return
		}
		tl.flushSlot(s)
	}
}

func (tl *Timeline) openSlot(s int, idx int64) {
	tl.openIdx[s] = idx
	start := time.Unix(0, idx*int64(tl.interval)).UnixMilli()
	for i := range tl.open[s] {
		name := AllRequests
		if i < len(tl.names) {
			name = tl.names[i]
		}
		tl.open[s][i].reset(start, tl.interval, name, tl.open[s][i].rec.hist)
	}
}

// Record adds one logical request of request req, with its tries,
// completed at end.
func (tl *Timeline) Record(req int, end time.Time, tries []Try, l *Logical) {
	accs := tl.slot(tl.index(end))
	for _, a := range []*acc{&accs[req], &accs[len(tl.names)]} {
		for i := range tries {
			a.addTry(&tries[i])
		}
		a.addLogical(l)
	}
}

func (tl *Timeline) flushSlot(s int) {
	idx := tl.openIdx[s]
	if idx < 0 {
		return
	}
	// Intervals with no results since the last one written are written
	// empty, so an outage shows as zero throughput.
	for gap := tl.last + 1; tl.last >= 0 && gap < idx; gap++ {
		tl.writeEmpty(gap)
	}
	all := len(tl.names)
	for i := range tl.open[s] {
		a := &tl.open[s][i]
		if i != all && a.rec.Requests == 0 {
			continue
		}
		rec := a.finish()
		if i == all && tl.target != nil {
			mid := time.UnixMilli(rec.Start).Add(tl.interval / 2)
			rec.TargetRate = tl.target(mid)
		}
		tl.write(rec)
		if i == all && tl.OnInterval != nil {
			tl.OnInterval(rec)
		}
		if i != all && tl.OnRequestInterval != nil {
			tl.OnRequestInterval(rec)
		}
	}
	tl.openIdx[s] = -1
	tl.last = max(tl.last, idx)
}

func (tl *Timeline) writeEmpty(idx int64) {
	start := time.Unix(0, idx*int64(tl.interval))
	rec := &IntervalRecord{Start: start.UnixMilli(), LengthMS: tl.interval.Milliseconds(), Request: AllRequests, hist: newIntervalHist()}
	if tl.target != nil {
		rec.TargetRate = tl.target(start.Add(tl.interval / 2))
	}
	tl.write(rec)
	tl.last = max(tl.last, idx)
	if tl.OnInterval != nil {
		tl.OnInterval(rec)
	}
}

// LateResults is how long after an interval's end Advance keeps it open
// for results that completed in it but reached the recorder later.
const LateResults = 250 * time.Millisecond

// Advance closes the intervals that ended LateResults or more before now,
// even when no result came in them (a target that stopped answering), so
// that live figures and abort thresholds are at most that late.
func (tl *Timeline) Advance(now time.Time) {
	idx := tl.index(now.Add(-LateResults))
	tl.flushBefore(idx)
	for gap := tl.last + 1; tl.last >= 0 && gap < idx; gap++ {
		if tl.openIdx[0] != gap && tl.openIdx[1] != gap {
			tl.writeEmpty(gap)
		}
	}
}

// Add adds o's figures into r, as if they were one interval.
func (r *IntervalRecord) Add(o *IntervalRecord) {
	if r.Start == 0 || o.Start < r.Start {
		r.Start = o.Start
	}
	r.LengthMS += o.LengthMS
	r.merge(o)
}

func (tl *Timeline) write(rec *IntervalRecord) {
	if tl.err != nil {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		tl.err = err
		return
	}
	b = append(b, '\n')
	if _, err := tl.jw.Write(b); err != nil {
		tl.err = err
		return
	}
	h := rec.hist
	h.SetStartTimeMs(rec.Start)
	h.SetEndTimeMs(rec.Start + rec.LengthMS)
	h.SetTag(rec.Request)
	if err := tl.hw.OutputIntervalHistogram(h); err != nil {
		tl.err = fmt.Errorf("write latency.hlog: %w", err)
	}
}

// Close writes the intervals still open and flushes both files.
func (tl *Timeline) Close() error {
	tl.flushBefore(math.MaxInt64)
	if tl.err != nil {
		return tl.err
	}
	if err := tl.jw.Flush(); err != nil {
		return err
	}
	return tl.hbuf.Flush()
}

// Flush writes the intervals written so far to their files, so that a
// process killed later leaves them readable.
func (tl *Timeline) Flush() error {
	if tl.err != nil {
		return tl.err
	}
	if err := tl.jw.Flush(); err != nil {
		tl.err = err
		return err
	}
	if err := tl.hbuf.Flush(); err != nil {
		tl.err = err
	}
	return tl.err
}

// Err reports the first write error, so a run can stop when its disk is
// full.
func (tl *Timeline) Err() error { return tl.err }

// stddev of an interval's tries, in milliseconds.
func (r *IntervalRecord) StdDevMS() float64 {
	if r.Requests == 0 {
		return 0
	}
	return math.Sqrt(r.M2/float64(r.Requests)) / 1e6
}
