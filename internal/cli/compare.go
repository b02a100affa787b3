package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/report"
)

type compareOptions struct {
	maxRegression string
	format        string
	alpha         float64
}

func compareCommand() *command {
	c := &command{
		name:    "compare",
		summary: "Compare a run with a baseline run; exit 1 on a significant regression",
		usage:   `loadgate compare BASELINE CURRENT [--max-regression p95=10%,error_rate=0.1pp,throughput=-5%] [--format text|md|json|junit] [--alpha 0.05]`,
		details: `BASELINE and CURRENT are run folders written by 'loadgate run' (or merged by
'loadgate report --out'), or bare report.json files. Every metric named in
--max-regression is compared for all requests together and for each request
both runs have: baseline, current, change, verdict.

A change is a regression when it goes the bad way by more than its tolerance
AND a statistical test finds it significant at --alpha: latency percentiles
and throughput by a one-sided Mann-Whitney U test on the per-interval values
of both runs (each interval of the time series with at least 20 requests is
one sample, at least 5 per side); error rates by a one-sided two-proportion
z-test on the counts. A change beyond tolerance that the test does not
confirm is "no significant change" and passes. Without a time series (a bare
report.json, or too few intervals) there is no test and the change alone
decides. Latency values compared are the corrected ones where the runs have
them; the per-interval samples are the raw tries'.

Tolerances: a percentage of the baseline (p95=10%), percentage points for
rates (error_rate=0.1pp), or milliseconds (p99=50ms). The sign is ignored:
each metric has a bad direction (up for latency and error rates, down for
throughput). Metrics: p50, p90, p95, p99, mean, max, error_rate, rate_4xx,
rate_5xx, throughput. Default: p95=10%,p99=20%,error_rate=0.1pp,throughput=5%.

Exit code: 0 no regression, 1 a regression, 2 bad usage or unreadable input.

Examples:
  loadgate compare baseline/ results/20261124T081537Z-normal
  loadgate compare baseline/report.json results/latest --max-regression p95=15%,error_rate=0.5pp
  loadgate compare baseline/ current/ --format md > comment.md`,
	}
	var o compareOptions
	c.flags = func(fs *pflag.FlagSet) {
		fs.StringVar(&o.maxRegression, "max-regression", "", "tolerances, such as p95=10%,error_rate=0.1pp,throughput=-5% (default p95=10%,p99=20%,error_rate=0.1pp,throughput=5%)")
		fs.StringVarP(&o.format, "format", "f", "text", "text, md, json or junit")
		fs.Float64Var(&o.alpha, "alpha", 0.05, "significance level of the tests")
	}
	c.run = func(_ context.Context, env *Env, args []string) error {
		o = compareOptions{}
		fs := newFlagSet(c)
		c.flags(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		return runCompare(env, &o, fs.Args())
	}
	return c
}

// runCompare compares the baseline and current runs named in args, prints
// the comparison and returns exit 1 when it finds a regression.
func runCompare(env *Env, o *compareOptions, args []string) error {
	switch o.format {
	case "text", "md", "json", "junit":
	default:
		return usageErr("", "--format %q: want text, md, json or junit", o.format)
	}
	if o.alpha <= 0 || o.alpha >= 1 {
		return usageErr("", "--alpha %g: want a significance level between 0 and 1, such as 0.05", o.alpha)
	}
	tols := report.DefaultTolerances
	if o.maxRegression != "" {
		var err error
		if tols, err = report.ParseTolerances(o.maxRegression); err != nil {
			return usageErr("", "--max-regression: %v", err)
		}
	}
	if len(args) != 2 {
		return usageErr("such as: loadgate compare baseline/ results/20261124T081537Z-normal", "compare: want a baseline and a current run, got %d arguments", len(args))
	}
	var sides [2]report.CompareInput
	for i, p := range args {
		in, err := loadCompareInput(p, env)
		if err != nil {
			return usageErr("give a run folder (with stats.json) or a report.json file", "%v", err)
		}
		sides[i] = in
	}
	if b, c := sides[0].Report.Scenario.Name, sides[1].Report.Scenario.Name; b != c {
		fmt.Fprintf(env.Stderr, "loadgate: warning: comparing scenario %q with scenario %q\n", b, c)
	}
	cmp := report.Compare(sides[0], sides[1], tols, o.alpha)
	if err := writeComparison(env, o.format, cmp); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	if cmp.Verdict != report.Pass {
		return verdictErr{ExitFail}
	}
	return nil
}

// writeComparison prints cmp to stdout in format.
func writeComparison(env *Env, format string, cmp *report.Comparison) error {
	switch format {
	case "md":
		return cmp.WriteMarkdown(env.Stdout)
	case "json":
		return cmp.WriteJSON(env.Stdout)
	case "junit":
		return cmp.WriteJUnit(env.Stdout)
	default:
		return cmp.WriteText(env.Stdout)
	}
}

// loadCompareInput reads one side of a comparison: a run folder's exact
// figures and time series, or a bare report.json.
func loadCompareInput(path string, env *Env) (report.CompareInput, error) {
	st, err := os.Stat(path)
	if err != nil {
		return report.CompareInput{}, fmt.Errorf("%s: %v", path, cleanPathErr(err))
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return report.CompareInput{}, fmt.Errorf("%s: %v", path, cleanPathErr(err))
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return report.CompareInput{}, fmt.Errorf("%s: not a report.json: %v", path, err)
		}
		if r.Requests == nil {
			return report.CompareInput{}, fmt.Errorf("%s: not a report.json: no requests field", path)
		}
		return report.CompareInput{Name: path, Report: &r}, nil
	}
	if _, err := os.Stat(filepath.Join(path, "suite.json")); err == nil {
		return report.CompareInput{}, fmt.Errorf("%s: a suite folder; compare one scenario's run folder inside it", path)
	}
	rd, err := run.LoadRun(path, env.Stderr)
	if err != nil {
		return report.CompareInput{}, err
	}
	in, err := rd.Snap.Input(rd.Series)
	if err != nil {
		return report.CompareInput{}, fmt.Errorf("%s: %v", path, err)
	}
	return report.CompareInput{Name: path, Report: report.Build(in), Series: rd.Series}, nil
}
