package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/buildinfo"
	"github.com/loadgate/loadgate/internal/reqlog"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// Files of a run folder.
const (
	fileReport  = "report.json"
	fileSummary = "summary.txt"
	fileRaw     = "results.gob"
	fileLog     = "requests.jsonl"
)

// runOne runs one scenario into dir. It returns the rendered report
// whenever one could be built, with an error when the run failed part way.
func runOne(ctx context.Context, env *Env, sc *scenario.Scenario, dir string) (*rendered, error) {
	base := sc.Target.BaseURL
	var notes []string
	if base == scenario.Embedded {
		srv, err := fixtures.Start("127.0.0.1:0", fixtureOptions(sc.Fixture))
		if err != nil {
			return nil, fmt.Errorf("start the embedded fixture API: %w", err)
		}
		defer srv.Close()
		base = srv.URL
	} else if !reflect.DeepEqual(sc.Fixture, scenario.Fixture{}) {
		notes = append(notes, "the fixture: settings were ignored: the target is not the embedded fixture API")
	}
	if sc.HTTP.InsecureTLS {
		notes = append(notes, "TLS certificate checks were off (http.insecure_tls)")
	}
	pr := prepare(sc, base)
	runner, err := attack.New(pr.plan)
	if err != nil {
		return nil, err
	}

	rawFile, err := os.Create(filepath.Join(dir, fileRaw))
	if err != nil {
		return nil, fmt.Errorf("create raw results file: %w", err)
	}
	raw := bufio.NewWriterSize(rawFile, 256<<10)
	logFile, err := os.Create(filepath.Join(dir, fileLog))
	if err != nil {
		rawFile.Close()
		return nil, fmt.Errorf("create request log: %w", err)
	}
	reqLog := reqlog.New(logFile, sc.LogMaxSize())
	rec := newRecorder(pr, vegeta.NewEncoder(raw), reqLog)
	seriesFile, err1 := os.Create(filepath.Join(dir, fileSeries))
	hlogFile, err2 := os.Create(filepath.Join(dir, fileHlog))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("create time series: %w", err)
	}
	interval := sc.Interval()
	rec.tl = report.NewTimeline(interval, rec.col.Names, targetRate(rec.col.Stages), seriesFile, hlogFile)

	fmt.Fprintf(env.Stderr, "loadgate: running %s (%s) against %s for %s -> %s\n",
		sc.Name, sc.File, displayTarget(sc, base), sc.TotalDuration(), dir)
	runErr := runner.Run(ctx, rec)
	if ctx.Err() != nil {
		fmt.Fprintf(env.Stderr, "loadgate: stopped after %d requests; writing what was gathered\n", rec.n)
	}
	var stopped string
	var exhausted *attack.ErrExhausted
	switch {
	case errors.Is(runErr, context.Canceled):
		runErr = nil // an interrupt: the report says so
	case errors.As(runErr, &exhausted):
		stopped, runErr = exhausted.Error(), nil
	}
	for _, c := range []struct {
		what string
		err  error
	}{
		{"raw results", raw.Flush()}, {"raw results", rawFile.Close()},
		{"request log", reqLog.Flush()}, {"request log", logFile.Close()},
		{"time series", rec.tl.Close()}, {"time series", seriesFile.Close()}, {"time series", hlogFile.Close()},
	} {
		if c.err != nil && runErr == nil {
			runErr = fmt.Errorf("write %s: %w", c.what, c.err)
		}
	}

	info := report.ScenarioInfo{
		Name: sc.Name, Description: sc.Description, File: sc.File,
		Target: displayTarget(sc, base), Environment: sc.Target.Environment,
	}
	exprs := make([]threshold.Expr, len(sc.Thresholds))
	for i, t := range sc.Thresholds {
		exprs[i] = t.Expr
	}
	in := report.Input{
		Collector: rec.col, Scenario: info, Meta: runMeta(), Thresholds: exprs, Examples: rec.examples,
		Stopped: stopped, Notes: notes,
		RequestLog: &report.LogSummary{File: fileLog, Lines: reqLog.Lines(), Dropped: reqLog.Dropped(), CapBytes: sc.LogMaxSize(), Sample: sc.LogSample()},
	}
	if st := runner.AuthStats(); st != nil {
		in.Auth = &report.AuthSummary{
			Type: sc.Auth.Type, TokenRequests: st.Requests, TokenFailures: st.Failures, ForcedRefreshes: st.Forced,
			MaxMS: float64(st.MaxLat.Microseconds()) / 1e3, LastError: pr.redactor.String(st.LastError),
		}
		if st.Requests > 0 {
			in.Auth.MeanMS = float64(st.Latency.Microseconds()) / 1e3 / float64(st.Requests)
		}
	}
	r, err := finishRun(env, dir, rec.col, in, interval)
	if err != nil {
		return r, errors.Join(runErr, err)
	}
	return r, runErr
}

// finishRun writes the run's exact figures (stats.json), then renders its
// reports from what was written, as 'loadgate report' would.
func finishRun(env *Env, dir string, col *report.Collector, in report.Input, interval time.Duration) (*rendered, error) {
	snap, err := col.Snapshot(in, interval)
	if err != nil {
		return nil, fmt.Errorf("encode figures: %w", err)
	}
	var b bytes.Buffer
	if err := snap.WriteJSON(&b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, fileStats), b.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", fileStats, err)
	}
	rd, err := loadRun(dir, env.Stderr)
	if err != nil {
		return nil, err
	}
	r, err := render(rd)
	if err != nil {
		return nil, err
	}
	if err := writeRendered(dir, r); err != nil {
		return r, err
	}
	fmt.Fprint(env.Stdout, mustText(r.rep))
	fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, fileHTML))
	return r, nil
}

func mustText(r *report.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b) // a strings.Builder does not fail
	return b.String()
}

func displayTarget(sc *scenario.Scenario, base string) string {
	if sc.Target.BaseURL == scenario.Embedded {
		return "embedded fixture API at " + base
	}
	return base
}

func runMeta() report.Meta {
	host, _ := os.Hostname() // an unknown host name is left empty
	return report.Meta{
		LoadgateVersion: buildinfo.Version, GoVersion: buildinfo.GoVersion(), Host: host,
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
