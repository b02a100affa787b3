package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/capacity"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

type capacityOptions struct {
	slos         []string
	start, max   string
	stepDuration string
	pause        string
	margin       string
	factor       float64
	precision    float64
	target, out  string
	resultsDir   string
	raw          string
	format       string
	allowProd    bool
	allowWrites  bool
	noPlots      bool
}

func (o *capacityOptions) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.slos, "slo", nil, "an SLO every step must meet, as a threshold: 'p95 < 800ms', 'error_rate < 0.5%' (repeat; default the scenario's thresholds)")
	fs.StringVar(&o.start, "start", "10/s", "the first rate tried")
	fs.StringVar(&o.max, "max", "10000/s", "the highest rate tried")
	fs.StringVar(&o.stepDuration, "step-duration", "30s", "how long each rate is held")
	fs.StringVar(&o.pause, "pause", "5s", "rest between steps, so a target that failed a step recovers before the next")
	fs.StringVar(&o.margin, "margin", "20%", "safety margin below the capacity for the sustainable rate")
	fs.Float64Var(&o.factor, "factor", 1.5, "step-up factor until a step fails")
	fs.Float64Var(&o.precision, "precision", 0.05, "bisect until the last passing and first failing rates are this close (0.05: 5%)")
	fs.StringVar(&o.target, "target", "", "base URL to send requests to, overriding the scenario's target.base_url")
	fs.StringVar(&o.out, "out", "", "write the capacity folder exactly here")
	fs.StringVar(&o.resultsDir, "results-dir", "results", "parent folder of the timestamped capacity folder when --out is not given")
	fs.StringVar(&o.raw, "raw", run.RawNone, "raw results of each step: none, lgr or vegeta")
	fs.BoolVar(&o.noPlots, "no-plots", false, "leave the plots out of each step's run folder (the capacity plots are still drawn)")
	fs.StringVarP(&o.format, "format", "f", "text", "what to print: text, json or md")
	fs.BoolVar(&o.allowProd, "allow-production", false, "allow a production target")
	fs.BoolVar(&o.allowWrites, "allow-writes", false, "allow POST, PUT, PATCH and DELETE against production (with --allow-production)")
}

func capacityCommand() *command {
	c := &command{
		name:    "capacity",
		summary: "Find the highest rate that meets every SLO",
		usage:   `loadgate capacity SCENARIO --slo 'p95 < 800ms' --slo 'error_rate < 0.5%' [--start R] [--max R] [--step-duration D] [--margin 20%]`,
		details: `Runs the scenario's requests at one open-model rate after another, each for
--step-duration, and checks the SLOs on each step: from --start, ×1.5 (--factor)
until a step fails, then halfway between the last pass and the first fail
until they are within 5% (--precision). A first step that fails is followed by
lower rates. Each step is a full run folder under steps/; the capacity folder
holds capacity.json, capacity.html (the table of steps, the sustainable rate,
plots of latency and error rate against throughput with the knee marked),
capacity.md and summary.txt.

The capacity is the highest rate that met every SLO; the sustainable rate is
that less --margin. Latency SLOs use the corrected latency (from the intended
send time). When loadgate itself runs out of CPU and sends late before the
target fails, the search stops and says so rather than report the
generator's limit as the target's.

Exit codes: 0 a capacity was found (or every rate up to --max passed); 1 no
rate met the SLOs; 2 bad usage; 3 interrupted or failed; 4 the generator was
the limit.

Examples:
  loadgate capacity scenarios/normal.yaml --slo 'p95 < 800ms' --slo 'error_rate < 0.5%'
  loadgate capacity scenarios/normal.yaml --start 50/s --max 2000/s --step-duration 20s --target http://127.0.0.1:8080`,
	}
	var o capacityOptions
	c.flags = o.register
	c.run = func(ctx context.Context, env *Env, args []string) error {
		o = capacityOptions{}
		fs := newFlagSet(c)
		o.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("such as: loadgate capacity scenarios/normal.yaml --slo 'p95 < 800ms'", "capacity: want one scenario file, got %d arguments", fs.NArg())
		}
		cfg, err := o.parse()
		if err != nil {
			return err
		}
		env.learnURL(o.target)
		scs, err := loadAll(env, fs.Args())
		if err != nil {
			return err
		}
		sc := scs[0]
		if err := applyOverrides(sc, &runOptions{target: o.target}); err != nil {
			return err
		}
		if err := setSLOs(sc, o.slos); err != nil {
			return err
		}
		hg, err := guard(env, scs, o.allowProd, o.allowWrites)
		if err != nil {
			return err
		}
		raiseFileLimit()
		dir := o.out
		if dir == "" {
			dir = filepath.Join(o.resultsDir, env.Now().UTC().Format("20060102T150405Z")+"-capacity-"+sc.Name)
		}
		if _, err := os.Stat(filepath.Join(dir, capacity.FileJSON)); err == nil {
			return usageErr("choose another --out folder, or remove the earlier search", "%s already holds a capacity search", dir)
		}
		if dir, err = run.PrepareDir(dir, o.out != ""); err != nil {
			return err
		}
		cfg.Guard, cfg.Raw = hg, o.raw
		env.noPlots = env.noPlots || o.noPlots
		return runCapacity(ctx, env, sc, dir, cfg, o.format)
	}
	return c
}

func (o *capacityOptions) parse() (*capacity.Config, error) {
	switch o.format {
	case "text", "json", "md":
	default:
		return nil, usageErr("", "--format %q: want text, json or md", o.format)
	}
	switch o.raw {
	case run.RawLgr, run.RawVegeta, run.RawNone:
	default:
		return nil, usageErr("", "--raw %q: want none, lgr or vegeta", o.raw)
	}
	cfg := &capacity.Config{}
	for _, r := range []struct {
		flag, v string
		to      *float64
	}{{"--start", o.start, &cfg.StartRPS}, {"--max", o.max, &cfg.MaxRPS}} {
		rate, err := scenario.ParseRate(r.v)
		if err != nil || rate.PerSecond <= 0 || rate.PerSecond > scenario.MaxRate {
			return nil, usageErr("", "%s %q: want a positive rate such as 100/s, at most %d/s", r.flag, r.v, scenario.MaxRate)
		}
		*r.to = rate.PerSecond
	}
	if cfg.MaxRPS < cfg.StartRPS {
		return nil, usageErr("", "--max %s is below --start %s", o.max, o.start)
	}
	var err error
	if cfg.Step, err = scenario.ParseDuration(o.stepDuration); err != nil || cfg.Step < time.Second {
		return nil, usageErr("", "--step-duration %q: want a duration of at least 1s, such as 30s", o.stepDuration)
	}
	if cfg.Pause, err = scenario.ParseDuration(o.pause); err != nil {
		return nil, usageErr("", "--pause %q: want a duration such as 5s, or 0s", o.pause)
	}
	m, err := strconv.ParseFloat(strings.TrimSuffix(o.margin, "%"), 64)
	if err != nil || m < 0 || m >= 100 {
		return nil, usageErr("", "--margin %q: want a percentage from 0%% to 99%%, such as 20%%", o.margin)
	}
	if o.factor <= 1 || o.factor > 10 {
		return nil, usageErr("", "--factor %g: want more than 1 and at most 10, such as 1.5", o.factor)
	}
	if o.precision <= 0 || o.precision >= 1 {
		return nil, usageErr("", "--precision %g: want a fraction such as 0.05", o.precision)
	}
	cfg.Margin, cfg.Factor, cfg.Precision, cfg.StepDurationS = m/100, o.factor, o.precision, cfg.Step.Seconds()
	return cfg, nil
}

// setSLOs makes the SLOs the scenario's thresholds, checked as a
// scenario's are (metric names, request names).
func setSLOs(sc *scenario.Scenario, slos []string) error {
	if len(slos) == 0 {
		if len(sc.Thresholds) == 0 {
			return usageErr("such as --slo 'p95 < 800ms' --slo 'error_rate < 0.5%'", "capacity: no SLOs: give --slo, or thresholds in the scenario")
		}
		return nil
	}
	sc.Thresholds = nil
	for _, s := range slos {
		e, err := threshold.Parse(s)
		if err != nil {
			return usageErr("", "--slo: %v", err)
		}
		sc.Thresholds = append(sc.Thresholds, scenario.Threshold{Expr: e})
	}
	err := sc.Validate()
	if err == nil {
		return nil
	}
	// Name the flag rather than the scenario's thresholds field.
	var msgs []string
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var se *scenario.Error
		if errors.As(e, &se) && strings.HasPrefix(se.Field, "thresholds[") {
			msgs = append(msgs, "--slo: "+se.Msg)
		} else {
			msgs = append(msgs, e.Error())
		}
	}
	return usageErr("", "%s", strings.Join(msgs, "\n"))
}

// runCapacity runs the search and prints its result in format; the exit
// code says how it ended.
func runCapacity(ctx context.Context, env *Env, sc *scenario.Scenario, dir string, cfg *capacity.Config, format string) error {
	capRep, searchErr := capacity.Run(ctx, env.engine(), sc, dir, cfg)
	if capRep == nil {
		return withCode(ExitRunFail, searchErr, "")
	}
	var err error
	switch format {
	case "json":
		err = capRep.WriteJSON(env.Stdout)
	case "md":
		err = capRep.WriteMarkdown(env.Stdout)
	default:
		if err = capRep.WriteText(env.Stdout); err == nil {
			_, err = fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, capacity.FileHTML))
		}
	}
	if err != nil || searchErr != nil {
		return withCode(ExitRunFail, errors.Join(searchErr, err), "")
	}
	switch capRep.Result {
	case report.CapFound, report.CapAtMax:
		return nil
	case report.CapNone:
		return verdictErr{ExitFail}
	case report.CapGeneratorLimited:
		return verdictErr{ExitInconclusive}
	}
	return verdictErr{ExitRunFail}
}
