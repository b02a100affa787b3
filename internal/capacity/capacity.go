// Package capacity searches for the highest rate a target holds within its
// SLOs: open-model steps, each a whole run, stepping up until one fails,
// then bisecting; and writes the capacity folder.
package capacity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/report/chart"
)

// Files of a capacity folder, and the bounds of a search.
const (
	FileJSON = "capacity.json"
	FileHTML = "capacity.html"
	FileMD   = "capacity.md"
	// MinRate is where a search that finds no passing rate gives up.
	MinRate = 1.0
	// MaxSteps bounds a search, whatever its settings.
	MaxSteps = 60
)

// Config is a search, parsed.
type Config struct {
	report.CapacitySearch
	Step, Pause time.Duration
	// Guard checks every redirect of the steps (the production guard).
	Guard attack.HostGuard
	// Raw is each step's raw results format.
	Raw string
}

// StepFunc runs one step at a rate and returns its verdict.
type StepFunc func(rate float64) (string, error)

// roundRate keeps rates to a tenth of a request per second.
func roundRate(r float64) float64 { return math.Max(math.Round(r*10)/10, 0.1) }

// Search steps the rate up by the factor until a step fails (or
// --max passes), steps down when the first one fails, then bisects
// between the last pass and the first fail until they are within the
// precision. It returns how the search ended.
func Search(cfg report.CapacitySearch, step StepFunc) (string, error) {
	var lastPass, firstFail float64
	tried := map[float64]bool{}
	run := func(r float64) (string, error) {
		tried[r] = true
		v, err := step(r)
		if err != nil {
			return "", err
		}
		switch v {
		case report.Pass:
			lastPass = math.Max(lastPass, r)
		case report.Fail:
			if firstFail == 0 || r < firstFail {
				firstFail = r
			}
		}
		return v, nil
	}
	stop := func(v string) (string, bool) {
		switch v {
		case report.Inconclusive:
			return report.CapGeneratorLimited, true
		case report.Interrupted:
			return report.CapInterrupted, true
		}
		return "", false
	}
	// Up until a step fails.
	r := roundRate(cfg.StartRPS)
	for n := 0; ; n++ {
		v, err := run(r)
		if err != nil {
			return "", err
		}
		if res, done := stop(v); done {
			return res, nil
		}
		if v != report.Pass {
			break
		}
		if r >= cfg.MaxRPS {
			return report.CapAtMax, nil
		}
		r = math.Min(roundRate(r*cfg.Factor), cfg.MaxRPS)
		if n >= MaxSteps {
			return report.CapAtMax, nil
		}
	}
	// Down when nothing passed yet.
	for lastPass == 0 {
		r = roundRate(r / cfg.Factor)
		if r < MinRate || len(tried) >= MaxSteps {
			return report.CapNone, nil
		}
		v, err := run(r)
		if err != nil {
			return "", err
		}
		if res, done := stop(v); done {
			return res, nil
		}
	}
	// Bisect.
	for (firstFail-lastPass)/lastPass > cfg.Precision && len(tried) < MaxSteps {
		mid := roundRate((lastPass + firstFail) / 2)
		if tried[mid] {
			break
		}
		v, err := run(mid)
		if err != nil {
			return "", err
		}
		if res, done := stop(v); done {
			return res, nil
		}
	}
	return report.CapFound, nil
}
func Run(ctx context.Context, env *run.Env, sc *scenario.Scenario, dir string, cfg *Config) (*report.Capacity, error) {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	var maxWorkers int
	for _, st := range sc.Stages {
		if st.Open() && st.MaxWorkers > 0 {
			maxWorkers = st.MaxWorkers
		}
	}
	capRep := &report.Capacity{
		SchemaVersion: report.SchemaVersion, StartedAt: now(), Search: cfg.CapacitySearch, Meta: run.Meta(run.Sharding{Count: 1}),
		Scenario: report.ScenarioInfo{Name: sc.Name, Description: sc.Description, File: sc.File, Environment: sc.Target.Environment},
	}
	for _, t := range sc.Thresholds {
		capRep.SLOs = append(capRep.SLOs, t.Expr.Source)
	}
	capRep.TargetModel = targetModel(sc)
	quiet := *env
	quiet.Stdout = io.Discard
	fmt.Fprintf(env.Stderr, "loadgate: capacity of %s: %s for %s per step, from %s, SLOs %s -> %s\n",
		sc.Name, "open-model steps", cfg.Step, run.FmtRateShort(cfg.StartRPS), strings.Join(capRep.SLOs, ", "), dir)
	step := func(rate float64) (string, error) {
		if len(capRep.Steps) > 0 && cfg.Pause > 0 {
			select {
			case <-ctx.Done():
				return report.Interrupted, nil
			case <-time.After(cfg.Pause):
			}
		}
		n := len(capRep.Steps) + 1
		s := *sc
		r := scenario.Rate{PerSecond: rate, Text: strconv.FormatFloat(rate, 'f', -1, 64) + "/s"}
		s.Stages = []scenario.Stage{{Name: fmt.Sprintf("step %d", n), Duration: scenario.Duration(cfg.Step), Rate: &r, MaxWorkers: maxWorkers}}
		rel := filepath.Join("steps", fmt.Sprintf("%02d-%srps", n, strconv.FormatFloat(rate, 'f', -1, 64)))
		stepDir, err := run.PrepareDir(filepath.Join(dir, rel), true)
		if err != nil {
			return "", err
		}
		rd, err := run.One(ctx, &quiet, &s, stepDir, cfg.Raw, run.Sharding{Count: 1}, run.ProgressQuiet, cfg.Guard)
		if rd == nil {
			return "", err
		}
		if err != nil {
			return "", err
		}
		st := report.CapacityStepOf(n, rate, rd.Report, filepath.ToSlash(rel))
		capRep.Steps = append(capRep.Steps, st)
		capRep.Scenario.Target = rd.Report.Scenario.Target
		fmt.Fprintf(env.Stderr, "loadgate: step %d at %s: sent %s, throughput %s, p95 %s, errors %s: %s\n", n, run.FmtRateShort(rate),
			run.FmtRateShort(st.RateRPS), run.FmtRateShort(st.ThroughputRPS), threshold.FormatValue(threshold.Duration, st.Latency.P95),
			threshold.FormatValue(threshold.Ratio, st.ErrorRate), strings.ToUpper(st.Verdict))
		return st.Verdict, nil
	}
	result, searchErr := Search(cfg.CapacitySearch, step)
	if searchErr != nil {
		result = report.CapInterrupted
		capRep.Notes = append(capRep.Notes, "the search stopped on an error: "+searchErr.Error())
	}
	capRep.EndedAt = now()
	capRep.Finish(result)
	if err := write(env.Files, dir, capRep); err != nil {
		return capRep, errors.Join(searchErr, err)
	}
	return capRep, searchErr
}

// write writes the capacity folder's files.
func write(out *outfile.Writer, dir string, c *report.Capacity) error {
	data := &chart.CapacityData{Title: c.Scenario.Name, Knee: -1, CapacityRPS: c.CapacityRPS}
	for i, s := range c.Steps {
		data.Steps = append(data.Steps, chart.CapacityPoint{TargetRPS: s.TargetRPS, ThroughputRPS: s.ThroughputRPS,
			P50: s.Latency.P50, P95: s.Latency.P95, P99: s.Latency.P99, ErrorRate: s.ErrorRate, Pass: s.Verdict == report.Pass})
		if c.Knee != nil && c.Knee.Step == s.N {
			data.Knee = i
		}
	}
	for _, src := range c.SLOs {
		e, err := threshold.Parse(src)
		if err != nil || e.Request() != "" || e.Window > 0 || e.Consecutive > 0 {
			continue
		}
		switch e.Metric.Kind {
		case threshold.Duration:
			data.LatencyLines = append(data.LatencyLines, chart.Line{Label: src, Value: e.Value})
		case threshold.Ratio:
			if strings.Contains(e.Metric.Name, "error") {
				data.ErrorLines = append(data.ErrorLines, chart.Line{Label: src, Value: e.Value})
			}
		}
	}
	imgs, err := chart.DrawCapacity(data)
	if err != nil {
		return err
	}
	if err := chart.WriteFiles(filepath.Join(dir, run.DirPlots), imgs, out.WriteFile); err != nil {
		return err
	}
	var js, html, md, txt bytes.Buffer
	for _, w := range []func() error{
		func() error { return c.WriteJSON(&js) },
		func() error { return report.WriteCapacityHTML(&html, c, imgs) },
		func() error { return c.WriteMarkdown(&md) },
		func() error { return c.WriteText(&txt) },
	} {
		if err := w(); err != nil {
			return err
		}
	}
	for name, b := range map[string][]byte{FileJSON: js.Bytes(), FileHTML: html.Bytes(), FileMD: md.Bytes(), "summary.txt": txt.Bytes()} {
		if err := out.WriteFile(filepath.Join(dir, name), b); err != nil {
			return fmt.Errorf("write %s: %v", name, err)
		}
	}
	return nil
}

// targetModel describes the embedded fixture's service model, when the
// scenario's target is the fixture with its model on.
func targetModel(sc *scenario.Scenario) *report.TargetModel {
	if sc.Target.BaseURL != scenario.Embedded {
		return nil
	}
	o := run.FixtureOptions(sc.Fixture)
	if !o.Service.On() {
		return nil
	}
	m := &report.TargetModel{Description: "the embedded fixture, " + o.Service.WithDefaults().String()}
	if l := o.Faults.Latency; l.Distribution == "" || l.Distribution == "fixed" {
		m.Description += ", service time " + l.Fixed.String()
		m.CapacityRPS = math.Round(o.Service.Capacity(l.Fixed)*10) / 10
	}
	return m
}
