package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/buildinfo"
	"github.com/loadgate/loadgate/internal/faults"
	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/reqlog"
	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// Files of a run folder.
const (
	FileReport  = "report.json"
	FileSummary = "summary.txt"
	FileRaw     = "results.lgr"
	FileRawGob  = "results.gob"
	FileLog     = "requests.jsonl"
)

// One runs one scenario into dir. It returns the rendered report
// whenever one could be built, with an error when the run failed part way.
func One(ctx context.Context, env *Env, sc *scenario.Scenario, dir, rawFormat string, sh Sharding, progress int, hg attack.HostGuard) (*Rendered, error) {
	base := sc.Target.BaseURL
	var notes []string
	if base == scenario.Embedded {
		srv, err := fixtures.Start("127.0.0.1:0", FixtureOptions(sc.Fixture))
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
	proxy, err := startFaults(sc, base)
	if err != nil {
		return nil, err
	}
	if proxy != nil {
		defer proxy.Close()
	}
	pr := prepare(env, sc, base, sh)
	if proxy != nil {
		pr.plan.Client = httpClient(sc, map[string]string{hostPort(base): proxy.Addr()})
	}

	pr.plan.Guard = hg
	raw, err := openRaw(dir, rawFormat, sc, pr)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, FileLog))
	if err != nil {
		raw.close()
		return nil, fmt.Errorf("create request log: %w", err)
	}
	reqLog := reqlog.New(logFile, sc.LogMaxSize(), env.Files.Stream)
	rec := newRecorder(pr, raw.sink, reqLog)
	seriesFile, err1 := os.Create(filepath.Join(dir, FileSeries))
	hlogFile, err2 := os.Create(filepath.Join(dir, FileHlog))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("create time series: %w", err)
	}
	interval := sc.Interval()
	rec.tl = report.NewTimeline(interval, rec.col.Names, targetRate(rec.col.Stages), seriesFile, hlogFile)
	cpu := env.CPU
	if cpu == nil {
		cpu = processCPU
	}
	rec.health = report.NewHealth(runtime.GOMAXPROCS(0), cpu)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	rec.live = newLive(env.Stderr, progress, sc, rec.col.Stages, stopRun)
	rec.tl.OnInterval = rec.live.onInterval
	phases := rec.col.Phases
	pr.plan.Phases = func(req int, dns, connect, tls, ttfb time.Duration, reused bool) {
		phases[req].Add(&report.PhaseSample{DNS: dns, Connect: connect, TLS: tls, TTFB: ttfb, Reused: reused})
	}
	runner, err := attack.New(pr.plan)
	if err != nil {
		return nil, err
	}

	info := report.ScenarioInfo{
		Name: sc.Name, Description: sc.Description, File: sc.File,
		Target: displayTarget(sc, base), Environment: sc.Target.Environment,
	}
	exprs := make([]threshold.Expr, len(sc.Thresholds))
	for i, t := range sc.Thresholds {
		exprs[i] = t.Expr
	}
	rec.flush = func(time.Time) error { return errors.Join(raw.flush(), reqLog.Flush(), rec.tl.Flush()) }
	rec.flushPeriod = min(interval, flushEvery)
	rec.checkpoint = func(now time.Time) error {
		in := report.Input{
			Collector: rec.col, Scenario: info, Meta: Meta(sh), Thresholds: exprs, Examples: rec.examples,
			Notes: notes, Generator: rec.health.Report(),
		}
		return writeCheckpoint(env, dir, rec.col, in, interval, now)
	}

	fmt.Fprintf(env.Stderr, "loadgate: running %s (%s) against %s for %s -> %s\n",
		sc.Name, sc.File, displayTarget(sc, base), sc.TotalDuration(), dir)
	faultCtx, stopFaults := context.WithCancel(runCtx)
	faultErr := make(chan error, 1)
	if proxy != nil {
		if err := proxy.Begin(); err != nil {
			stopFaults()
			return nil, fmt.Errorf("faults: %w", err)
		}
		go func() { faultErr <- proxy.Run(faultCtx, time.Now()) }()
	} else {
		faultErr <- nil
	}
	runErr := runner.Run(runCtx, rec)
	rec.live.close()
	stopFaults()
	if err := <-faultErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("faults: %w", err)
	}
	if rec.n == 0 && ctx.Err() != nil {
		// Interrupted before anything was sent: no folder.
		_ = errors.Join(raw.close(), logFile.Close(), seriesFile.Close(), hlogFile.Close())
		for _, f := range []string{FileRaw, FileRawGob, FileLog, FileSeries, FileHlog, FileStats} {
			os.Remove(filepath.Join(dir, f))
		}
		os.Remove(dir) // when nothing else is in it
		return nil, ErrNothingSent
	}
	switch {
	case rec.live.aborted != "":
		fmt.Fprintf(env.Stderr, "loadgate: %s; writing the report\n", rec.live.aborted)
	case ctx.Err() != nil:
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
	var werr *writeError
	if errors.As(runErr, &werr) {
		// Sending stopped at the first failed write; what was gathered is
		// reported, as for an interrupt, and the error still ends the run.
		stopped = "stopped early: " + werr.Error()
		rec.col.MarkInterrupted()
		fmt.Fprintf(env.Stderr, "loadgate: %s; stopped after %d requests, writing what was gathered\n", werr.Error(), rec.n)
	}
	for _, c := range []struct {
		what string
		err  error
	}{
		{"raw results", raw.close()},
		{"request log", reqLog.Flush()}, {"request log", logFile.Close()},
		{"time series", rec.tl.Close()}, {"time series", seriesFile.Close()}, {"time series", hlogFile.Close()},
	} {
		if c.err != nil && runErr == nil {
			runErr = fmt.Errorf("write %s: %w", c.what, c.err)
		}
	}

	in := report.Input{
		Faults:    faultInfos(proxy),
		Generator: rec.health.Report(),
		Aborted:   rec.live.aborted,
		Collector: rec.col, Scenario: info, Meta: Meta(sh), Thresholds: exprs, Examples: rec.examples,
		Stopped: stopped, Notes: notes,
		RequestLog: &report.LogSummary{File: FileLog, Lines: reqLog.Lines(), Dropped: reqLog.Dropped(), CapBytes: sc.LogMaxSize(), Sample: sc.LogSample()},
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
	r, err := finishRun(ctx, env, dir, rec.col, in, interval)
	if r != nil {
		for _, w := range r.Warnings {
			fmt.Fprintf(env.Stderr, "loadgate: warning: %s (report.json was written; 'loadgate report %s --out DIR' renders the rest again)\n", w, dir)
		}
	}
	if err != nil {
		return r, errors.Join(runErr, err)
	}
	return r, runErr
}

// writeCheckpoint writes the figures of a run still going as its
// stats.json, marked a checkpoint: the stages under way count as cut at
// now, so that the folder renders (as interrupted) if the process dies.
func writeCheckpoint(env *Env, dir string, col *report.Collector, in report.Input, interval time.Duration, now time.Time) error {
	in.Stopped = "incomplete: the run did not end; figures as of " + now.UTC().Format(time.RFC3339)
	snap, err := col.Snapshot(in, interval)
	if err != nil {
		return err
	}
	snap.Checkpoint = true
	for i := range snap.Stages {
		if st := &snap.Stages[i]; !st.Started.IsZero() && st.Ended.IsZero() {
			st.Ended, st.Interrupted = now, true
		}
	}
	var b bytes.Buffer
	if err := snap.WriteJSON(&b); err != nil {
		return err
	}
	return env.Files.WriteFile(filepath.Join(dir, FileStats), b.Bytes())
}

// finishRun renders a run's report from its exact figures (through the
// JSON of stats.json, as 'loadgate report' reads it), prints its summary
// whatever the disk does, then writes report.json first (whole or not at
// all), stats.json, and the rest. The exit code follows report.json's
// verdict: a file that cannot be written after it is a warning; report.json
// itself not written is an error. A signal that arrives before the last
// write makes the run interrupted, and report.json says so.
func finishRun(ctx context.Context, env *Env, dir string, col *report.Collector, in report.Input, interval time.Duration) (*Rendered, error) {
	printed := false
	for {
		if ctx.Err() != nil {
			col.MarkInterrupted()
		}
		snap, err := col.Snapshot(in, interval)
		if err != nil {
			return nil, fmt.Errorf("encode figures: %w", err)
		}
		var stats bytes.Buffer
		if err := snap.WriteJSON(&stats); err != nil {
			return nil, err
		}
		back, err := report.ReadSnapshot(bytes.NewReader(stats.Bytes()))
		if err != nil {
			return nil, err
		}
		r, err := Render(&Data{Snap: back, Series: loadSeries(dir, env.Stderr), Dir: dir})
		if r == nil {
			return nil, err
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "loadgate: warning: %v\n", err)
		}
		if !printed {
			fmt.Fprint(env.Stdout, MustText(r.Report))
			printed = true
		}
		if err := WriteReport(env.Files, dir, r, stats.Bytes()); err != nil {
			return r, err
		}
		if ctx.Err() != nil && !r.Report.Interrupted {
			// A signal came while the report was written: it is written
			// again, interrupted, and the summary printed said otherwise.
			fmt.Fprintln(env.Stdout, "loadgate: interrupted while the report was written: the verdict is INTERRUPTED")
			continue
		}
		fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, FileHTML))
		return r, nil
	}
}

// WriteReport writes a run's report.json, then its stats.json (unless
// nil), then the rest, keeping in r.warnings those it could not write.
func WriteReport(out *outfile.Writer, dir string, r *Rendered, stats []byte) error {
	var b bytes.Buffer
	if err := r.Report.WriteJSON(&b); err != nil {
		return err
	}
	if err := out.WriteFile(filepath.Join(dir, FileReport), b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", FileReport, err)
	}
	var errs []error
	if stats != nil {
		errs = append(errs, out.WriteFile(filepath.Join(dir, FileStats), stats))
	}
	if err := errors.Join(append(errs, WriteRendered(out, dir, r))...); err != nil {
		r.Warnings = append(r.Warnings, err.Error())
	}
	return nil
}

func MustText(r *report.Report) string {
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

func Meta(sh Sharding) report.Meta {
	host, _ := os.Hostname() // an unknown host name is left empty
	m := report.Meta{
		LoadgateVersion: buildinfo.Version, GoVersion: buildinfo.GoVersion(), Host: host,
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
	if sh.Count > 1 {
		m.Shard = fmt.Sprintf("%d/%d", sh.Index, sh.Count)
	}
	return m
}

func WriteJSONFile(out *outfile.Writer, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return out.WriteFile(path, append(b, '\n'))
}

// Raw results formats.
const (
	RawLgr    = "lgr"
	RawVegeta = "vegeta"
	RawNone   = "none"
)

// rawStore is the raw results file of a run.
type rawStore struct {
	sink  rawSink
	flush func() error // writes what is buffered to the file
	close func() error
}

// openRaw creates the raw results file: loadgate's compact format, or none.
// With --raw vegeta the run writes results.lgr as well and turns it into
// vegeta's gob when it ends, so that each request's results are numbered
// in the order they were sent, as 'vegeta plot' wants.
func openRaw(dir, format string, sc *scenario.Scenario, pr *prepared) (*rawStore, error) {
	if format == RawNone {
		none := func() error { return nil }
		return &rawStore{sink: func(int, string, []report.Try, []string) error { return nil }, flush: none, close: none}, nil
	}
	path := filepath.Join(dir, FileRaw)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create raw results file: %w", err)
	}
	h := results.Header{Scenario: sc.Name, Started: time.Now()}
	fixed := make([]string, len(pr.plan.Requests))
	for i, r := range pr.plan.Requests {
		if r.PathT == nil {
			fixed[i] = pr.redactor.URL(r.URL)
		}
		h.Requests = append(h.Requests, results.Request{Name: r.Name, Method: r.Method, URL: fixed[i]})
	}
	w, err := results.NewWriter(f, h)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write raw results: %w", err)
	}
	var rec results.Result
	st := &rawStore{
		sink: func(req int, url string, tries []report.Try, errs []string) error {
			for i, t := range tries {
				rec = results.Result{
					Request: req, Timestamp: t.Timestamp, Latency: t.Latency, Code: uint16(t.Code),
					BytesIn: t.BytesIn, BytesOut: t.BytesOut, Error: errs[i], Kind: t.Err, More: i < len(tries)-1,
				}
				if rec.Error == "" && t.Code != 0 && (t.Code < 200 || t.Code >= 400) {
					// As vegeta writes a status it counts as an error.
					rec.Error = strconv.Itoa(t.Code) + " " + http.StatusText(t.Code)
				}
				if url != fixed[req] {
					rec.URL = url
				}
				if err := w.Write(&rec); err != nil {
					return err
				}
			}
			return nil
		},
		flush: w.Flush,
		close: func() error { return errors.Join(w.Flush(), f.Close()) },
	}
	if format == RawVegeta {
		lgr := st.close
		st.close = func() error {
			if err := lgr(); err != nil {
				return err
			}
			if err := toGob(path, filepath.Join(dir, FileRawGob)); err != nil {
				return err
			}
			return os.Remove(path)
		}
	}
	return st, nil
}

// toGob writes the results file at from in vegeta's gob at to.
func toGob(from, to string) error {
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	src := &results.File{Path: from}
	defer src.Close()
	bw := bufio.NewWriterSize(out, 256<<10)
	_, err = results.Export(src.Open, bw, results.FormatGob)
	return errors.Join(err, bw.Flush(), out.Close())
}

// startFaults starts the fault proxy in front of the target when the
// scenario has faults.
func startFaults(sc *scenario.Scenario, base string) (*faults.Proxy, error) {
	if len(sc.Faults) == 0 {
		return nil, nil
	}
	var fs []faults.Fault
	for _, f := range sc.Faults {
		ff := faults.Fault{
			Type: f.Type, Latency: f.Latency.D(), Jitter: f.Jitter.D(), After: f.After.D(), Delay: f.Delay.D(),
			Direction: f.Direction, From: f.From.D(), To: f.To.D(), Toxicity: 1,
		}
		if f.Toxicity != nil {
			ff.Toxicity = float64(*f.Toxicity)
		}
		if f.Rate != "" {
			ff.RateKBps, _ = scenario.ParseKBps(f.Rate) // validated with the scenario
		}
		fs = append(fs, ff)
	}
	p, err := faults.Start(hostPort(base), fs)
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	return p, nil
}

// hostPort returns the "host:port" a base URL connects to.
func hostPort(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func faultInfos(p *faults.Proxy) []report.FaultInfo {
	if p == nil {
		return nil
	}
	var out []report.FaultInfo
	for _, a := range p.Applied() {
		dir := a.Direction
		if dir == "" {
			dir = "downstream"
		}
		out = append(out, report.FaultInfo{
			Type: a.Type, Description: a.Describe(), Toxicity: a.Toxicity, Direction: dir,
			FromS: a.From.Seconds(), ToS: a.To.Seconds(), Started: a.Start, Ended: a.End,
		})
	}
	return out
}

// FileHeadroom is the descriptors a run needs besides its connections:
// its files, the fixture's listener, the runtime's own.
const FileHeadroom = 64

// CheckFileLimit says plainly when the open-file limit is below what the
// scenarios' concurrency needs: one descriptor per connection (two when
// the embedded fixture API serves them in the same process).
func CheckFileLimit(env *Env, scs []*scenario.Scenario, limit uint64) {
	if limit == 0 {
		return
	}
	for _, sc := range scs {
		need := 0
		for _, st := range sc.Stages {
			conns := st.Concurrency
			if st.Open() {
				conns = st.MaxWorkers
				if conns == 0 {
					conns = attack.DefaultMaxWorkers
				}
				// In flight at most: the rate times the timeout.
				if r := st.Rate; r != nil {
					peak := r.PerSecond
					if st.RampTo != nil {
						peak = max(peak, st.RampTo.PerSecond)
					}
					conns = min(conns, int(peak*sc.HTTP.Timeout.D().Seconds())+1)
				}
			}
			if sc.HTTP.MaxConnections > 0 {
				conns = min(conns, sc.HTTP.MaxConnections)
			}
			need = max(need, conns)
		}
		if sc.Target.BaseURL == scenario.Embedded {
			need *= 2
		}
		if uint64(need+FileHeadroom) > limit {
			fmt.Fprintf(env.Stderr, "loadgate: warning: %s may hold %d connections at once, but this process may open only %d files; "+
				"requests past the limit fail as system errors (too many open files). Raise the hard limit (ulimit -Hn, or LimitNOFILE= for a service) to at least %d\n",
				sc.Name, need, limit, need+FileHeadroom)
		}
	}
}
