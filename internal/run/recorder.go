package run

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/check"
	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/redact"
	"github.com/loadgate/loadgate/internal/reqlog"
	"github.com/loadgate/loadgate/report"
)

// maxExampleBody bounds a failing body kept as an example in the report.
const maxExampleBody = 2048

// recorder is the run's attack.Handler: it checks and classifies each
// result, adds it to the figures, feeds capture pools, keeps examples,
// writes the request log and streams the raw result.
type recorder struct {
	pr       *prepared
	col      *report.Collector
	tl       *report.Timeline
	health   *report.Health
	live     *live
	raw      rawSink
	log      *reqlog.Log
	sample   uint64
	examples map[string][]report.Example
	maxEx    int
	stages   []string

	// Reused for every result: the hot path allocates little.
	out     check.Outcome
	tries   []report.Try
	errs    []string // the tries' errors, as written in the raw results
	logical report.Logical
	entry   reqlog.Entry
	n       uint64
	// The last URL of each request and its redacted form: most requests
	// have a fixed URL, so redaction is done once.
	lastURL, lastRed []string

	// flush writes what the run folder's streams buffer (raw results,
	// request log, time series) every flushEvery, or every interval when
	// that is shorter (flushPeriod); checkpoint writes the
	// figures so far (stats.json) every checkpointEvery: a process killed
	// leaves a folder that renders. A failure stops the run (outErr).
	flush, checkpoint       func(now time.Time) error
	flushPeriod             time.Duration
	lastFlush, lastCheckpnt time.Time
	outErr                  error
}

// How often a run makes its folder whole on disk.
const (
	flushEvery      = time.Second
	checkpointEvery = 5 * time.Second
)

// rawSink streams the tries of one logical request of request req to the
// raw results file: each try, with its error's text (redacted), the last
// try's at the end; url is the request's URL (redacted).
type rawSink func(req int, url string, tries []report.Try, errs []string) error

func newRecorder(pr *prepared, raw rawSink, log *reqlog.Log) *recorder {
	sc := pr.sc
	n := len(sc.Requests)
	names, methods, paths := make([]string, n), make([]string, n), make([]string, n)
	checks := make([][]string, n)
	for i, r := range sc.Requests {
		names[i], methods[i], paths[i] = r.Name, r.Method, pr.redactor.URL(r.Path)
		checks[i] = pr.checkers[i].Names()
	}
	stages := make([]report.StageInfo, len(pr.plan.Stages))
	stageNames := make([]string, len(pr.plan.Stages))
	for i, st := range pr.plan.Stages {
		stages[i] = report.StageInfo{
			Name: st.Name, Open: st.Open, Rate: st.Rate, RampTo: st.RampTo,
			Concurrency: st.Concurrency, Planned: st.Duration, PlannedHits: st.Planned(),
		}
		stageNames[i] = st.Name
	}
	return &recorder{
		pr: pr, col: report.NewCollector(names, methods, paths, checks, stages), raw: raw, log: log,
		sample: uint64(sc.LogSample()), examples: map[string][]report.Example{}, maxEx: sc.Examples(),
		stages: stageNames, lastURL: make([]string, n), lastRed: make([]string, n),
	}
}

func (r *recorder) StageStart(i int, _ attack.Stage, at time.Time) {
	r.col.StageStarted(i, at)
	if r.live != nil {
		r.live.stageStart(i, at)
	}
}

func (r *recorder) StageEnd(i int, at time.Time, interrupted bool) {
	r.col.StageEnded(i, at, interrupted)
	if r.live != nil {
		r.live.stageEnd(i)
	}
}

// Tick closes the intervals that ended, samples loadgate's CPU and updates
// the progress display, results or not.
func (r *recorder) Tick(now time.Time, w attack.Workers) {
	if r.health != nil {
		r.health.Sample(now)
		r.health.Workers(w.InFlight, w.Max)
	}
	if r.tl != nil {
		r.tl.Advance(now)
	}
	if r.live != nil {
		r.live.tick(now)
	}
	if r.outErr != nil {
		return
	}
	if r.lastCheckpnt.IsZero() {
		r.lastFlush, r.lastCheckpnt = now, now // the first ones come a while after the start
	}
	// A checkpoint comes after a flush: the raw results on disk then hold
	// every result its figures count.
	checkpoint := r.checkpoint != nil && now.Sub(r.lastCheckpnt) >= checkpointEvery
	if r.flush != nil && (checkpoint || now.Sub(r.lastFlush) >= r.flushPeriod) {
		r.lastFlush = now
		if err := r.flush(now); err != nil {
			r.outErr = &writeError{what: "run folder", err: err}
		}
	}
	if checkpoint && r.outErr == nil {
		r.lastCheckpnt = now
		if err := r.checkpoint(now); err != nil {
			r.outErr = &writeError{what: FileStats, err: err}
		}
	}
}

func (r *recorder) redactedURL(req int, u string) string {
	if r.lastURL[req] != u {
		r.lastURL[req], r.lastRed[req] = u, r.pr.redactor.URL(u)
	}
	return r.lastRed[req]
}

// Result records one logical request: its tries, checks, captures,
// example, log entry and raw line.
// Kept whole: the per-result hot path; a call per step costs measurable
// throughput (make bench).
func (r *recorder) Result(stage, req int, res *vegeta.Result, x *attack.Extra) error {
	if r.outErr != nil {
		return r.outErr
	}
	r.n++
	// The tries: one, or the redirect hops and retries before the last.
	r.tries, r.errs = r.tries[:0], r.errs[:0]
	l := &r.logical
	*l = report.Logical{Failed: l.Failed[:0], RetryCauses: l.RetryCauses[:0], Tries: 1, E2E: res.Latency}
	last := report.Try{Timestamp: res.Timestamp, Latency: res.Latency, BytesOut: res.BytesOut}
	last.Code, last.Err, last.BytesIn = x.Outcome(res)
	if n := len(x.Attempts); n > 0 {
		retries := 0
		for _, a := range x.Attempts[:n-1] {
			t := report.Try{Code: a.Code, Err: a.Kind, Timestamp: a.Start, Latency: a.Latency, BytesIn: uint64(a.BytesIn),
				BytesOut: uint64(a.BytesOut), Group: r.pr.redactor.String(redact.Sent(a.Group, x.Hidden)), Class: outcome.ClassProtocol}
			switch {
			case a.Kind != outcome.None:
				t.Class = outcome.ClassOf(a.Kind)
			case a.Hop:
				t.Class = outcome.ClassOK
			}
			r.tries = append(r.tries, t)
			r.errs = append(r.errs, a.Err)
			if a.Hop {
				continue
			}
			retries++
			cause := strconv.Itoa(a.Code)
			if a.Code == 0 {
				cause = "network"
			}
			l.RetryCauses = append(l.RetryCauses, cause)
		}
		final := x.Attempts[n-1].Start
		last.Timestamp = final
		last.Latency = res.Timestamp.Add(res.Latency).Sub(final)
		l.Tries = retries + 1
	}
	ck := r.pr.checkers[req]
	ck.Check(int(res.Code), res.Headers, res.Body, x.Sent, &r.out)
	if len(x.Hidden) > 0 {
		hideSent(x.Hidden, res, x, &r.out)
	}
	switch {
	case last.Err != outcome.None:
		l.Class = outcome.ClassOf(last.Err)
		l.Timeout = last.Err == outcome.Timeout
	case !r.out.StatusOK:
		l.Class = outcome.ClassProtocol
	case len(r.out.Failed) > 0:
		l.Class = outcome.ClassBusiness
	}
	l.Code, l.ErrorCode, l.Checked = last.Code, r.out.ErrorCode, r.out.Checked
	if !x.Intended.IsZero() {
		// An open-model request: how late it left, and its latency from
		// when it should have left.
		l.Open, l.Corrected = true, res.Timestamp.Add(res.Latency).Sub(x.Intended)
		if r.health != nil {
			r.health.Sent(res.Timestamp.Sub(x.Intended))
		}
	}
	l.Failed = append(l.Failed, r.out.Failed...)
	// A group key is the target's words: it may echo a secret.
	last.Group, last.Class = r.pr.redactor.String(r.out.Group), l.Class
	if x.Resent > 0 {
		// The transport sent the request again after a reused connection
		// failed; the failed tries count as what they were.
		hidden := make([]report.Try, 0, len(r.tries)+x.Resent+1)
		for range x.Resent {
			hidden = append(hidden, report.Try{Timestamp: last.Timestamp, Err: outcome.Closed, Class: outcome.ClassNetwork, BytesOut: res.BytesOut})
			l.RetryCauses = append(l.RetryCauses, "resent")
		}
		r.tries = append(hidden, r.tries...)
		r.errs = append(make([]string, x.Resent, len(r.tries)+1), r.errs...)
		l.Tries += x.Resent
	}
	r.tries = append(r.tries, last)
	r.errs = append(r.errs, res.Error)
	r.col.Record(stage, req, r.tries, l)
	if r.tl != nil {
		r.tl.Record(req, last.Timestamp.Add(last.Latency), r.tries, l)
		if err := r.tl.Err(); err != nil {
			return err
		}
	}

	if l.Class == outcome.ClassOK && r.pr.plan.Pools != nil {
		for pool, path := range r.pr.sc.Requests[req].Capture {
			if v := gjson.GetBytes(res.Body, path); v.Exists() {
				r.pr.plan.Pools.Put(pool, v.String())
			}
		}
	}
	if len(x.Hidden) > 0 {
		// After the captures, which take the values as they came.
		hideSentBody(x.Hidden, res)
	}
	failed := l.Class != outcome.ClassOK
	if failed && len(r.examples[res.Attack]) < r.maxEx {
		r.keepExample(req, res, x, l)
	}
	if r.log != nil && (failed || r.sample > 0 && r.n%r.sample == 0) {
		if r.log.Full() {
			r.log.Drop()
		} else {
			r.logEntry(stage, req, res, x, l, last.Err)
		}
	}

	for i, e := range r.errs {
		if e != "" {
			if len(x.Hidden) > 0 {
				e = redact.Sent(e, x.Hidden)
			}
			r.errs[i] = r.pr.redactor.String(e)
		}
	}
	if err := r.raw(req, r.redactedURL(req, res.URL), r.tries, r.errs); err != nil {
		return &writeError{what: "raw results", err: err}
	}
	return nil
}

// hideSent masks the secret header values a request sent (rendered for
// it, so unknown to the redactor) wherever the target may have echoed
// them: the errors of its result and its tries, and what the checks drew
// from the body (hideSentBody masks the body and headers).
func hideSent(vals []string, res *vegeta.Result, x *attack.Extra, out *check.Outcome) {
	res.Error = redact.Sent(res.Error, vals)
	for i := range x.Attempts {
		x.Attempts[i].Err = redact.Sent(x.Attempts[i].Err, vals)
		x.Attempts[i].Group = redact.Sent(x.Attempts[i].Group, vals)
	}
	out.Why = redact.Sent(out.Why, vals)
	out.ErrorCode = redact.Sent(out.ErrorCode, vals)
	out.Group = redact.Sent(out.Group, vals)
}

func hideSentBody(vals []string, res *vegeta.Result) {
	res.Body = redact.SentBytes(res.Body, vals)
	for _, vs := range res.Headers {
		for i, v := range vs {
			vs[i] = redact.Sent(v, vals)
		}
	}
}

// writeError is a run folder file that could not be written (a full
// disk): it stops the run.
type writeError struct {
	what string
	err  error
}

func (e *writeError) Error() string { return "write " + e.what + ": " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func (r *recorder) keepExample(req int, res *vegeta.Result, x *attack.Extra, l *report.Logical) {
	red := r.pr.redactor
	body, truncated := res.Body, false
	if len(body) > maxExampleBody {
		body, truncated = body[:maxExampleBody], true
		// Do not cut a character in two: drop an incomplete last one (a
		// body that is not text at all is kept as it is).
		i := len(body) - 1
		for i > 0 && len(body)-i < utf8.UTFMax && !utf8.RuneStart(body[i]) {
			i--
		}
		if !utf8.FullRune(body[i:]) {
			body = body[:i]
		}
	}
	r.examples[res.Attack] = append(r.examples[res.Attack], report.Example{
		RequestID: attack.RequestID(r.pr.plan.RunID, x.Hit), Class: l.Class.String(), Status: int(res.Code),
		Error: red.String(res.Error), Why: red.String(r.out.Why), URL: r.redactedURL(req, res.URL),
		Body: string(red.Bytes(append([]byte(nil), body...))), Truncated: truncated,
	})
}

func (r *recorder) logEntry(stage, req int, res *vegeta.Result, x *attack.Extra, l *report.Logical, kind outcome.Kind) {
	e := &r.entry
	*e = reqlog.Entry{
		Time: res.Timestamp, RequestID: attack.RequestID(r.pr.plan.RunID, x.Hit), Request: res.Attack,
		Stage: r.stages[stage], Method: res.Method, URL: r.redactedURL(req, res.URL), Status: int(res.Code),
		ErrorType: l.Class.String(), ErrorCode: l.ErrorCode, RetryCount: l.Tries - 1,
		LatencyMS: float64(res.Latency.Microseconds()) / 1e3, FailedChecks: e.FailedChecks[:0],
	}
	if kind != outcome.None {
		e.ErrorKind = kind.String()
		e.Error = r.pr.redactor.String(res.Error)
	} else if l.Class != outcome.ClassOK {
		e.Error = r.pr.redactor.String(r.out.Why)
	}
	names := r.pr.checkers[req].Names()
	for _, f := range l.Failed {
		e.FailedChecks = append(e.FailedChecks, names[f])
	}
	r.log.Write(e)
}
