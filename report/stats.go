// Package report computes a run's figures as results stream in, evaluates
// thresholds on them and renders them for people and machines.
package report

import (
	"math"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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

// ErrorKind names a transport failure: one that got no HTTP response.
type ErrorKind uint8

// The transport error kinds.
const (
	ErrTimeout ErrorKind = iota
	ErrRefused
	ErrReset
	ErrDNS
	ErrTLS
	ErrClosed  // the connection closed before a response (EOF)
	ErrAborted // cut by loadgate when the run was interrupted
	ErrOther
	numErrorKinds
)

var errorKindNames = [numErrorKinds]string{"timeout", "refused", "reset", "dns", "tls", "closed", "aborted", "other"}

func (k ErrorKind) String() string { return errorKindNames[k] }

// ClassifyError sorts a transport error message into its kind.
func ClassifyError(msg string) ErrorKind {
	switch {
	case strings.HasPrefix(msg, "aborted"):
		return ErrAborted
	case strings.Contains(msg, "Timeout exceeded") || strings.Contains(msg, "timeout") ||
		strings.Contains(msg, "deadline exceeded"):
		return ErrTimeout
	case strings.Contains(msg, "connection refused"):
		return ErrRefused
	case strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe"):
		return ErrReset
	case strings.Contains(msg, "no such host") || strings.Contains(msg, "server misbehaving") ||
		strings.Contains(msg, "lookup "):
		return ErrDNS
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return ErrTLS
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "server closed") ||
		strings.Contains(msg, "malformed HTTP") || strings.Contains(msg, "closed network connection"):
		return ErrClosed
	}
	return ErrOther
}

// Stats accumulates the figures of a stream of results. It keeps no
// per-request data: its size does not grow with the number of requests.
type Stats struct {
	Requests  uint64
	Successes uint64 // responses that met expectations
	Status    [600]uint64
	// OtherStatus counts status codes outside 0..599.
	OtherStatus map[int]uint64
	Errors      [numErrorKinds]uint64
	BytesIn     uint64
	BytesOut    uint64

	Hist *hdrhistogram.Histogram // microseconds
	// Exact moments of latency in nanoseconds (Welford).
	mean, m2 float64
	Min, Max time.Duration

	First, Last time.Time // earliest and latest send
	End         time.Time // latest response end
}

// NewStats returns empty stats.
func NewStats() *Stats { return &Stats{Hist: NewHistogram()} }

// Outcome is one result, reduced to what the figures need.
type Outcome struct {
	Code      int // 0 for a transport error
	OK        bool
	Err       ErrorKind // when Code is 0
	Timestamp time.Time
	Latency   time.Duration
	BytesIn   uint64
	BytesOut  uint64
}

// Add records one outcome.
func (s *Stats) Add(o *Outcome) {
	s.Requests++
	if o.OK {
		s.Successes++
	}
	if o.Code == 0 {
		s.Errors[o.Err]++
	} else if o.Code > 0 && o.Code < len(s.Status) {
		s.Status[o.Code]++
	} else {
		if s.OtherStatus == nil {
			s.OtherStatus = map[int]uint64{}
		}
		s.OtherStatus[o.Code]++
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut

	lat := o.Latency
	us := int64(lat / time.Microsecond)
	if us > HistHighest {
		us = HistHighest
	}
	_ = s.Hist.RecordValue(us) // cannot fail: clamped to the range
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

// Merge adds the figures of o into s. Moments are combined exactly (Chan et
// al.), histograms bucket by bucket.
func (s *Stats) Merge(o *Stats) {
	if o.Requests == 0 {
		return
	}
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
	s.Requests += o.Requests
	s.Successes += o.Successes
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
}

// Mean returns the exact mean latency.
func (s *Stats) Mean() time.Duration { return time.Duration(s.mean) }

// StdDev returns the exact population standard deviation of latency.
func (s *Stats) StdDev() time.Duration {
	if s.Requests == 0 {
		return 0
	}
	return time.Duration(math.Sqrt(s.m2 / float64(s.Requests)))
}

// Quantile returns the latency at quantile q (0..100) from the histogram.
func (s *Stats) Quantile(q float64) time.Duration {
	return time.Duration(s.Hist.ValueAtPercentile(q)) * time.Microsecond
}

// Count4xx returns the number of responses with a 4xx status.
func (s *Stats) Count4xx() uint64 { return s.statusRange(400, 500) }

// Count5xx returns the number of responses with a 5xx status.
func (s *Stats) Count5xx() uint64 { return s.statusRange(500, 600) }

func (s *Stats) statusRange(lo, hi int) uint64 {
	var n uint64
	for c := lo; c < hi; c++ {
		n += s.Status[c]
	}
	return n
}

// TransportErrors returns the number of requests that got no response.
func (s *Stats) TransportErrors() uint64 {
	var n uint64
	for _, c := range s.Errors {
		n += c
	}
	return n
}
