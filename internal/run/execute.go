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
	"github.com/loadgate/loadgate/internal/dashboard"
	"github.com/loadgate/loadgate/internal/faults"
	"github.com/loadgate/loadgate/internal/observe"
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
	s := &session{env: env, sc: sc, dir: dir, sh: sh}
	defer s.close() // the one cleanup path: whatever start opened
	if err := s.start(rawFormat, progress, hg); err != nil {
		return nil, err
	}
	runErr := s.send(ctx)
	if s.rec.n == 0 && ctx.Err() != nil {
		s.discard()
		return nil, ErrNothingSent
	}
	stopped, runErr := s.explain(ctx, runErr)
	if err := s.closeStreams(); err != nil && runErr == nil {
		runErr = err
	}
	r, err := finishRun(ctx, env, dir, s.rec.col, s.input(stopped), s.interval)
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

// session is one run under way: what it opened, in order, and what it
// has gathered.
type session struct {
	env      *Env
	sc       *scenario.Scenario
	dir      string
	sh       Sharding
	base     string
	notes    []string
	proxy    *faults.Proxy
	fixture  *fixtures.Server // the embedded fixture API, when it is the target
	observer *observe.Observer
	// sent is the sending window, start to end.
	sent     [2]time.Time
	pr       *prepared
	raw      *rawStore
	reqLog   *reqlog.Log
	rec      *recorder
	runner   *attack.Runner
	interval time.Duration
	info     report.ScenarioInfo
	exprs    []threshold.Expr
	// closers close what was opened, last first; streams are the run
	// folder's files, closed (and their errors kept) before the report.
	closers, streams []func() error
}

// close closes everything the session opened and has not closed.
func (s *session) close() {
	_ = s.closeStreams()
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

// closeStreams closes the run folder's files, returning the first error.
func (s *session) closeStreams() error {
	var first error
	for _, c := range s.streams {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	s.streams = nil
	return first
}

// stream opens a file of the run folder; what flushes and closes it joins
// the session's streams, as what.
func (s *session) stream(name, what string) (*os.File, error) {
	f, err := os.Create(filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	s.streams = append(s.streams, func() error { return wrapWrite(what, f.Close()) })
	return f, nil
}

func wrapWrite(what string, err error) error {
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// start readies the target (the embedded fixture API, the fault proxy),
// the plan, the run folder's files and the recorder.
func (s *session) start(rawFormat string, progress int, hg attack.HostGuard) error {
	if err := s.target(); err != nil {
		return err
	}
	s.pr = prepare(s.env, s.sc, s.base, s.sh)
	s.observer = s.newObserver()
	if s.observer != nil && s.env.Live != nil {
		s.env.Live.SetObserve(s.observer.Now)
	}
	if s.proxy != nil {
		s.pr.plan.Client = httpClient(s.sc, map[string]string{hostPort(s.base): s.proxy.Addr()})
	}
	s.pr.plan.Guard = hg
	if err := s.files(rawFormat); err != nil {
		return err
	}
	s.interval = s.sc.Interval()
	rec := s.rec
	cpu := s.env.CPU
	if cpu == nil {
		cpu = processCPU
	}
	rec.health = report.NewHealth(runtime.GOMAXPROCS(0), cpu)
	// The live view stops the run when an abort threshold is lost: send
	// gives it the run's context to stop.
	rec.live = newLive(s.env.Stderr, progress, s.sc, rec.col.Stages, func() {})
	s.closers = append(s.closers, func() error { rec.live.close(); return nil })
	rec.tl.OnInterval = rec.live.onInterval
	if v := s.env.Live; v != nil {
		rec.tl.OnInterval = func(r *report.IntervalRecord) {
			rec.live.onInterval(r)
			g := rec.health.Report()
			v.Interval(r, dashboard.Extra{Thresholds: append([]dashboard.Threshold(nil), rec.live.held...), CPU: g.CPUMean, LateShare: g.LateShare})
		}
		rec.tl.OnRequestInterval = v.RequestInterval
	}
	phases := rec.col.Phases
	s.pr.plan.Phases = func(req int, dns, connect, tls, ttfb time.Duration, reused bool) {
		phases[req].Add(&report.PhaseSample{DNS: dns, Connect: connect, TLS: tls, TTFB: ttfb, Reused: reused})
	}
	var err error
	if s.runner, err = attack.New(s.pr.plan); err != nil {
		return err
	}
	s.info = report.ScenarioInfo{
		Name: s.sc.Name, Description: s.sc.Description, File: s.sc.File,
		Target: displayTarget(s.sc, s.base), Environment: s.sc.Target.Environment,
	}
	for _, t := range s.sc.Thresholds {
		s.exprs = append(s.exprs, t.Expr)
	}
	rec.flushPeriod = min(s.interval, flushEvery)
	rec.checkpoint = func(now time.Time) error {
		in := report.Input{
			Collector: rec.col, Scenario: s.info, Meta: Meta(s.sh), Thresholds: s.exprs, Examples: rec.examples,
			Notes: s.notes, Generator: rec.health.Report(),
		}
		return writeCheckpoint(s.env, s.dir, rec.col, in, s.interval, now)
	}
	return nil
}

// target starts the embedded fixture API when the scenario asks for it,
// and the fault proxy in front of the target when it has faults.
func (s *session) target() error {
	s.base = s.sc.Target.BaseURL
	if s.base == scenario.Embedded {
		srv, err := fixtures.Start("127.0.0.1:0", FixtureOptions(s.sc.Fixture))
		if err != nil {
			return fmt.Errorf("start the embedded fixture API: %w", err)
		}
		s.closers = append(s.closers, srv.Close)
		s.base, s.fixture = srv.URL, srv
		if m := srv.API.Options().Service; m.On() {
			s.notes = append(s.notes, "the embedded fixture models a service: "+m.String())
		}
	} else if !reflect.DeepEqual(s.sc.Fixture, scenario.Fixture{}) {
		s.notes = append(s.notes, "the fixture: settings were ignored: the target is not the embedded fixture API")
	}
	if s.sc.HTTP.InsecureTLS {
		s.notes = append(s.notes, "TLS certificate checks were off (http.insecure_tls)")
	}
	proxy, err := startFaults(s.sc, s.base)
	if err != nil {
		return err
	}
	if proxy != nil {
		s.proxy = proxy
		s.closers = append(s.closers, func() error { proxy.Close(); return nil })
	}
	return nil
}

// files opens the run folder's streams (raw results, request log, time
// series) and the recorder that writes them.
func (s *session) files(rawFormat string) error {
	raw, err := openRaw(s.dir, rawFormat, s.sc, s.pr)
	if err != nil {
		return err
	}
	s.raw = raw
	s.streams = append(s.streams, func() error { return wrapWrite("raw results", raw.close()) })
	logFile, err := s.stream(FileLog, "request log")
	if err != nil {
		return err
	}
	s.reqLog = reqlog.New(logFile, s.sc.LogMaxSize(), s.env.Files.Stream)
	// The log's buffer goes to its file before the file closes.
	s.streams = append(s.streams[:len(s.streams)-1], func() error { return wrapWrite("request log", s.reqLog.Flush()) }, s.streams[len(s.streams)-1])
	s.rec = newRecorder(s.pr, raw.sink, s.reqLog)
	series, err := s.stream(FileSeries, "time series")
	if err != nil {
		return err
	}
	hlog, err := s.stream(FileHlog, "time series")
	if err != nil {
		return err
	}
	s.rec.tl = report.NewTimeline(s.sc.Interval(), s.rec.col.Names, targetRate(s.rec.col.Stages), series, hlog)
	// The time series' buffers go to the files before they close.
	n := len(s.streams)
	s.streams = append(s.streams[:n-2], append([]func() error{func() error { return wrapWrite("time series", s.rec.tl.Close()) }}, s.streams[n-2:]...)...)
	s.rec.flush = func(time.Time) error { return errors.Join(raw.flush(), s.reqLog.Flush(), s.rec.tl.Flush()) }
	return nil
}

// send runs the attack (and the faults' schedule beside it).
func (s *session) send(ctx context.Context) error {
	fmt.Fprintf(s.env.Stderr, "loadgate: running %s (%s) against %s for %s -> %s\n",
		s.sc.Name, s.sc.File, displayTarget(s.sc, s.base), s.sc.TotalDuration(), s.dir)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	s.rec.live.abort = stopRun
	faultCtx, stopFaults := context.WithCancel(runCtx)
	defer stopFaults()
	faultErr := make(chan error, 1)
	if s.proxy != nil {
		if err := s.proxy.Begin(); err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		go func() { faultErr <- s.proxy.Run(faultCtx, time.Now()) }()
	} else {
		faultErr <- nil
	}
	stopObserving := func() {}
	if s.observer != nil {
		stopObserving = s.observer.Start(runCtx, s.interval)
	}
	s.sent[0] = time.Now()
	runErr := s.runner.Run(runCtx, s.rec)
	s.sent[1] = time.Now()
	stopObserving()
	s.rec.live.close()
	stopFaults()
	if err := <-faultErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("faults: %w", err)
	}
	return runErr
}

// discard removes the run folder of a run that sent nothing.
func (s *session) discard() {
	s.close()
	for _, f := range []string{FileRaw, FileRawGob, FileLog, FileSeries, FileHlog, FileStats} {
		os.Remove(filepath.Join(s.dir, f))
	}
	os.Remove(s.dir) // when nothing else is in it
}

// explain says why the run ended early, if it did, and which error still
// ends it (an interrupt does not; a failed write does).
func (s *session) explain(ctx context.Context, runErr error) (string, error) {
	rec := s.rec
	switch {
	case rec.live.aborted != "":
		fmt.Fprintf(s.env.Stderr, "loadgate: %s; writing the report\n", rec.live.aborted)
	case ctx.Err() != nil:
		fmt.Fprintf(s.env.Stderr, "loadgate: stopped after %d requests; writing what was gathered\n", rec.n)
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
		fmt.Fprintf(s.env.Stderr, "loadgate: %s; stopped after %d requests, writing what was gathered\n", werr.Error(), rec.n)
	}
	return stopped, runErr
}

// input is what the report is built from.
func (s *session) input(stopped string) report.Input {
	rec := s.rec
	if s.fixture != nil {
		if n, last := s.fixture.API.ServerErrors(); n > 0 {
			s.notes = append(s.notes, fmt.Sprintf("the embedded fixture's HTTP server logged %d errors (the last: %s)", n, last))
		}
	}
	in := report.Input{
		Faults:    faultInfos(s.proxy),
		Generator: rec.health.Report(),
		Aborted:   rec.live.aborted,
		Collector: rec.col, Scenario: s.info, Meta: Meta(s.sh), Thresholds: s.exprs, Examples: rec.examples,
		Stopped: stopped, Notes: s.notes,
		RequestLog: &report.LogSummary{File: FileLog, Lines: s.reqLog.Lines(), Dropped: s.reqLog.Dropped(), CapBytes: s.sc.LogMaxSize(), Sample: s.sc.LogSample()},
	}
	in.Observed, in.Scrapes = s.observed()
	if st := s.runner.AuthStats(); st != nil {
		in.Auth = &report.AuthSummary{
			Type: s.sc.Auth.Type, TokenRequests: st.Requests, TokenFailures: st.Failures, ForcedRefreshes: st.Forced,
			MaxMS: float64(st.MaxLat.Microseconds()) / 1e3, LastError: s.pr.redactor.String(st.LastError),
		}
		if st.Requests > 0 {
			in.Auth.MeanMS = float64(st.Latency.Microseconds()) / 1e3 / float64(st.Requests)
		}
	}
	return in
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
		r, err := Render(&Data{Snap: back, Series: loadSeries(dir, env.Stderr), Dir: dir, NoPlots: env.NoPlots})
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
