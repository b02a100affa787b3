package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Series is a run's time series, read back from timeseries.jsonl and
// latency.hlog, or merged from several runs.
type Series struct {
	Interval time.Duration
	// ByRequest holds each request name's intervals, and "all", in time
	// order. Intervals where a request had no result are absent from its
	// list; "all" has every interval from the first to the last.
	ByRequest map[string][]*IntervalRecord
}

// All returns the intervals of all requests together.
func (s *Series) All() []*IntervalRecord { return s.ByRequest[AllRequests] }

// ReadSeries reads a time series. A damaged line ends the reading with an
// error naming it; what was read before it is returned with the error.
func ReadSeries(jsonl, hlog io.Reader) (*Series, error) {
	s := &Series{ByRequest: map[string][]*IntervalRecord{}}
	byKey := map[string]*IntervalRecord{}
	sc := bufio.NewScanner(jsonl)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	var err error
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r IntervalRecord
		if jerr := json.Unmarshal(sc.Bytes(), &r); jerr != nil {
			err = fmt.Errorf("timeseries.jsonl:%d: %v", line, jerr)
			break
		}
		if r.LengthMS > 0 && s.Interval == 0 {
			s.Interval = time.Duration(r.LengthMS) * time.Millisecond
		}
		rec := r
		s.ByRequest[r.Request] = append(s.ByRequest[r.Request], &rec)
		byKey[seriesKey(r.Start, r.Request)] = &rec
	}
	if err == nil {
		err = sc.Err()
	}
	if hlog != nil {
		rd := hdrhistogram.NewHistogramLogReader(hlog)
		for n := 1; ; n++ {
			h, herr := rd.NextIntervalHistogram()
			if herr != nil {
				err = errors.Join(err, fmt.Errorf("latency.hlog: interval %d: %v", n, herr))
				break
			}
			if h == nil {
				break
			}
			if rec := byKey[seriesKey(h.StartTimeMs(), h.Tag())]; rec != nil {
				rec.hist = h
			}
		}
	}
	s.sort()
	return s, err
}

func seriesKey(start int64, name string) string { return fmt.Sprint(start, "/", name) }

func (s *Series) sort() {
	for _, recs := range s.ByRequest {
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Start < recs[j].Start })
	}
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
}

// MergeSeries adds runs' time series interval by interval, aligned by wall
// clock: counts are summed, histograms added, moments combined exactly.
func MergeSeries(parts ...*Series) *Series {
	out := &Series{ByRequest: map[string][]*IntervalRecord{}}
	byKey := map[string]*IntervalRecord{}
	for _, p := range parts {
		if p == nil {
			continue
		}
		if out.Interval == 0 {
			out.Interval = p.Interval
		}
		for name, recs := range p.ByRequest {
			for _, r := range recs {
				k := seriesKey(r.Start, name)
				if have := byKey[k]; have != nil {
					have.merge(r)
					continue
				}
				c := *r
				if r.hist != nil {
					c.hist = newIntervalHist()
					c.hist.Merge(r.hist)
				}
				byKey[k] = &c
				out.ByRequest[name] = append(out.ByRequest[name], &c)
			}
		}
	}
	out.sort()
	return out
}

func (r *IntervalRecord) merge(o *IntervalRecord) {
	n1, n2 := float64(r.Requests), float64(o.Requests)
	if n2 > 0 {
		mean1, mean2 := r.MeanMS*1e6, o.MeanMS*1e6
		n := n1 + n2
		d := mean2 - mean1
		r.M2 += o.M2 + d*d*n1*n2/n
		r.MeanMS = (mean1 + d*n2/n) / 1e6
		if n1 == 0 || o.MinMS < r.MinMS {
			r.MinMS = o.MinMS
		}
		r.MaxMS = math.Max(r.MaxMS, o.MaxMS)
	}
	r.Requests += o.Requests
	r.Logical += o.Logical
	r.Successes += o.Successes
	r.Network += o.Network
	r.Protocol += o.Protocol
	r.Business += o.Business
	r.System += o.System
	r.Timeouts += o.Timeouts
	r.S2xx += o.S2xx
	r.S3xx += o.S3xx
	r.S4xx += o.S4xx
	r.S5xx += o.S5xx
	r.Transport += o.Transport
	r.TargetRate += o.TargetRate
	if o.hist != nil {
		if r.hist == nil {
			r.hist = newIntervalHist()
		}
		r.hist.Merge(o.hist)
	}
	r.fillPercentiles()
}

// WriteSeries writes a series back as timeseries.jsonl and latency.hlog.
func WriteSeries(s *Series, jsonl, hlog io.Writer) error {
	names := make([]string, 0, len(s.ByRequest))
	for n := range s.ByRequest {
		if n != AllRequests {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	tl := NewTimeline(s.Interval, nil, nil, jsonl, hlog)
	var all []*IntervalRecord
	for _, n := range append(names, AllRequests) {
		all = append(all, s.ByRequest[n]...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	for _, r := range all {
		if r.hist == nil {
			r.hist = newIntervalHist()
		}
		tl.write(r)
	}
	if tl.err != nil {
		return tl.err
	}
	if err := tl.jw.Flush(); err != nil {
		return err
	}
	return tl.hbuf.Flush()
}
