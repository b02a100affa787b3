package run

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// TestLiveProgress: without a terminal, one line every 10 s with elapsed
// and remaining time, the rate, p95, errors and thresholds; on a terminal
// the bar's status says the same; --quiet says nothing.
func TestLiveProgress(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ex, err := threshold.Parse("error_rate < 5%")
	if err != nil {
		t.Fatal(err)
	}
	sc := &scenario.Scenario{Thresholds: []scenario.Threshold{{Expr: ex}}}
	stages := []report.StageInfo{{Name: "ramp", Open: true, Rate: 40, RampTo: 40, Planned: time.Minute, Started: t0}}
	// One interval: 40 requests, 2 of them failed, p95 12 ms.
	rec := &report.IntervalRecord{Start: t0.UnixMilli(), LengthMS: 1000, Requests: 40, Logical: 40, Successes: 38, P95MS: 12}
	run := func(mode int) (*live, string) {
		var out bytes.Buffer
		l := newLive(&out, mode, sc, stages, func() {})
		l.stageStart(0, t0)
		l.onInterval(rec)
		for s := 1; s <= 25; s++ {
			l.tick(t0.Add(time.Duration(s) * time.Second))
		}
		return l, out.String()
	}
	_, lines := run(ProgressLines)
	want := "loadgate: ramp 10s, 50s left: 40/s  p95 12ms  errors 5%  thresholds 0/1 ok\n" +
		"loadgate: ramp 20s, 40s left: 40/s  p95 12ms  errors 5%  thresholds 0/1 ok\n"
	if lines != want {
		t.Errorf("lines:\n%s\nwant:\n%s", lines, want)
	}
	l, _ := run(ProgressBars)
	l.mu.Lock()
	status := l.barStatus
	l.mu.Unlock()
	l.close()
	if !strings.HasPrefix(status, "35s left  40/s  p95 12ms") {
		t.Errorf("bar status %q", status)
	}
	if _, quiet := run(ProgressQuiet); quiet != "" {
		t.Errorf("quiet wrote %q", quiet)
	}
}
