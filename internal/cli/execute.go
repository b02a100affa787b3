package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

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

// runOne runs one scenario into dir. It returns the report whenever one
// could be built, with an error when the run failed part way.
func runOne(ctx context.Context, env *Env, sc *scenario.Scenario, dir string) (*report.Report, error) {
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

	fmt.Fprintf(env.Stderr, "loadgate: running %s (%s) against %s for %s -> %s\n",
		sc.Name, sc.File, displayTarget(sc, base), sc.TotalDuration(), dir)
	runErr := runner.Run(ctx, rec)
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
	}{{"raw results", raw.Flush()}, {"raw results", rawFile.Close()}, {"request log", reqLog.Flush()}, {"request log", logFile.Close()}} {
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
	rep := report.Build(in)
	if runErr != nil && rep.Verdict == report.Pass {
		rep.Verdict = report.Fail
	}
	if err := writeRunFiles(env, dir, rep); err != nil {
		return rep, errors.Join(runErr, err)
	}
	return rep, runErr
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

func writeRunFiles(env *Env, dir string, rep *report.Report) error {
	if err := writeJSONFile(filepath.Join(dir, fileReport), rep); err != nil {
		return fmt.Errorf("write %s: %w", fileReport, err)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, b.String())
	fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, fileReport))
	if err := os.WriteFile(filepath.Join(dir, fileSummary), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", fileSummary, err)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
