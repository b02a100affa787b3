package report

import (
	"io"
	"testing"
	"time"
)

// BenchmarkRecord is the per-result cost of the figures: the request's
// and the stage's Stats and the time series.
func BenchmarkRecord(b *testing.B) {
	c := NewCollector([]string{"a", "b"}, []string{"GET", "GET"}, []string{"/a", "/b"}, [][]string{{"x"}, nil},
		[]StageInfo{{Name: "s", Planned: time.Hour}})
	c.StageStarted(0, t0)
	tl := NewTimeline(time.Second, c.Names, nil, io.Discard, io.Discard)
	tries := []Try{{Code: 200, Latency: 750 * time.Microsecond, BytesIn: 10}}
	l := &Logical{Tries: 1, Code: 200, Checked: true}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at := t0.Add(time.Duration(i) * 20 * time.Microsecond)
		tries[0].Timestamp = at
		c.Record(0, i&1, tries, l)
		tl.Record(i&1, at.Add(tries[0].Latency), tries, l)
		i++
	}
}

// BenchmarkPhases is the cost of recording one try's phase timings.
func BenchmarkPhases(b *testing.B) {
	p := NewPhaseStats()
	s := &PhaseSample{TTFB: 600 * time.Microsecond, Reused: true}
	b.ReportAllocs()
	for b.Loop() {
		p.Add(s)
	}
}
