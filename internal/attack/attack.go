// Package attack drives vegeta's attacker through a scenario's stages and
// hands every result, attributed to its request, to a Handler.
package attack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/feeder"
	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/template"
)

// Request is one kind of request, ready to send.
type Request struct {
	Name   string
	Method string
	Weight int
	// URL is the absolute URL, used when PathT is nil; otherwise the URL
	// is Base followed by PathT rendered.
	URL   string
	Base  string
	PathT *template.Template
	// Header holds the static headers; HeaderT those rendered per request.
	Header  http.Header
	HeaderT map[string]*template.Template
	// Hide names the headers of HeaderT whose values are secrets: each
	// request's values come back in Extra.Hidden.
	Hide map[string]bool
	// Body is the static body, used when BodyT is nil.
	Body  []byte
	BodyT *template.Template
	// Feeder, when set, gives every request a row.
	Feeder *feeder.Feeder
	// KeepSent keeps the body sent for checks that compare with it.
	KeepSent bool
	// Retry is the request's retry policy, or nil.
	Retry *RetryPolicy
	// Redirects is how many redirects the request follows: 0 for
	// DefaultRedirects, NoRedirects for none (the 3xx is the answer).
	Redirects int
}

// NoRedirects makes a request take a redirect as its answer.
const NoRedirects = -1

// Stage is one period of load.
type Stage struct {
	Name        string
	Duration    time.Duration
	Open        bool    // open model: Rate ramping to RampTo; else closed
	Rate        float64 // per second, at the start
	RampTo      float64 // per second, at the end; equal to Rate when constant
	Concurrency int     // closed model: workers sending back to back
	MaxWorkers  int     // open model: cap on concurrent requests; 0 means DefaultMaxWorkers
	// Shard of Shards (from 0) sends its share of an open stage's
	// schedule; a closed stage's Concurrency is already the shard's.
	Shard, Shards int
}

// Planned returns the number of requests an open stage sends in full, or 0
// for a closed stage.
func (s Stage) Planned() float64 {
	if !s.Open {
		return 0
	}
	return s.pacer().Planned()
}

func (s Stage) pacer() pacer {
	return pacer{From: s.Rate, To: s.RampTo, Length: s.Duration, Shard: uint64(s.Shard), Shards: uint64(s.Shards)}
}

// DefaultGrace is how long an interrupted run waits for requests in
// flight before cutting them.
const DefaultGrace = 500 * time.Millisecond

// DefaultMaxWorkers caps the concurrent requests of an open-model stage, so
// that a target which stops answering cannot make the attacker open
// connections without bound.
const DefaultMaxWorkers = 10000

// Client holds the settings of the HTTP client shared by every stage.
type Client struct {
	// Timeout bounds each try from its start: the dial, the TLS
	// handshake, the request, the answer's head and body, and the
	// redirects it follows.
	Timeout        time.Duration
	KeepAlive      bool
	HTTP2          bool
	MaxConnections int // per host; 0 means no limit
	InsecureTLS    bool
	// Redirect sends connections for an address ("host:port") to another,
	// such as a fault-injecting proxy, keeping the URL (and TLS server
	// name) as they are.
	Redirect map[string]string
	// MaxHeaderBytes bounds a response's head; 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int64
}

// HTTPClient is a run's HTTP client, whose connections can be cut at once.
// Its Client, with the timeout, serves requests made apart from the load
// (OAuth2 tokens); the load goes through the transports themselves.
type HTTPClient struct {
	*http.Client
	conns   *conns
	net     *http.Transport
	h1      *h1Transport // nil when net/http serves every request
	timeout time.Duration
	// maxHeader bounds a response's head.
	maxHeader int64
}

// NewHTTPClient builds the transport and client for a run. Each run gets its
// own; nothing process-wide is touched.
func NewHTTPClient(c Client) *HTTPClient {
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if len(c.Redirect) > 0 {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := c.Redirect[addr]; ok {
				addr = to
			}
			return dialer.DialContext(ctx, network, addr)
		}
	}
	maxHeader := c.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	cs := newConns()
	tracked := cs.dial(dial)
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            tracked,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: c.InsecureTLS}, //nolint:gosec // only when the scenario asks
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    10000,
		MaxConnsPerHost:        c.MaxConnections,
		DisableKeepAlives:      !c.KeepAlive,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    c.Timeout,
		ForceAttemptHTTP2:      c.HTTP2,
		MaxResponseHeaderBytes: maxHeader,
		// loadgate asks for gzip itself, so that it counts the bytes sent.
		DisableCompression: true,
	}
	hc := &HTTPClient{Client: &http.Client{Transport: tr, Timeout: c.Timeout}, conns: cs, net: tr, timeout: c.Timeout, maxHeader: maxHeader}
	if !c.HTTP2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		if c.MaxConnections == 0 {
			// Over HTTP/1 with no queue for connections, each request owns
			// its connection from write to response: the requesting
			// goroutine writes and reads itself (h1Transport).
			hc.h1 = newH1Transport(tr, tracked, cs.ctx, c.Timeout, maxHeader)
			hc.Client.Transport = hc.h1
		}
	}
	return hc
}

// CloseIdleConnections closes the connections no request holds.
func (c *HTTPClient) CloseIdleConnections() {
	if c.h1 != nil {
		c.h1.CloseIdleConnections()
	}
	c.net.CloseIdleConnections()
}

// Plan is everything a run sends.
type Plan struct {
	Requests []Request
	Stages   []Stage
	Client   *HTTPClient
	// Grace is how long an interrupted run waits for requests in flight
	// before it cuts their connections; 0 means DefaultGrace.
	Grace time.Duration
	// MaxBody is how much of each response body is kept on the result:
	// 0 keeps none (the rest is read and discarded), -1 keeps all.
	MaxBody int64
	Auth    Auth
	// TokenClient makes the OAuth2 token requests, apart from the load.
	TokenClient *http.Client
	// Pools hold captured values for take and pick; nil when none.
	Pools *template.Pools
	// RunID names the run in request ids and unique values.
	RunID [8]byte
	// Shard of Shards (from 0) is this process's part of a split run:
	// template sequence numbers then count shard, shard+Shards, ... so
	// that shards never repeat one.
	Shard, Shards int
	// RequestID sends X-Request-ID on every request.
	RequestID bool
	// GroupBy is a response header recorded on every try, for the error
	// breakdown of retried tries.
	GroupBy string
	// GroupByJSON is a JSON path whose value in the body is recorded on
	// every try that is retried (the last try's is the checks' to find).
	GroupByJSON string
	// Phases, when set, receives the phase timings of every try (traced
	// with net/http/httptrace). Tracing also catches the transport's
	// silent resends.
	Phases PhaseFunc
	// NoTrace turns tracing off: no phase timings, and the transport's
	// silent resends of idempotent requests go unnoticed.
	NoTrace bool
	// Secret registers a value that must never be written out (new OAuth2
	// tokens); nil when nothing needs it.
	Secret func(string)
	// Guard, when set, checks every redirect before it is followed: an
	// error refuses it (the production guard).
	Guard HostGuard
}

// HostGuard checks a request about to go to u with method: an error
// refuses it.
type HostGuard func(u *url.URL, method string) error

// Extra is what a result carries beyond vegeta's Result.
type Extra struct {
	Hit uint64 // the hit's number in the run, from 1
	// Attempts lists the HTTP tries of a request sent with retries or
	// OAuth2 (the last one's latency is left to the result); nil otherwise.
	Attempts []Attempt
	// Sent is the body sent, kept for requests whose checks compare with it.
	Sent []byte
	// Resent is the number of tries the transport made again on its own
	// after a reused connection failed: failed tries the result does not
	// show.
	Resent int
	// Hidden holds the values of the request's secret headers rendered
	// for it (Request.Hide), to be masked in whatever is written about
	// it; nil when there are none.
	Hidden []string
	// Intended is when the schedule meant the request to leave, for
	// open-model stages (zero for closed ones). A worker that was not free
	// in time sends it later: the difference is the schedule lag, and
	// latency measured from Intended is free of coordinated omission.
	Intended time.Time
	// Kind is why the last try failed, found where it failed (None when
	// it did not), and Code the status it was answered with first: vegeta
	// keeps neither when a body fails.
	Kind outcome.Kind
	Code int
	// BytesIn is the body bytes of the last try's answer when Counted:
	// chunked and gzip bodies, and bodies that failed.
	BytesIn int64
	Counted bool
}

// Outcome returns what the last try of a result came to: the status the
// target sent (0 for none), why the try failed (None when it did not), and
// the body bytes the target sent: none for a HEAD, a 204 or a 304 whatever
// their Content-Length says; what the body reader counted when it counted
// (chunked and gzip bodies, bodies that failed); else the Content-Length
// of a body read whole, however little of it max_body kept.
func (x *Extra) Outcome(res *vegeta.Result) (code int, kind outcome.Kind, bytesIn uint64) {
	code = int(res.Code)
	if code == 0 {
		code, kind = x.Code, x.Kind
		if kind == outcome.None {
			kind = outcome.System // the request never reached the transport
		}
	}
	switch {
	case res.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified:
		bytesIn = 0
	case x.Counted:
		bytesIn = uint64(x.BytesIn)
	default:
		bytesIn = res.BytesIn
		if res.Headers != nil {
			if cl, err := strconv.ParseUint(res.Headers.Get("Content-Length"), 10, 64); err == nil {
				bytesIn = cl
			}
		}
	}
	return code, kind, bytesIn
}

// Ticker is implemented by handlers that want to hear from the run about
// every TickEvery even when no result arrives (a target that stopped
// answering), to close intervals, show progress and check thresholds.
type Ticker interface {
	Tick(now time.Time, w Workers)
}

// Workers is how many requests were in flight at a tick, against the most
// the stage allows: an open-model stage at its maximum sends late.
type Workers struct {
	InFlight, Max int
}

// TickEvery is how often a Ticker hears from the run.
const TickEvery = 250 * time.Millisecond

// Handler receives the progress of a run. Its methods are called from one
// goroutine, in order.
type Handler interface {
	StageStart(i int, s Stage, at time.Time)
	// Result receives one result of stage i for request req. The result's
	// URL is the request's, and its Attack field is the request's name.
	// Neither may be kept after the call returns. An error stops the run.
	Result(stage, req int, r *vegeta.Result, x *Extra) error
	StageEnd(i int, at time.Time, interrupted bool)
}

// ErrExhausted ends a run whose unique data feeder ran out of rows.
type ErrExhausted struct{ Feeder string }

func (e *ErrExhausted) Error() string { return "data feeder " + e.Feeder + " ran out of rows" }

// Runner runs a plan.
type Runner struct {
	p      *Plan
	rt     *roundTripper
	client *http.Client
	tr     *targeter
	tokens *tokenSource
}

// New prepares a plan to run.
func New(p *Plan) (*Runner, error) {
	if len(p.Requests) == 0 {
		return nil, fmt.Errorf("no requests to send")
	}
	r := &Runner{p: p}
	hits := newHitStore()
	r.tr = newTargeter(p, hits)
	rt := &roundTripper{
		next: p.Client.net, h1: p.Client.h1, run: p.RunID, requestID: p.RequestID,
		timeout: p.Client.timeout, maxHeader: p.Client.maxHeader, maxBody: p.MaxBody, abort: p.Client.conns.ctx, guard: p.Guard, groupBy: p.GroupBy, groupJSON: p.GroupByJSON, hits: hits,
	}
	if !p.NoTrace {
		rt.tracer = &tracer{phases: p.Phases}
	}
	for _, q := range p.Requests {
		rt.policies = append(rt.policies, q.Retry)
		n := q.Redirects
		switch {
		case n == 0:
			n = DefaultRedirects
		case n < 0:
			n = 0
		}
		rt.redirects = append(rt.redirects, n)
	}
	switch p.Auth.Kind {
	case "oauth2":
		tc := p.TokenClient
		if tc == nil {
			tc = &http.Client{Timeout: 30 * time.Second}
		}
		r.tokens = newTokenSource(p.Auth, tc, p.Secret)
		rt.tokens = r.tokens
	case "bearer", "api_key":
		rt.static = newStaticAuth(p.Auth)
	}
	// The round tripper times each try and follows redirects itself: the
	// client's timeout would cover a request's retries and the client's
	// redirects would go uncounted.
	client := *p.Client.Client
	client.Transport, client.Timeout = rt, 0
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.rt, r.client = rt, &client
	return r, nil
}

// AuthStats returns the OAuth2 token request counts, or nil without OAuth2.
func (r *Runner) AuthStats() *AuthStats {
	if r.tokens == nil {
		return nil
	}
	s := r.tokens.Stats()
	return &s
}

// Run sends the plan's stages one after the other. It stops early when ctx
// is done; in-flight requests are still awaited (for a grace period) and
// handed over, so nothing sent goes unrecorded. It returns ctx's error
// when interrupted and *ErrExhausted when a data feeder ran out.
func (r *Runner) Run(ctx context.Context, h Handler) error {
	// The run's connections end with it.
	defer r.p.Client.CloseIdleConnections()
	if r.tokens != nil {
		tctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := r.tokens.start(tctx); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	for i, st := range r.p.Stages {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.runStage(ctx, i, st, h); err != nil {
			return err
		}
		if name := r.tr.exhausted.Load(); name != nil {
			return &ErrExhausted{Feeder: *name}
		}
	}
	return ctx.Err()
}

// runStage runs stage i of the plan and hands each result to h.
// Kept whole: the per-result hot path; a call per step costs measurable
// throughput (make bench).
func (r *Runner) runStage(ctx context.Context, i int, st Stage, h Handler) error {
	p := r.p
	opts := []func(*vegeta.Attacker){vegeta.Client(r.client), vegeta.MaxBody(p.MaxBody)}
	var pc vegeta.Pacer
	if st.Open {
		max := st.MaxWorkers
		if max <= 0 {
			max = DefaultMaxWorkers
		}
		opts = append(opts, vegeta.Workers(uint64(min(max, 10))), vegeta.MaxWorkers(uint64(max)))
		pc = sleeper{st.pacer()}
	} else {
		n := uint64(st.Concurrency)
		opts = append(opts, vegeta.Workers(n), vegeta.MaxWorkers(n))
		pc = vegeta.ConstantPacer{} // zero rate: as fast as the workers go
	}
	atk := vegeta.NewAttacker(opts...)
	began := time.Now()
	var stageEnd *time.Timer
	if !st.Open && st.Duration > 0 {
		// No try of a closed-model stage leaves after its end: the
		// targeter refuses, the attacker stops handing out turns, and the
		// round tripper makes no retry.
		end := began.Add(st.Duration).UnixNano()
		r.rt.stageEnd.Store(end)
		r.tr.closedEnd.Store(end)
		stageEnd = time.AfterFunc(st.Duration, func() { atk.Stop() })
	}
	defer func() {
		if stageEnd != nil {
			stageEnd.Stop()
		}
		r.tr.closedEnd.Store(0)
		r.rt.stageEnd.Store(0)
	}()
	maxWorkers := st.Concurrency
	if st.Open {
		maxWorkers = max(st.MaxWorkers, 0)
		if maxWorkers == 0 {
			maxWorkers = DefaultMaxWorkers
		}
	}
	// Requests in flight: hits the targeter made this stage, less results
	// received.
	hitsBefore, received := r.tr.hitN.Load(), uint64(0)
	h.StageStart(i, st, began)
	// No attack name: vegeta would send it as a header on every request,
	// and the URL tag already names the request.
	results := atk.Attack(r.tr.target, pc, attackBound(st), "")
	var sched *pacer
	if st.Open {
		sp := st.pacer()
		sched = &sp
	}

	// The one place where cancellation reaches the attacker: stop sending
	// at once, give requests in flight a grace period, then cut them.
	stopped := make(chan struct{})
	var interrupted, aborted atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			interrupted.Store(true)
			atk.Stop()
		case <-stopped:
			return
		}
		grace := p.Grace
		if grace <= 0 {
			grace = DefaultGrace
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			aborted.Store(true)
			p.Client.conns.closeAll()
		case <-stopped:
		}
	}()
	defer close(stopped)

	var herr error
	var x Extra
	ticker, _ := h.(Ticker)
	tick := time.NewTicker(TickEvery)
	defer tick.Stop()
	for {
		var res *vegeta.Result
		var more bool
		select {
		case res, more = <-results:
		case now := <-tick.C:
			if ticker != nil && herr == nil {
				made := r.tr.hitN.Load() - hitsBefore
				ticker.Tick(now, Workers{InFlight: int(made - min(received, made)), Max: maxWorkers})
			}
			continue
		}
		if !more {
			break
		}
		received++
		if herr != nil {
			continue // drain so the attacker's workers can finish
		}
		req, hid, ok := attribute(res, p.Requests)
		if !ok {
			if res.URL == "" && (res.Error == feeder.ErrExhausted.Error() || res.Error == errStageOver.Error()) {
				continue // the feeder ran out, or the stage: not a request
			}
			herr = fmt.Errorf("result %d of stage %q carries no request tag (url %q)", res.Seq, st.Name, res.URL)
			atk.Stop()
			continue
		}
		x = Extra{Hit: hid}
		if sched != nil {
			// vegeta numbers hits as workers start them, in the order the
			// pacer's ticks went out.
			x.Intended = began.Add(sched.Due(sched.global(res.Seq)))
		}
		if rec := r.tr.hits.take(hid); rec != nil {
			x.Attempts, x.Sent, x.Resent, x.Hidden = rec.attempts, rec.sent, rec.resent, rec.hidden
			x.Kind, x.Code, x.BytesIn, x.Counted = rec.kind, rec.code, rec.bytesIn, rec.counted
		}
		if res.Code == 0 && aborted.Load() {
			x.Kind = outcome.Aborted
			if !strings.HasPrefix(res.Error, "aborted") {
				res.Error = "aborted: " + res.Error
			}
		}
		if herr = h.Result(i, req, res, &x); herr != nil {
			atk.Stop()
		}
	}
	h.StageEnd(i, time.Now(), interrupted.Load())
	return herr
}

// attackBound is the duration given to vegeta's attacker for a stage. An
// open stage ends by its pacer, after the last hit due before the stage's
// end, so it sends exactly its schedule; vegeta checks its duration before
// each hit, so a generator a few milliseconds behind at the end would lose
// the last hits if the bound were the stage's length. The bound only stops a
// generator that fell far behind (its late hits show as schedule lag).
func attackBound(st Stage) time.Duration {
	if !st.Open || st.Duration <= 0 {
		return st.Duration
	}
	return st.Duration + min(max(st.Duration/10, 50*time.Millisecond), time.Second)
}

// attribute finds the request a result belongs to from the tag the
// targeter put in the URL fragment (which is never sent), and restores the
// URL and sets Attack to the request's name.
func attribute(r *vegeta.Result, reqs []Request) (int, uint64, bool) {
	i := strings.LastIndexByte(r.URL, '#')
	if i < 0 {
		return 0, 0, false
	}
	n, hid, ok := parseTag(r.URL[i+1:])
	if !ok || n < 0 || n >= len(reqs) {
		return 0, 0, false
	}
	if r.Error != "" {
		// Transport errors quote the URL; keep the tag out of them too.
		r.Error = strings.Replace(r.Error, r.URL[i:]+`"`, `"`, 1)
	}
	r.URL = r.URL[:i]
	r.Attack = reqs[n].Name
	return n, hid, true
}

// schedule spreads requests by weight with smooth weighted round robin, so
// that any window of the sequence holds close to the weighted mix.
func schedule(reqs []Request) []int {
	w := make([]int, len(reqs))
	g := 0
	for i, r := range reqs {
		w[i] = max(r.Weight, 1)
		g = gcd(g, w[i])
	}
	total := 0
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	cur := make([]int, len(w))
	out := make([]int, 0, total)
	for range total {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
