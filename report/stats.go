package report

import (
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgate/loadgate/internal/outcome"
)

// Histogram bounds: latencies are recorded in microseconds, from 1 µs to
// one hour, to three significant digits.
const (
	HistLowest  = 1
	HistHighest = int64(time.Hour / time.Microsecond)
	HistDigits  = 3
)

// NewHistogram returns an empty latency histogram with loadgate's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowest, HistHighest, HistDigits)
}

func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us > HistHighest {
		us = HistHighest
	}
	if us < 0 {
		us = 0
	}
	_ = h.RecordValue(us) // cannot fail: clamped to the range
}

// Bounds on the distinct values kept, so that figures stay small.
const (
	maxErrorCodes = 1000
	maxGroups     = 100
	otherGroup    = "(other)"
)

// GroupStats are the figures of one group-by value, counted per try.
type GroupStats struct {
	Requests uint64
	Errors   uint64
	Classes  [outcome.NumClasses]uint64
	Status   map[int]uint64
}

// CheckStats counts one content check.
type CheckStats struct {
	Name    string
	Checked uint64
	Failed  uint64
}

// Stats accumulates the figures of a stream of results. It keeps no
// per-request data: its size does not grow with the number of requests.
//
// HTTP-level figures (status codes, latency, bytes) count every try;
// outcome figures (successes, classes, error codes) count logical
// requests, whose last try decides.
type Stats struct {
	// Per HTTP try.
	Requests    uint64
	Status      [600]uint64
	OtherStatus map[int]uint64 // codes outside 0..599
	Errors      [outcome.NumKinds]uint64
	BytesIn     uint64
	BytesOut    uint64
	Hist        *hdrhistogram.Histogram // microseconds
	mean, m2    float64                 // exact moments of latency in ns (Welford)
	Min, Max    time.Duration
	First, Last time.Time // earliest and latest send
	End         time.Time // latest response end

	// Per logical request.
	Logical   uint64
	Successes uint64
	Classes   [outcome.NumClasses]uint64
	Timeouts  uint64 // logical requests that ended in a timeout
	// Retried counts logical requests sent more than once; Recovered those
	// of them that succeeded in the end.
	Retried, Recovered uint64
	// RetryCauses counts retries by the status that caused them ("429",
	// "503", "network", "401").
	RetryCauses map[string]uint64
	// E2E is the end-to-end latency of logical requests, retries and
	// waits included; nil until a request is retried.
	E2E *hdrhistogram.Histogram
	// Corrected is latency measured from when the schedule meant each
	// request to leave (open-model stages), free of coordinated omission;
	// nil until an open-model request is recorded. For closed-model
	// requests it holds their end-to-end latency.
	Corrected  *hdrhistogram.Histogram
	ErrorCodes map[string]uint64
	Groups     map[string]*GroupStats
	Checks     []CheckStats
}

// NewStats returns empty stats.
func NewStats() *Stats { return &Stats{Hist: NewHistogram()} }

// Try is one HTTP try, reduced to what the figures need.
type Try struct {
	Code int // the status the target sent; 0 for none
	// Err is why the try failed, None when it did not: no answer (Code 0),
	// or an answer that broke after its status (a bad body).
	Err       outcome.Kind
	Timestamp time.Time
	Latency   time.Duration
	BytesIn   uint64
	BytesOut  uint64
	// Group is the try's group-by value ("" for none) and Class its
	// outcome, for the group breakdown: a retried 500 from one backend
	// node counts there even when the retry succeeded.
	Group string
	Class outcome.Class
}

// Logical is the outcome of a logical request.
type Logical struct {
	Class   outcome.Class
	Timeout bool
	Tries   int
	E2E     time.Duration // end to end, retries included
	// Open marks a request of an open-model stage; Corrected is then its
	// latency from the intended send time.
	Open      bool
	Corrected time.Duration
	ErrorCode string
	Code      int // status of the last try, 0 for none
	// RetryCauses are the statuses that caused each retry.
	RetryCauses []string
	// Failed are the indexes of failed checks; Checked whether checks ran.
	Failed  []int
	Checked bool
}

// AddTry records one HTTP try.
func (s *Stats) AddTry(o *Try) {
	s.Requests++
	if o.Err != outcome.None {
		s.Errors[o.Err]++
	}
	switch {
	case o.Code == 0:
	case o.Code > 0 && o.Code < len(s.Status):
		s.Status[o.Code]++
	default:
		if s.OtherStatus == nil {
			s.OtherStatus = map[int]uint64{}
		}
		s.OtherStatus[o.Code]++
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	if o.Group != "" {
		s.group(o.Group).add(o)
	}

	lat := o.Latency
	record(s.Hist, lat)
	x := float64(lat)
	d := x - s.mean
	s.mean += d / float64(s.Requests)
	s.m2 += d * (x - s.mean)
	if s.Requests == 1 || lat < s.Min {
		s.Min = lat
	}
	if lat > s.Max {
		s.Max = lat
	}
	if s.First.IsZero() || o.Timestamp.Before(s.First) {
		s.First = o.Timestamp
	}
	if o.Timestamp.After(s.Last) {
		s.Last = o.Timestamp
	}
	if end := o.Timestamp.Add(lat); end.After(s.End) {
		s.End = end
	}
}

// AddLogical records the outcome of one logical request.
func (s *Stats) AddLogical(l *Logical) {
	s.Logical++
	s.Classes[l.Class]++
	if l.Class == outcome.ClassOK {
		s.Successes++
	}
	if l.Timeout {
		s.Timeouts++
	}
	if l.Tries > 1 {
		s.Retried++
		if l.Class == outcome.ClassOK {
			s.Recovered++
		}
		if s.RetryCauses == nil {
			s.RetryCauses = map[string]uint64{}
		}
		for _, c := range l.RetryCauses {
			s.RetryCauses[c]++
		}
	}
	if l.Tries > 1 || s.E2E != nil {
		if s.E2E == nil {
			s.E2E = s.Hist.Clone() // so far every logical request had one try
		}
		record(s.E2E, l.E2E)
	}
	if l.Open || s.Corrected != nil {
		if s.Corrected == nil {
			// Until now every request was closed-model: corrected is end
			// to end.
			if s.E2E != nil {
				s.Corrected = s.E2E.Clone()
			} else {
				s.Corrected = s.Hist.Clone()
			}
		}
		v := l.E2E
		if l.Open {
			v = l.Corrected
		}
		record(s.Corrected, v)
	}
	if l.ErrorCode != "" {
		if s.ErrorCodes == nil {
			s.ErrorCodes = map[string]uint64{}
		}
		if _, ok := s.ErrorCodes[l.ErrorCode]; ok || len(s.ErrorCodes) < maxErrorCodes {
			s.ErrorCodes[l.ErrorCode]++
		}
	}
	if l.Checked {
		for i := range s.Checks {
			s.Checks[i].Checked++
		}
		for _, f := range l.Failed {
			if f < len(s.Checks) {
				s.Checks[f].Failed++
			}
		}
	}
}

func (s *Stats) group(name string) *GroupStats {
	if s.Groups == nil {
		s.Groups = map[string]*GroupStats{}
	}
	g, ok := s.Groups[name]
	if !ok {
		if len(s.Groups) >= maxGroups {
			name = otherGroup
			if g, ok = s.Groups[name]; ok {
				return g
			}
		}
		g = &GroupStats{}
		s.Groups[name] = g
	}
	return g
}

func (g *GroupStats) add(o *Try) {
	g.Requests++
	g.Classes[o.Class]++
	if o.Class != outcome.ClassOK {
		g.Errors++
	}
	if g.Status == nil {
		g.Status = map[int]uint64{}
	}
	g.Status[o.Code]++
}

// Merge adds the figures of o into s. Moments are combined exactly (Chan et
// al.), histograms bucket by bucket, checks by name.
func (s *Stats) Merge(o *Stats) {
	s.mergeLatency(o)
	s.Requests += o.Requests
	for i, c := range o.Status {
		s.Status[i] += c
	}
	for c, n := range o.OtherStatus {
		if s.OtherStatus == nil {
			s.OtherStatus = map[int]uint64{}
		}
		s.OtherStatus[c] += n
	}
	for i, c := range o.Errors {
		s.Errors[i] += c
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Hist.Merge(o.Hist)
	if s.First.IsZero() || (!o.First.IsZero() && o.First.Before(s.First)) {
		s.First = o.First
	}
	if o.Last.After(s.Last) {
		s.Last = o.Last
	}
	if o.End.After(s.End) {
		s.End = o.End
	}

	s.Logical += o.Logical
	s.Successes += o.Successes
	for i, c := range o.Classes {
		s.Classes[i] += c
	}
	s.Timeouts += o.Timeouts
	s.Retried += o.Retried
	s.Recovered += o.Recovered
	for k, v := range o.RetryCauses {
		if s.RetryCauses == nil {
			s.RetryCauses = map[string]uint64{}
		}
		s.RetryCauses[k] += v
	}
	for k, v := range o.ErrorCodes {
		if s.ErrorCodes == nil {
			s.ErrorCodes = map[string]uint64{}
		}
		s.ErrorCodes[k] += v
	}
	s.mergeGroups(o)
	s.mergeChecks(o)
}

// mergeLatency adds o's latency moments, extremes and end-to-end and
// corrected histograms. It reads s.Requests and s.Hist before o's are added.
func (s *Stats) mergeLatency(o *Stats) {
	if o.Requests > 0 {
		n1, n2 := float64(s.Requests), float64(o.Requests)
		n := n1 + n2
		d := o.mean - s.mean
		s.m2 += o.m2 + d*d*n1*n2/n
		s.mean += d * n2 / n
		if s.Requests == 0 || o.Min < s.Min {
			s.Min = o.Min
		}
		if o.Max > s.Max {
			s.Max = o.Max
		}
	}
	if o.E2E != nil || s.E2E != nil {
		if s.E2E == nil {
			s.E2E = s.Hist.Clone()
		}
		if o.E2E != nil {
			s.E2E.Merge(o.E2E)
		} else {
			s.E2E.Merge(o.Hist)
		}
	}
	if o.Corrected != nil || s.Corrected != nil {
		if s.Corrected == nil {
			s.Corrected = s.Hist.Clone()
		}
		switch {
		case o.Corrected != nil:
			s.Corrected.Merge(o.Corrected)
		case o.E2E != nil:
			s.Corrected.Merge(o.E2E)
		default:
			s.Corrected.Merge(o.Hist)
		}
	}
}

// mergeGroups adds the figures of o's group-by values, value by value.
func (s *Stats) mergeGroups(o *Stats) {
	for k, g := range o.Groups {
		mine := s.group(k)
		mine.Requests += g.Requests
		mine.Errors += g.Errors
		for i, c := range g.Classes {
			mine.Classes[i] += c
		}
		for c, n := range g.Status {
			if mine.Status == nil {
				mine.Status = map[int]uint64{}
			}
			mine.Status[c] += n
		}
	}
}

// mergeChecks adds o's check counts by name; a check s lacks is appended.
func (s *Stats) mergeChecks(o *Stats) {
	for _, c := range o.Checks {
		found := false
		for i := range s.Checks {
			if s.Checks[i].Name == c.Name {
				s.Checks[i].Checked += c.Checked
				s.Checks[i].Failed += c.Failed
				found = true
			}
		}
		if !found {
			s.Checks = append(s.Checks, c)
		}
	}
}

// Mean returns the exact mean latency of the tries.
func (s *Stats) Mean() time.Duration { return time.Duration(s.mean) }

// StdDev returns the exact population standard deviation of try latency.
func (s *Stats) StdDev() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return time.Duration(math.Sqrt(s.m2 / float64(s.Requests)))
}

// Quantile returns the try latency at quantile q (0..100) from the
// histogram.
func (s *Stats) Quantile(q float64) time.Duration {
	return time.Duration(s.Hist.ValueAtPercentile(q)) * time.Microsecond
}

// Count4xx returns the number of tries answered with a 4xx status.
func (s *Stats) Count4xx() uint64 { return s.statusRange(400, 500) }

// Count5xx returns the number of tries answered with a 5xx status.
func (s *Stats) Count5xx() uint64 { return s.statusRange(500, 600) }

func (s *Stats) statusRange(lo, hi int) uint64 {
	var n uint64
	for c := lo; c < hi; c++ {
		n += s.Status[c]
	}
	return n
}

// TransportErrors returns the number of tries that got no response.
func (s *Stats) TransportErrors() uint64 {
	var n uint64
	for _, c := range s.Errors {
		n += c
	}
	return n
}
