package run

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/loadgate/loadgate/internal/dashboard"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// Progress display modes.
const (
	ProgressQuiet = iota // nothing
	ProgressLines        // one short line every 10 s (CI logs)
	ProgressBars         // bars on a terminal
)

// ProgressMode picks bars on a terminal, lines elsewhere, nothing when
// quiet.
func ProgressMode(stderr io.Writer, quiet bool) int {
	if quiet {
		return ProgressQuiet
	}
	w := stderr
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap() // the terminal under the masking writer
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return ProgressBars
	}
	return ProgressLines
}

// live follows a run as it goes: progress for people, and the thresholds
// that abort a run once lost. It hears from the consumer's goroutine only.
type live struct {
	out      io.Writer
	mode     int
	interval time.Duration
	stages   []report.StageInfo
	ths      []scenario.Threshold

	start  time.Time
	cum    report.IntervalRecord // every interval so far
	last   report.IntervalRecord // the latest interval
	recent []*report.IntervalRecord
	maxWin int // intervals the longest windowed rule needs

	abort   func()
	aborted string

	failing   int
	held      []dashboard.Threshold // the thresholds checked live, and whether each holds
	lastLine  time.Time
	stage     int
	bars      *mpb.Progress
	bar       *mpb.Bar
	mu        sync.Mutex // guards the text the bar's decorator reads
	barStatus string
}

func newLive(out io.Writer, mode int, sc *scenario.Scenario, stages []report.StageInfo, abort func()) *live {
	l := &live{out: out, mode: mode, interval: sc.Interval(), stages: stages, ths: sc.Thresholds, abort: abort, stage: -1}
	for _, t := range sc.Thresholds {
		if t.Expr.Window > 0 {
			l.maxWin = max(l.maxWin, int(math.Ceil(float64(t.Expr.Window)/float64(l.interval))))
		}
		if t.Expr.Consecutive > 0 {
			l.maxWin = max(l.maxWin, t.Expr.Consecutive)
		}
	}
	if mode == ProgressBars {
		l.bars = mpb.New(mpb.WithOutput(out), mpb.WithWidth(32), mpb.WithRefreshRate(250*time.Millisecond))
	}
	return l
}

// stageStart begins a stage's bar or line.
func (l *live) stageStart(i int, at time.Time) {
	if l.start.IsZero() {
		l.start = at
	}
	l.stage, l.lastLine = i, at
	if l.bars == nil {
		return
	}
	st := l.stages[i]
	name := fmt.Sprintf("%s %s", st.Name, describeLoad(st))
	l.bar = l.bars.AddBar(max(st.Planned.Milliseconds(), 1),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.Elapsed(decor.ET_STYLE_MMSS)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.barStatus
		})),
	)
}

func describeLoad(st report.StageInfo) string {
	switch {
	case !st.Open:
		return fmt.Sprintf("%d workers", st.Concurrency)
	case st.Rate != st.RampTo:
		return fmt.Sprintf("%s→%s", FmtRateShort(st.Rate), FmtRateShort(st.RampTo))
	}
	return FmtRateShort(st.Rate)
}

func FmtRateShort(v float64) string { return threshold.FormatValue(threshold.PerSecond, v) }

// stageEnd completes a stage's bar.
func (l *live) stageEnd(i int) {
	if l.bar != nil {
		l.bar.SetCurrent(max(l.stages[i].Planned.Milliseconds(), 1))
		l.bar = nil
	}
}

// onInterval hears of each interval of all requests.
func (l *live) onInterval(rec *report.IntervalRecord) {
	l.last = *rec
	l.cum.Add(rec)
	if l.maxWin > 0 {
		c := *rec
		l.recent = append(l.recent, &c)
		if len(l.recent) > l.maxWin {
			l.recent = l.recent[len(l.recent)-l.maxWin:]
		}
	}
	l.check(rec.Time().Add(time.Duration(rec.LengthMS) * time.Millisecond))
}

// check evaluates the thresholds live; an abort threshold lost after its
// grace period stops the run.
func (l *live) check(now time.Time) {
	l.failing = 0
	l.held = l.held[:0]
	elapsed := now.Sub(l.start)
	for _, t := range l.ths {
		e := t.Expr
		if !threshold.Windowable(e.Metric.Name) || e.Request() != "" {
			continue // measured on the whole run only
		}
		lost := false
		switch {
		case e.Consecutive > 0:
			if len(l.recent) >= e.Consecutive {
				lost = true
				for _, r := range l.recent[len(l.recent)-e.Consecutive:] {
					lost = lost && e.Holds(report.WindowValue(e.Metric.Name, r, l.interval))
				}
			}
		case e.Window > 0:
			var w report.IntervalRecord
			for _, r := range l.recent {
				w.Add(r)
			}
			if v := report.WindowValue(e.Metric.Name, &w, time.Duration(len(l.recent))*l.interval); !math.IsNaN(v) {
				lost = e.Holds(v)
			}
		default:
			v := report.WindowValue(e.Metric.Name, &l.cum, elapsed)
			lost = !math.IsNaN(v) && !e.Holds(v)
		}
		l.held = append(l.held, dashboard.Threshold{Expr: e.Source, OK: !lost})
		if !lost {
			continue
		}
		l.failing++
		if t.Abort && elapsed >= t.After && l.aborted == "" {
			l.aborted = fmt.Sprintf("aborted after %s: threshold %q was lost", elapsed.Round(100*time.Millisecond), e.Source)
			l.abort()
		}
	}
}

// tick updates the display.
func (l *live) tick(now time.Time) {
	if l.mode == ProgressQuiet || l.stage < 0 {
		return
	}
	st := l.stages[l.stage]
	elapsed := now.Sub(st.Started)
	rate := float64(l.last.Requests) / (float64(max(l.last.LengthMS, 1)) / 1000)
	errRate := math.NaN()
	if l.cum.Logical > 0 {
		errRate = float64(l.cum.Logical-l.cum.Successes) / float64(l.cum.Logical)
	}
	status := fmt.Sprintf("%s  p95 %s  errors %s", FmtRateShort(rate), threshold.FormatValue(threshold.Duration, l.last.P95MS),
		threshold.FormatValue(threshold.Ratio, errRate))
	if len(l.ths) > 0 {
		status += fmt.Sprintf("  thresholds %d/%d ok", len(l.ths)-l.failing, len(l.ths))
	}
	remaining := max(st.Planned-elapsed, 0).Round(time.Second)
	switch l.mode {
	case ProgressBars:
		l.mu.Lock()
		l.barStatus = fmt.Sprintf("%s left  %s", remaining, status)
		l.mu.Unlock()
		if l.bar != nil {
			l.bar.SetCurrent(min(elapsed.Milliseconds(), max(st.Planned.Milliseconds()-1, 0)))
		}
	case ProgressLines:
		if now.Sub(l.lastLine) < 10*time.Second {
			return
		}
		l.lastLine = now
		fmt.Fprintf(l.out, "loadgate: %s %s, %s left: %s\n", st.Name, elapsed.Round(time.Second), remaining,
			strings.TrimSpace(status))
	}
}

// close ends the display.
func (l *live) close() {
	if l.bars != nil {
		if l.bar != nil {
			l.bar.Abort(false)
		}
		l.bars.Wait()
		l.bars, l.bar = nil, nil
	}
}
