package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

type reportOptions struct {
	format     string
	out        string
	thresholds []string
}

func (o *reportOptions) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "text", "what to print: text, json, html, junit or md")
	fs.StringVar(&o.out, "out", "", "write every report file (report.json, report.html, junit.xml, summary.md, plots, and the merged figures) into this folder")
	fs.StringArrayVar(&o.thresholds, "threshold", nil, "with a raw results file: a threshold to check, such as 'p95 < 800ms' (repeat for more)")
}

func reportCommand() *command {
	c := &command{
		name:    "report",
		summary: "Render a run's reports again, or merge the runs of a split run",
		usage: `loadgate report RUN_DIR... [--format text|json|html|junit|md] [--out DIR]
		loadgate report RESULTS_FILE [--threshold EXPR]... [--format ...]`,
		details: `Renders reports from what a run folder stores (stats.json, timeseries.jsonl,
latency.hlog), without the raw results. Several run folders (the shards of
one split run) are merged exactly: histograms added, counts summed, time
series aligned by wall clock; thresholds are evaluated on the merged figures.
A suite folder renders its suite report again. A raw results file
(results.lgr, or a gob, CSV or JSON file of the vegeta CLI) is read whole and
its figures computed from scratch; --threshold gives it thresholds.

The exit code is the verdict's, as for 'loadgate run': 0 pass, 1 a threshold
failed, 3 the run was interrupted.

Examples:
  loadgate report results/20261124T081537Z-normal
  loadgate report results/20261124T081537Z-normal --format md > comment.md
  loadgate report shard-0 shard-1 shard-2 shard-3 --out merged
  loadgate report results/20261124T090000Z-suite --format junit`,
	}
	var o reportOptions
	c.flags = o.register
	c.run = func(_ context.Context, env *Env, args []string) error {
		o = reportOptions{}
		fs := newFlagSet(c)
		o.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		switch o.format {
		case "text", "json", "html", "junit", "md":
		default:
			return usageErr("", "--format %q: want text, json, html, junit or md", o.format)
		}
		if fs.NArg() == 0 {
			return usageErr("give a run folder, such as: loadgate report results/20261124T081537Z-normal", "report: no run folder given")
		}
		if fs.NArg() == 1 {
			if _, err := os.Stat(filepath.Join(fs.Arg(0), "suite.json")); err == nil {
				return reportSuite(env, fs.Arg(0), &o)
			}
			if run.IsRawFile(fs.Arg(0)) {
				return reportRaw(env, fs.Arg(0), &o)
			}
		}
		if len(o.thresholds) > 0 {
			return usageErr("a run folder's thresholds are the scenario's", "--threshold applies to a raw results file")
		}
		if fs.NArg() == 1 {
			if r, err := run.KilledRun(fs.Arg(0), env.engine()); r != nil || err != nil {
				if err != nil {
					return err
				}
				return printRun(env, o.format, r)
			}
		}
		return reportRuns(env, fs.Args(), &o)
	}
	return c
}

// reportRuns renders the run folders dirs, merged when there are several,
// and writes the merged folder to --out when given.
func reportRuns(env *Env, dirs []string, o *reportOptions) error {
	var runs []*run.Data
	for _, dir := range dirs {
		rd, err := run.LoadRun(dir, env.Stderr)
		if err != nil {
			return usageErr("a run folder holds stats.json, written by 'loadgate run'", "%v", err)
		}
		runs = append(runs, rd)
	}
	merged, err := run.Merge(runs)
	if err != nil {
		return usageErr("only the shards of one scenario merge", "%v", err)
	}
	r, err := run.Render(merged)
	if err != nil {
		return withCode(ExitRunFail, err, "")
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return withCode(ExitRunFail, fmt.Errorf("create %s: %v", o.out, cleanPathErr(err)), "")
		}
		r.Dir = o.out
		if err := writeMerged(env.Files, o.out, merged); err != nil {
			return withCode(ExitRunFail, err, "")
		}
		if err := run.WriteReport(env.Files, o.out, r, nil); err != nil {
			return withCode(ExitRunFail, err, "")
		}
		if len(r.Warnings) > 0 {
			return withCode(ExitRunFail, errors.New(strings.Join(r.Warnings, "; ")), "")
		}
	}
	return printRun(env, o.format, r)
}

// printRun prints r's report in format and returns the exit of its
// verdict.
func printRun(env *Env, format string, r *run.Rendered) error {
	if err := printFormat(env.Stdout, format, []*run.Rendered{r}, "", false); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	return verdictErr{exitCode(r.Report)}
}

// writeMerged writes merged figures, so a merged folder can itself be
// rendered or merged again.
func writeMerged(out *outfile.Writer, dir string, rd *run.Data) error {
	var b bytes.Buffer
	if err := rd.Snap.WriteJSON(&b); err != nil {
		return err
	}
	if err := out.WriteFile(filepath.Join(dir, run.FileStats), b.Bytes()); err != nil {
		return err
	}
	if rd.Series == nil {
		return nil
	}
	var js, hl bytes.Buffer
	if err := report.WriteSeries(rd.Series, &js, &hl); err != nil {
		return err
	}
	if err := out.WriteFile(filepath.Join(dir, run.FileSeries), js.Bytes()); err != nil {
		return err
	}
	return out.WriteFile(filepath.Join(dir, run.FileHlog), hl.Bytes())
}

// printFormat prints runs' reports in one format.
func printFormat(w io.Writer, format string, runs []*run.Rendered, verdict string, suite bool) error {
	reps := make([]*report.Report, len(runs))
	for i, r := range runs {
		reps[i] = r.Report
	}
	switch format {
	case "json":
		if !suite {
			return reps[0].WriteJSON(w)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"verdict": verdict, "reports": reps})
	case "html":
		page := &report.Page{Title: reps[0].Scenario.Name, Suite: suite, Verdict: verdict}
		for _, r := range runs {
			page.Runs = append(page.Runs, report.PageRun{Report: r.Report, Charts: r.Charts, Dir: filepath.Base(r.Dir)})
		}
		return report.WriteHTML(w, page)
	case "junit":
		return report.WriteJUnit(w, reps)
	case "md":
		if suite {
			return report.WriteSuiteMarkdown(w, verdict, reps)
		}
		return reps[0].WriteMarkdown(w)
	}
	for _, r := range reps {
		if err := r.WriteText(w); err != nil {
			return err
		}
	}
	return nil
}

// reportSuite renders a suite folder's reports again from its runs.
func reportSuite(env *Env, dir string, o *reportOptions) error {
	b, err := os.ReadFile(filepath.Join(dir, "suite.json"))
	if err != nil {
		return usageErr("", "%v", cleanPathErr(err))
	}
	var s struct {
		Scenarios []suiteEntry `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return usageErr("", "%s: %v", filepath.Join(dir, "suite.json"), err)
	}
	var runs []*run.Rendered
	worst := ExitPass
	for _, e := range s.Scenarios {
		sub := filepath.Join(dir, filepath.Base(e.Dir))
		rd, err := run.LoadRun(sub, env.Stderr)
		if err != nil {
			fmt.Fprintf(env.Stderr, "loadgate: warning: %v\n", err)
			worst = max(worst, ExitRunFail)
			continue
		}
		r, err := run.Render(rd)
		if err != nil {
			return withCode(ExitRunFail, err, "")
		}
		worst = max(worst, exitCode(r.Report))
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return usageErr("", "%s: no run of the suite could be read", dir)
	}
	verdict := suiteVerdict(worst)
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return withCode(ExitRunFail, err, "")
		}
		if err := writeSuiteReports(env.Files, o.out, verdict, runs); err != nil {
			return withCode(ExitRunFail, err, "")
		}
	}
	if err := printFormat(env.Stdout, o.format, runs, verdict, true); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	return verdictErr{worst}
}

// reportRaw reports on a raw results file.
func reportRaw(env *Env, path string, o *reportOptions) error {
	var ths []threshold.Expr
	for _, src := range o.thresholds {
		e, err := threshold.Parse(src)
		if err != nil {
			return usageErr("", "--threshold: %v", err)
		}
		if e.Windowed() {
			return usageErr("", "--threshold %q: windowed thresholds need a run folder's time series", src)
		}
		ths = append(ths, e)
	}
	r, err := run.ReadRaw(path, ths)
	if err != nil {
		return err
	}
	for _, n := range r.Report.Notes {
		fmt.Fprintf(env.Stderr, "loadgate: warning: %s\n", n)
	}
	if err := printFormat(env.Stdout, o.format, []*run.Rendered{r}, "", false); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	return verdictErr{exitCode(r.Report)}
}
