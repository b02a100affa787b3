package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/dashboard"
	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/report"
)

type runOptions struct {
	target      string
	out         string
	resultsDir  string
	rate        string
	concurrency int
	duration    string
	cpuProfile  string
	raw         string
	shard       string
	shards      int
	startAt     string
	allowProd   bool
	hostGuard   attack.HostGuard // checks every redirect, once the guard let the run go
	allowWrites bool
	quiet       bool
	listen      string
	listenAny   bool
	noPlots     bool
	linger      time.Duration
}

func (o *runOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.target, "target", "", "base URL to send requests to, overriding the scenario's target.base_url (\"embedded\" for the built-in fixture API)")
	fs.StringVar(&o.out, "out", "", "write the run folder exactly here (for a suite: the suite folder)")
	fs.StringVar(&o.resultsDir, "results-dir", "results", "parent folder of timestamped run folders when --out is not given")
	fs.StringVar(&o.rate, "rate", "", "replace the stages with one open-model stage at this rate (200, 200/s, 12000/m)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "replace the stages with one closed-model stage of N workers")
	fs.StringVar(&o.duration, "duration", "", "length of the --rate or --concurrency stage; alone, fit the scenario's stages into this length")
	fs.StringVar(&o.raw, "raw", run.RawLgr, "raw results: lgr (compact; 'loadgate export' writes vegeta's formats), vegeta (results.gob, read by 'vegeta report') or none")
	fs.StringVar(&o.shard, "shard", "", "run part i of N of a split run (i from 0): its share of the rate, workers and unique data rows")
	fs.IntVar(&o.shards, "shards", 0, "the number of parts; the part is read from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	fs.StringVar(&o.startAt, "start-at", "", "wait until this time (RFC 3339, or Unix seconds) before sending, so the parts of a split run start together")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display (a terminal gets bars, a log a line every 10 s)")
	fs.BoolVar(&o.allowProd, "allow-production", false, "allow a target whose environment is production, or whose host is a production host")
	fs.BoolVar(&o.allowWrites, "allow-writes", false, "allow POST, PUT, PATCH and DELETE against production (with --allow-production)")
	fs.StringVar(&o.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the run to this file (for 'go tool pprof')")
	fs.BoolVar(&o.noPlots, "no-plots", false, "leave the plots out of the run folder and report.html (a gate that reads report.json needs none; they are most of the work of ending a short run)")
	fs.StringVar(&o.listen, "listen", "", "serve a live dashboard (/) and loadgate's figures in Prometheus' format (/metrics) on this address, such as 127.0.0.1:9000")
	fs.BoolVar(&o.listenAny, "listen-public", false, "allow --listen on an address other than loopback (nothing secret is served)")
	fs.DurationVar(&o.linger, "listen-linger", 0, "keep serving the dashboard and the final report this long after the run ends")
}

func runCommand() *command {
	c := &command{
		name:    "run",
		summary: "Run scenarios: send load, check thresholds, write reports",
		usage: `loadgate run FILE [flags]
		loadgate run FILE FILE... | DIR [flags]`,
		details: `Each scenario runs against its target and writes a run folder with
report.json, report.html, junit.xml, summary.txt, plots, the request log and
the raw results (results.lgr; 'loadgate export' writes them in vegeta's
formats). Several files, or a folder of them, run as a suite: one
after another, each into its own folder inside one suite folder, with a
suite summary; the exit code is the worst of them.

Exit codes: 0 every threshold passed; 1 a threshold failed; 2 bad usage or
an invalid scenario (nothing is sent); 3 the run failed or was interrupted
(Ctrl-C stops the load, keeps what was gathered and still writes the report;
a second Ctrl-C exits at once).

Examples:
  loadgate run scenarios/normal.yaml
  loadgate run scenarios/normal.yaml --target http://127.0.0.1:8080
  loadgate run scenarios/stress.yaml --duration 60s
  loadgate run scenarios/normal.yaml --rate 500/s --duration 30s --out /tmp/run1
  loadgate run scenarios/ --duration 10s`,
	}
	var o runOptions
	c.flags = o.register
	c.run = func(ctx context.Context, env *Env, args []string) error {
		o = runOptions{}
		fs := newFlagSet(c)
		o.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return usageErr("give a scenario file, such as: loadgate run scenarios/normal.yaml", "run: no scenario given")
		}
		return runScenarios(ctx, env, &o, fs.Args())
	}
	return c
}

// expandPaths turns the arguments into scenario files: files as given,
// folders as their *.yaml and *.yml files, sorted.
func expandPaths(args []string) ([]string, bool, error) {
	var files []string
	suite := len(args) > 1
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, false, usageErr("", "%v", cleanPathErr(err))
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		suite = true
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pat)) // patterns are fixed and valid
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, false, usageErr("", "%s: folder holds no .yaml or .yml scenario files", a)
		}
		files = append(files, found...)
	}
	return files, suite, nil
}

func cleanPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// loadAll loads every scenario, collecting every problem of every file.
func loadAll(env *Env, files []string) ([]*scenario.Scenario, error) {
	var out []*scenario.Scenario
	var errs []error
	for _, f := range files {
		sc, err := scenario.Load(f, env.LookupEnv)
		if err != nil {
			errs = append(errs, cleanPathErr(err))
			continue
		}
		env.learn(sc)
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return nil, withCode(ExitUsage, errors.Join(errs...), "fix the scenario and try again; 'loadgate validate FILE' checks it without sending a request")
	}
	return out, nil
}

// applyOverrides applies the command-line flags to a scenario.
func applyOverrides(sc *scenario.Scenario, o *runOptions) error {
	if o.target != "" {
		if o.target != scenario.Embedded {
			if err := scenario.CheckBaseURL(o.target); err != nil {
				return usageErr("", "--target: %v", err)
			}
		}
		sc.Target.BaseURL = o.target
	}
	var dur time.Duration
	if o.duration != "" {
		d, err := scenario.ParseDuration(o.duration)
		if err != nil || d <= 0 {
			return usageErr("", "--duration %q: want a positive duration such as 30s", o.duration)
		}
		dur = d
	}
	if o.rate != "" && o.concurrency != 0 {
		return usageErr("--rate is the open model, --concurrency the closed one", "--rate and --concurrency cannot be used together")
	}
	if o.concurrency < 0 || o.concurrency > scenario.MaxConcurrency {
		return usageErr("", "--concurrency must be between 1 and %d", scenario.MaxConcurrency)
	}
	switch {
	case o.rate != "" || o.concurrency > 0:
		st := scenario.Stage{Name: "override", Duration: scenario.Duration(dur), Concurrency: o.concurrency}
		if dur == 0 {
			st.Duration = scenario.Duration(sc.TotalDuration())
		}
		if o.rate != "" {
			r, err := scenario.ParseRate(o.rate)
			if err != nil || r.PerSecond <= 0 {
				return usageErr("", "--rate %q: want a positive rate such as 200/s", o.rate)
			}
			if r.PerSecond > scenario.MaxRate {
				return usageErr("split the load with --shard i/N", "--rate %q: at most %d/s, as a stage's rate", o.rate, scenario.MaxRate)
			}
			st.Rate = &r
		}
		sc.Stages = []scenario.Stage{st}
	case dur > 0:
		// Each stage keeps its share, in whole milliseconds, and the last
		// takes what rounding left, so the stages add up to D exactly.
		total, left := sc.TotalDuration(), dur
		for i := range sc.Stages {
			st := &sc.Stages[i]
			d := left
			if i < len(sc.Stages)-1 {
				d = time.Duration(float64(dur) * float64(st.Duration.D()) / float64(total)).Round(time.Millisecond)
			}
			left -= d
			st.Duration = scenario.Duration(d)
		}
	}
	return nil
}

func runScenarios(ctx context.Context, env *Env, o *runOptions, args []string) error {
	env.noPlots = env.noPlots || o.noPlots
	switch o.raw {
	case run.RawLgr, run.RawVegeta, run.RawNone:
	default:
		return usageErr("", "--raw %q: want lgr, vegeta or none", o.raw)
	}
	sh, err := parseSharding(env, o)
	if err != nil {
		return err
	}
	files, suite, err := expandPaths(args)
	if err != nil {
		return err
	}
	env.learnURL(o.target)
	scs, err := loadAll(env, files)
	if err != nil {
		return err
	}
	for _, sc := range scs {
		if err := applyOverrides(sc, o); err != nil {
			return err
		}
	}
	for _, sc := range scs {
		if err := checkSharding(sc, sh); err != nil {
			return err
		}
	}
	hg, err := guard(env, scs, o.allowProd, o.allowWrites)
	if err != nil {
		return err
	}
	o.hostGuard = hg
	run.CheckFileLimit(env.engine(), scs, raiseFileLimit())
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return usageErr("", "--cpu-profile: %v", cleanPathErr(err))
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usageErr("", "--cpu-profile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := waitStart(ctx, env, sh); err != nil {
		return err
	}
	if o.listen != "" {
		stop, err := startLive(ctx, env, o, scs[0].Name)
		if err != nil {
			return err
		}
		defer stop()
	}
	stamp := env.Now().UTC().Format("20060102T150405Z")
	if !suite {
		return runSingle(ctx, env, o, scs[0], stamp, sh)
	}
	return runSuite(ctx, env, o, scs, stamp, sh)
}

// waitStart waits for --start-at, when given.
func waitStart(ctx context.Context, env *Env, sh run.Sharding) error {
	if sh.StartAt.IsZero() {
		return nil
	}
	fmt.Fprintf(env.Stderr, "loadgate: waiting until %s to start\n", sh.StartAt.UTC().Format(time.RFC3339Nano))
	t := time.NewTimer(time.Until(sh.StartAt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return withCode(ExitRunFail, fmt.Errorf("interrupted while waiting for --start-at"), "")
	case <-t.C:
		return nil
	}
}

// runSingle runs one scenario into its folder.
func runSingle(ctx context.Context, env *Env, o *runOptions, sc *scenario.Scenario, stamp string, sh run.Sharding) error {
	dir := o.out
	if dir == "" {
		dir = filepath.Join(o.resultsDir, stamp+"-"+sc.Name)
	}
	dir, err := run.PrepareDir(dir, o.out != "")
	if err != nil {
		return err
	}
	r, err := run.One(ctx, env.engine(), sc, dir, o.raw, sh, run.ProgressMode(env.Stderr, o.quiet), o.hostGuard)
	if r == nil {
		return err
	}
	if env.live != nil {
		env.live.End(dir, r.Report.Verdict)
	}
	if err != nil {
		return withCode(ExitRunFail, err, "")
	}
	return verdictErr{exitCode(r.Report)}
}

func exitCode(r *report.Report) int {
	switch r.Verdict {
	case report.Pass:
		return ExitPass
	case report.Fail:
		return ExitFail
	case report.Inconclusive:
		return ExitInconclusive
	}
	return ExitRunFail
}

// suiteEntry is one scenario's line in suite.json.
type suiteEntry struct {
	Name      string  `json:"name"`
	File      string  `json:"file"`
	Dir       string  `json:"dir"`
	Verdict   string  `json:"verdict"`
	ExitCode  int     `json:"exit_code"`
	Requests  uint64  `json:"requests"`
	ErrorRate float64 `json:"error_rate"`
	P95       float64 `json:"p95_ms"`
	Failed    int     `json:"thresholds_failed"`
	Error     string  `json:"error,omitempty"`
}

func runSuite(ctx context.Context, env *Env, o *runOptions, scs []*scenario.Scenario, stamp string, sh run.Sharding) error {
	dir := o.out
	if dir == "" {
		dir = filepath.Join(o.resultsDir, stamp+"-suite")
	}
	dir, err := run.PrepareDir(dir, o.out != "")
	if err != nil {
		return err
	}
	var entries []suiteEntry
	var runs []*run.Rendered
	worst := ExitPass
	used := map[string]int{}
	for _, sc := range scs {
		name := sc.Name
		if used[name]++; used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		e := suiteEntry{Name: sc.Name, File: sc.File, Dir: filepath.Join(dir, name)}
		if ctx.Err() != nil {
			e.Verdict, e.ExitCode = "skipped", ExitRunFail
			entries, worst = append(entries, e), max(worst, ExitRunFail)
			continue
		}
		if _, err := run.PrepareDir(e.Dir, true); err != nil {
			return err
		}
		r, err := run.One(ctx, env.engine(), sc, e.Dir, o.raw, sh, run.ProgressMode(env.Stderr, o.quiet), o.hostGuard)
		if r != nil {
			runs = append(runs, r)
		}
		switch {
		case r == nil:
			e.Verdict, e.ExitCode, e.Error = "error", ExitRunFail, err.Error()
			printErr(env, err)
		default:
			rep := r.Report
			e.Verdict, e.ExitCode = rep.Verdict, exitCode(rep)
			e.Requests, e.ErrorRate, e.P95 = rep.Totals.Requests, rep.Totals.ErrorRate, rep.Latency.P95
			for _, t := range rep.Thresholds {
				if !t.Pass {
					e.Failed++
				}
			}
			if err != nil {
				e.Error, e.ExitCode = err.Error(), ExitRunFail
				printErr(env, err)
			}
		}
		worst = max(worst, e.ExitCode)
		entries = append(entries, e)
	}
	if err := writeSuite(env, dir, entries, worst); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	if err := writeSuiteReports(env.Files, dir, suiteVerdict(worst), runs); err != nil {
		return withCode(ExitRunFail, err, "")
	}
	fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, run.FileHTML))
	return verdictErr{worst}
}

func suiteVerdict(code int) string {
	switch code {
	case ExitPass:
		return report.Pass
	case ExitFail:
		return report.Fail
	case ExitInconclusive:
		return report.Inconclusive
	}
	return "error"
}

func writeSuite(env *Env, dir string, entries []suiteEntry, worst int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "suite %s\n\n", dir)
	fmt.Fprintf(&b, "%-24s %-12s %10s %10s %10s %8s  %s\n", "scenario", "verdict", "requests", "errors", "p95", "failed", "folder")
	for _, e := range entries {
		fmt.Fprintf(&b, "%-24s %-12s %10d %9.3f%% %8.1fms %8d  %s\n", e.Name, strings.ToUpper(e.Verdict), e.Requests, e.ErrorRate*100, e.P95, e.Failed, e.Dir)
	}
	fmt.Fprintf(&b, "\nsuite verdict %s (exit %d)\n", strings.ToUpper(suiteVerdict(worst)), worst)
	fmt.Fprint(env.Stdout, "\n"+b.String())
	if err := env.Files.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String())); err != nil {
		return err
	}
	return run.WriteJSONFile(env.Files, filepath.Join(dir, "suite.json"), map[string]any{
		"schema_version": report.SchemaVersion, "verdict": suiteVerdict(worst), "exit_code": worst, "scenarios": entries,
	})
}

// writeSuiteReports writes the suite's report.html (every scenario's
// verdict first, then a section per scenario), junit.xml and summary.md.
func writeSuiteReports(out *outfile.Writer, dir, verdict string, runs []*run.Rendered) error {
	page := &report.Page{Title: "suite " + filepath.Base(dir), Suite: true, Verdict: verdict}
	var reps []*report.Report
	for _, r := range runs {
		page.Runs = append(page.Runs, report.PageRun{Report: r.Report, Charts: r.Charts, Dir: filepath.Base(r.Dir)})
		reps = append(reps, r.Report)
	}
	f := &run.Files{Dir: dir, Out: out}
	f.Put(run.FileHTML, func(w io.Writer) error { return report.WriteHTML(w, page) })
	f.Put(run.FileJUnit, func(w io.Writer) error { return report.WriteJUnit(w, reps) })
	f.Put(run.FileMD, func(w io.Writer) error { return report.WriteSuiteMarkdown(w, verdict, reps) })
	return f.Err()
}

// parseSharding reads --shard, --shards, JOB_COMPLETION_INDEX and
// --start-at.
func parseSharding(env *Env, o *runOptions) (run.Sharding, error) {
	sh := run.Sharding{Count: 1}
	switch {
	case o.shard != "":
		a, b, ok := strings.Cut(o.shard, "/")
		i, err1 := strconv.Atoi(a)
		n, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
			return sh, usageErr("parts are numbered from 0: --shard 0/4 to --shard 3/4", "--shard %q: want i/N with 0 <= i < N", o.shard)
		}
		sh.Index, sh.Count = i, n
	case o.shards > 0:
		idx, ok := env.LookupEnv("JOB_COMPLETION_INDEX")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= o.shards {
			return sh, usageErr("set --shard i/N, or run as a Kubernetes Indexed Job", "--shards %d: JOB_COMPLETION_INDEX is %q, want 0 to %d", o.shards, idx, o.shards-1)
		}
		sh.Index, sh.Count = i, o.shards
	case o.shards < 0:
		return sh, usageErr("", "--shards must be positive")
	}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, o.startAt)
		if err != nil {
			secs, nerr := strconv.ParseFloat(o.startAt, 64)
			if nerr != nil {
				return sh, usageErr("", "--start-at %q: want an RFC 3339 time (2026-11-24T10:00:00Z) or Unix seconds", o.startAt)
			}
			t = time.Unix(0, int64(secs*1e9))
		}
		if time.Until(t) > 24*time.Hour {
			return sh, usageErr("", "--start-at %q is more than a day away", o.startAt)
		}
		sh.StartAt = t
	}
	return sh, nil
}

// checkSharding refuses a split that would leave a part with no workers.
func checkSharding(sc *scenario.Scenario, sh run.Sharding) error {
	if sh.Count <= 1 {
		return nil
	}
	for i, st := range sc.Stages {
		if !st.Open() && st.Concurrency < sh.Count {
			return usageErr("use fewer parts, or more workers", "%s: stages[%d] has %d workers, too few for %d parts", sc.File, i, st.Concurrency, sh.Count)
		}
	}
	return nil
}

// startLive serves the live view on --listen: loopback unless
// --listen-public says otherwise. stop keeps it up --listen-linger longer,
// then closes it.
func startLive(ctx context.Context, env *Env, o *runOptions, name string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return nil, usageErr("such as --listen 127.0.0.1:9000", "--listen %q: %v", o.listen, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || ip != nil && ip.IsLoopback()
	if !loopback && !o.listenAny {
		return nil, usageErr("add --listen-public to serve on it anyway (nothing secret is served)", "--listen %q is not a loopback address", o.listen)
	}
	live, err := dashboard.Listen(o.listen, name, nil)
	if err != nil {
		return nil, usageErr("", "%v", err)
	}
	env.live = live
	fmt.Fprintf(env.Stderr, "loadgate: live dashboard at http://%s/, Prometheus metrics at http://%s/metrics\n", live.Addr(), live.Addr())
	return func() {
		if o.linger > 0 {
			fmt.Fprintf(env.Stderr, "loadgate: the dashboard stays up %s: http://%s/\n", o.linger, live.Addr())
			select {
			case <-ctx.Done():
			case <-time.After(o.linger):
			}
		}
		live.Close()
	}, nil
}
