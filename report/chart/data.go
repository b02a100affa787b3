// Package chart draws a run's plots with gonum.org/v1/plot, as PNG and SVG:
// latency over time, the HDR percentile spectrum, throughput against the
// target rate, error rates by class, the status-code breakdown and a
// per-request latency comparison.
package chart

import "time"

// Data is everything the plots of one run show. The caller fills it from
// the run's figures; the package draws, and holds no figures of its own.
type Data struct {
	// Title names the run (the scenario's name) in every plot's title.
	Title string
	// Points is the run's time series, all requests together, in time
	// order, one point per interval (1 s by default). It may hold
	// thousands of points (a 30-minute run); plots downsample it.
	Points []Point
	// Interval is the length of each point's interval.
	Interval time.Duration
	// LatencyLines are threshold lines to draw on the latency-over-time
	// plot, such as {"p95 < 800ms", 800}.
	LatencyLines []Line
	// Spans are shaded time regions on the time plots (a fault injected
	// from t1 to t2, say); may be empty.
	Spans []Span
	// Spectrum is the overall latency percentile spectrum, as HdrHistogram
	// plots it: percentiles from 0 up to 99.999 or so, increasing.
	Spectrum []SpectrumPoint
	// StatusCodes counts responses by status ("200", "503"); transport
	// errors by kind use their kind's name ("timeout", "refused").
	StatusCodes map[string]uint64
	// Requests compares the request names' latency.
	Requests []RequestLatency
	// Phases compares the connection phases of all requests: dns,
	// connect, tls and ttfb (each a RequestLatency named after the phase);
	// empty when the run was not traced.
	Phases []RequestLatency
	// Observed are the target's series (observe:), drawn on the same time
	// axis as latency in a plot of their own; none, no plot.
	Observed []ObservedSeries
}

// ObservedSeries is one observed series of the target.
type ObservedSeries struct {
	Name, Unit string
	Points     []ObservedPoint
}

// ObservedPoint is one value of an observed series.
type ObservedPoint struct {
	T time.Time
	V float64
}

// Point is one interval of the time series.
type Point struct {
	Start      time.Time
	Requests   uint64  // HTTP requests completed in the interval
	Successes  uint64  // of which met expectations
	TargetRate float64 // per second, from the schedule; 0 when closed-model
	// Error rates by class, as fractions of Requests (0 when Requests is 0).
	Network, Protocol, Business, System float64
	// Latency in milliseconds; all 0 when Requests is 0.
	Mean, P50, P95, P99, Max float64
}

// Line is a labelled horizontal line.
type Line struct {
	Label string
	Value float64 // milliseconds
}

// Span is a labelled time region.
type Span struct {
	Label      string
	Start, End time.Time
}

// SpectrumPoint is one point of the percentile spectrum.
type SpectrumPoint struct {
	Percentile float64 // 0 to 100 (exclusive)
	Value      float64 // milliseconds
}

// RequestLatency is one request name's latency summary, in milliseconds.
type RequestLatency struct {
	Name          string
	P50, P95, P99 float64
}

// Image is one rendered plot.
type Image struct {
	Name  string // file stem: latency, spectrum, throughput, errors, status, requests, phases
	Title string
	PNG   []byte
	SVG   []byte
}
