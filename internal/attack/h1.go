package attack

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/semaphore"

	"github.com/loadgate/loadgate/internal/outcome"
)

// h1Transport sends HTTP/1.1 requests in the goroutine that makes them: it
// writes the request and reads the answer on a connection it holds alone,
// without net/http's reader and writer goroutines per connection (their
// hand-offs cost about as much CPU as the request's own system calls).
// fasthttp, the usual answer, has request and response types of its own,
// which vegeta's http.Client cannot use, and no phase hooks.
//
// It serves http:// and https:// with no proxy and bodies of known length
// up to h1MaxBody; it leaves the rest, Expect and Upgrade to net/http. It
// writes the bytes net/http writes, keeps its errors and httptrace hooks,
// and sends a replayable request again when a reused connection turns out
// closed. No goroutine reads an idle connection, so each is peeked (a read
// that does not wait) before reuse, and idle ones are swept every second.
type h1Transport struct {
	fallback  *http.Transport
	dial      dialFunc
	tlsConfig *tls.Config
	keepAlive bool
	abort     context.Context // done when the run cuts its connections
	// maxHeader bounds a response's head; 0 means DefaultMaxHeaderBytes.
	maxHeader int64
	// slack is how far past a try's deadline its connection's deadline
	// may lie, so that a busy connection moves its deadline (a timer) once
	// in that while rather than for every request.
	slack time.Duration

	mu       sync.Mutex
	hosts    map[h1Key]*h1Host
	sweeping bool // a goroutine sweeps the idle connections
	// heads bounds the bytes of long response heads being read at once
	// (past bigHead each): a target answering every request with a
	// megabyte of headers costs bounded memory, however many are in
	// flight.
	heads *semaphore.Weighted
}

// Long response heads: past bigHead, a head waits for a place among the
// headBudget/max_header_bytes read at once (at least one). Parsed, a head
// takes about four times its bytes.
const (
	bigHead    = 4 << 10
	headBudget = 2 << 20
)

// h1Key is a URL's scheme and host as written.
type h1Key struct{ scheme, host string }

// h1Host is a pool of connections to one address: URLs that name it
// differently ("host" and "host:80") share it.
type h1Host struct {
	t      *h1Transport
	direct bool // no proxy: this transport serves it
	addr   string
	idle   []*h1Conn
}

const (
	// h1MaxBody is the largest request body sent here; larger ones go
	// through net/http, which reads the response while it writes.
	h1MaxBody = 64 << 10
	// h1MaxIdle bounds the idle connections kept per host.
	h1MaxIdle = 10000
	// h1IdleTimeout closes connections idle for longer, as net/http's
	// IdleConnTimeout does.
	h1IdleTimeout = 90 * time.Second
	// h1Sweep is how often idle connections are looked over: those the
	// server closed, or idle for h1IdleTimeout, are closed.
	h1Sweep = time.Second
	max1xx  = 5
)

// DefaultMaxHeaderBytes bounds a response's head unless http.max_header_bytes
// says otherwise.
const DefaultMaxHeaderBytes = 1 << 20

func newH1Transport(fallback *http.Transport, dial dialFunc, abort context.Context, timeout time.Duration, maxHeader int64) *h1Transport {
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	return &h1Transport{
		fallback:  fallback,
		dial:      dial,
		abort:     abort,
		tlsConfig: fallback.TLSClientConfig,
		keepAlive: !fallback.DisableKeepAlives,
		maxHeader: maxHeader,
		slack:     deadlineSlack(timeout),
		hosts:     map[h1Key]*h1Host{},
		heads:     semaphore.NewWeighted(max(headBudget, maxHeader)),
	}
}

// deadlineSlack is how late past its deadline a connection's deadline may
// be set for a try of the given timeout: an eighth of the tolerance a
// timeout keeps (1% of it, at least 2 ms), leaving the rest to the
// runtime's timer (a few hundred microseconds late) and the way back.
func deadlineSlack(timeout time.Duration) time.Duration {
	return max(timeout/100, 2*time.Millisecond) / 8
}

// h1Conn is one connection.
type h1Conn struct {
	host   *h1Host
	conn   net.Conn  // what requests are written to: TCP, or TLS over it
	peek   *idlePeek // looks at the TCP connection while idle
	tls    *tls.ConnectionState
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool  // it served a request before
	limit  int64 // bytes the reader may still read: bounds a response's head
	// deadline is the connection's deadline as last set.
	deadline time.Time
	// rerr is the last error reading the connection: a head parser may
	// take a line cut short by it for a whole (malformed) line.
	rerr error
	// held is what the head being read holds of the transport's budget
	// of long heads, and headCtx ends at the connection's deadline while
	// it waits for it.
	held       int64
	headCtx    context.Context
	headCancel context.CancelFunc
}

// waitCtx is a context that ends at the connection's deadline, made once
// for the head being read.
func (c *h1Conn) waitCtx() context.Context {
	if c.headCtx == nil {
		if c.deadline.IsZero() {
			c.headCtx, c.headCancel = context.WithCancel(context.Background())
		} else {
			c.headCtx, c.headCancel = context.WithDeadline(context.Background(), c.deadline)
		}
	}
	return c.headCtx
}

// releaseHead gives back what the head just read held of the budget.
func (c *h1Conn) releaseHead() {
	if c.held > 0 {
		c.host.t.heads.Release(c.held)
		c.held = 0
	}
	if c.headCancel != nil {
		c.headCancel()
		c.headCtx, c.headCancel = nil, nil
	}
}

// setDeadline makes the connection's deadline d, or up to slack after it.
func (c *h1Conn) setDeadline(d time.Time, slack time.Duration) {
	if d.IsZero() {
		if !c.deadline.IsZero() {
			c.deadline = time.Time{}
			_ = c.conn.SetDeadline(c.deadline)
		}
		return
	}
	if c.deadline.Before(d) || c.deadline.After(d.Add(slack)) {
		c.deadline = d.Add(slack / 2)
		_ = c.conn.SetDeadline(c.deadline) // a closed conn fails the next read or write
	}
}

func (c *h1Conn) close() { _ = c.conn.Close() }

// h1Reader reads from a connection within its limit.
type h1Reader struct{ c *h1Conn }

// errHeadTooLarge is a response head past the limit.
var errHeadTooLarge = errors.New("net/http: server response headers exceeded the limit (http.max_header_bytes); aborted")

func (r h1Reader) Read(p []byte) (int, error) {
	c := r.c
	if c.limit <= 0 {
		c.rerr = errHeadTooLarge
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	if t := c.host.t; c.held == 0 && t.maxHeader-c.limit >= bigHead {
		// A head this long takes a place among the few long heads read
		// at once (as much of the budget as the longest head may be),
		// waiting for it up to the try's deadline.
		if err := t.heads.Acquire(c.waitCtx(), t.maxHeader); err != nil {
			c.rerr = os.ErrDeadlineExceeded
			return 0, c.rerr
		}
		c.held = t.maxHeader
	}
	n, err := c.conn.Read(p)
	r.c.limit -= int64(n)
	if err != nil {
		r.c.rerr = err
	}
	return n, err
}

// alive reports whether an idle connection can still take a request: no
// byte arrived on it and the server did not close it. It looks without
// waiting (idlePeek), as every connection is looked at before each reuse:
// net/http's reader goroutine sees a server's close at once, and so must
// this transport, or the next request would go out on a dead connection.
func (c *h1Conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes no request asked for
	}
	return c.peek.alive()
}

// RoundTrip sends a request within its context's deadline, if any.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.host(req)
	if h == nil {
		return t.fallback.RoundTrip(req)
	}
	d, _ := req.Context().Deadline()
	return t.do(req, h, d)
}

// do sends a request to h within deadline (none when zero): the dial, the
// TLS handshake, the request, the answer's head and body. Its errors carry
// their kinds.
func (t *h1Transport) do(req *http.Request, h *h1Host, deadline time.Time) (*http.Response, error) {
	head, err := requestHead(req)
	if err != nil {
		closeBody(req)
		return nil, &outcome.Error{Kind: outcome.System, Err: err}
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for {
		pc, err := t.conn(ctx, req, h, deadline, trace)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, early, err := t.exchange(ctx, pc, req, &head, deadline, trace)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			closeBody(req)
			return nil, &outcome.Error{Kind: ctxKind(ctx), Err: ctx.Err()}
		}
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			// The connection's deadline (the context's) fired before the
			// context's own timer, late on a loaded machine: the
			// context's deadline is what ended the try.
			closeBody(req)
			return nil, &outcome.Error{Kind: outcome.Timeout, Err: context.DeadlineExceeded}
		}
		if t.abort.Err() != nil {
			closeBody(req)
			return nil, errAborted
		}
		// The server closed a connection it had kept for us, before the
		// request reached it or before it answered: send the request again
		// on another, when that is safe.
		if !pc.reused || !early || !replayable(req) {
			closeBody(req)
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r := *req
			r.Body = body
			req = &r
		}
	}
}

// ctxKind is the kind of a try whose context ended.
func ctxKind(ctx context.Context) outcome.Kind {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outcome.Timeout
	}
	return outcome.Aborted
}

// host returns the pool of a request this transport serves, or nil to
// hand it to net/http.
func (t *h1Transport) host(req *http.Request) *h1Host {
	u := req.URL
	if u == nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || req.Method == "CONNECT" ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.ContentLength > h1MaxBody ||
		req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		return nil
	}
	if _, ok := req.Header["Expect"]; ok {
		return nil
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return nil
	}
	key := h1Key{u.Scheme, u.Host}
	t.mu.Lock()
	h := t.hosts[key]
	t.mu.Unlock()
	if h == nil {
		h = t.newHost(req, key)
	}
	if !h.direct {
		return nil
	}
	return h
}

// newHost finds or makes the pool of a URL's host not seen before as
// written: "Host", "host" and "host:80" share one.
func (t *h1Transport) newHost(req *http.Request, key h1Key) *h1Host {
	addr := canonicalAddr(req.URL)
	direct := true
	if t.fallback.Proxy != nil {
		if p, err := t.fallback.Proxy(req); err != nil || p != nil {
			direct = false
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.hosts[key]; h != nil {
		return h
	}
	for k, h := range t.hosts {
		if k.scheme == key.scheme && h.addr == addr && h.direct == direct {
			t.hosts[key] = h
			return h
		}
	}
	h := &h1Host{t: t, direct: direct, addr: addr}
	t.hosts[key] = h
	return h
}

// canonicalAddr is the "host:port" a URL connects to, its host in lower
// case and its port filled in.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), port)
}

// conn returns an idle connection to the request's host, or a new one.
func (t *h1Transport) conn(ctx context.Context, req *http.Request, h *h1Host, deadline time.Time, trace *httptrace.ClientTrace) (*h1Conn, error) {
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(req.URL.Host)
	}
	for {
		t.mu.Lock()
		n := len(h.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		pc := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		t.mu.Unlock()
		idle := time.Since(pc.idleAt)
		if idle > h1IdleTimeout || !pc.alive() {
			pc.close()
			continue
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: pc.conn, Reused: true, WasIdle: true, IdleTime: idle})
		}
		return pc, nil
	}
	pc, err := t.dialConn(ctx, req, h, deadline, trace)
	if err != nil {
		return nil, err
	}
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: pc.conn})
	}
	return pc, nil
}

func (t *h1Transport) dialConn(ctx context.Context, req *http.Request, h *h1Host, deadline time.Time, trace *httptrace.ClientTrace) (*h1Conn, error) {
	dctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := t.dial(dctx, "tcp", h.addr)
	if err != nil {
		k, ok := outcome.IO(err)
		switch {
		case errors.Is(dctx.Err(), context.DeadlineExceeded):
			k = outcome.Timeout
		case !ok:
			k = outcome.System // no address to dial
		}
		return nil, outcome.Wrap(k, err)
	}
	pc := &h1Conn{host: h, conn: c}
	tcp := c
	if tc, ok := c.(*trackedConn); ok {
		tcp = tc.Conn
	}
	pc.peek = newIdlePeek(tcp)
	pc.setDeadline(deadline, t.slack)
	if req.URL.Scheme == "https" {
		cfg := &tls.Config{}
		if t.tlsConfig != nil {
			cfg = t.tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = req.URL.Hostname()
		}
		if trace != nil && trace.TLSHandshakeStart != nil {
			trace.TLSHandshakeStart()
		}
		tc := tls.Client(c, cfg)
		err := tc.HandshakeContext(ctx)
		st := tc.ConnectionState()
		if trace != nil && trace.TLSHandshakeDone != nil {
			trace.TLSHandshakeDone(st, err)
		}
		if err != nil {
			_ = c.Close()
			k, ok := outcome.IO(err)
			if !ok || k == outcome.Other {
				k = outcome.TLS
			}
			return nil, outcome.Wrap(k, err)
		}
		pc.conn, pc.tls = tc, &st
	}
	pc.br = bufio.NewReaderSize(h1Reader{pc}, 4<<10)
	pc.bw = bufio.NewWriterSize(pc.conn, 4<<10)
	return pc, nil
}

// put keeps a connection whose last response was read to its end.
func (t *h1Transport) put(pc *h1Conn) {
	if pc.br.Buffered() > 0 {
		pc.close() // bytes no request asked for
		return
	}
	pc.idleAt, pc.reused = time.Now(), true
	t.mu.Lock()
	if len(pc.host.idle) >= h1MaxIdle {
		t.mu.Unlock()
		pc.close()
		return
	}
	pc.host.idle = append(pc.host.idle, pc)
	if !t.sweeping {
		t.sweeping = true
		go t.sweepIdle()
	}
	t.mu.Unlock()
}

// sweepIdle closes, every h1Sweep, the idle connections that the server
// closed or that were idle for h1IdleTimeout, apart from any request. It
// ends when no connection is idle.
func (t *h1Transport) sweepIdle() {
	tick := time.NewTicker(h1Sweep)
	defer tick.Stop()
	for now := range tick.C {
		t.mu.Lock()
		var dead []*h1Conn
		idle := 0
		seen := map[*h1Host]bool{}
		for _, h := range t.hosts {
			if seen[h] {
				continue
			}
			seen[h] = true
			kept := h.idle[:0]
			for _, pc := range h.idle {
				if now.Sub(pc.idleAt) > h1IdleTimeout || !pc.alive() {
					dead = append(dead, pc)
					continue
				}
				kept = append(kept, pc)
			}
			clear(h.idle[len(kept):])
			h.idle = kept
			idle += len(kept)
		}
		if idle == 0 {
			t.sweeping = false
		}
		t.mu.Unlock()
		for _, pc := range dead {
			pc.close()
		}
		if idle == 0 {
			return
		}
	}
}

// CloseIdleConnections closes the connections no request holds.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	var idle []*h1Conn
	for _, h := range t.hosts {
		idle = append(idle, h.idle...)
		h.idle = nil
	}
	t.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	t.fallback.CloseIdleConnections()
}

// exchange writes the request on pc and reads the response's head. early
// reports an error before any byte of the response arrived.
// Kept whole: the per-request hot path; a call per step costs measurable
// throughput (make bench).
func (t *h1Transport) exchange(ctx context.Context, pc *h1Conn, req *http.Request, head *h1Head, deadline time.Time, trace *httptrace.ClientTrace) (resp *http.Response, early bool, err error) {
	pc.setDeadline(deadline, t.slack)
	// A context that can end closes the connection when it does: the
	// request fails at once and the connection is not used again.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, pc.close)
	}
	pc.rerr = nil
	fail := func(k outcome.Kind, code int, err error) (*http.Response, bool, error) {
		if stop != nil {
			stop()
		}
		pc.close()
		// The parser may take a line cut short by a failed read for a
		// whole (malformed) line: the read's failure is the kind.
		switch k2, ok := outcome.IO(err); {
		case ok:
			k = k2
		case k == outcome.System:
		case errors.Is(pc.rerr, errHeadTooLarge):
			k = outcome.HeadTooLarge
		default:
			if k2, ok := outcome.IO(pc.rerr); ok {
				k = k2
			}
		}
		return nil, early, &outcome.Error{Kind: k, Code: code, Err: err}
	}
	err = t.writeRequest(pc.bw, req, head)
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err != nil {
		var ve *h1RequestError
		early = !errors.As(err, &ve) // a request it could not write is not sent again
		return fail(outcome.System, 0, err)
	}
	pc.limit = t.maxHeader
	if _, err := pc.br.Peek(1); err != nil {
		early = !isTimeout(err)
		if errors.Is(err, io.EOF) && pc.reused {
			err = errServerClosed
		}
		return fail(outcome.Closed, 0, err)
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	for n := 0; ; n++ {
		resp, err = http.ReadResponse(pc.br, req)
		pc.releaseHead()
		if err != nil {
			if errors.Is(err, errHeadTooLarge) {
				return fail(outcome.HeadTooLarge, 0, err)
			}
			return fail(outcome.Malformed, 0, err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xx {
			return fail(outcome.Malformed, code, errors.New("net/http: too many 1xx informational responses"))
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(outcome.System, code, err)
			}
		}
	}
	pc.limit = math.MaxInt64 // bodies are bounded by their readers
	resp.TLS = pc.tls
	keep := t.keepAlive && !req.Close && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols &&
		!httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	b := &h1Body{t: t, pc: pc, rc: resp.Body, keep: keep, stop: stop, ctx: ctx, code: resp.StatusCode, counts: resp.ContentLength < 0}
	if resp.Body == http.NoBody {
		b.state.Store(bodyDone)
		b.finish(true)
		return resp, false, nil
	}
	resp.Body = b
	if head.gzip && decodesGzip(resp) {
		b.counts = true
		resp.Body = &gzipBody{body: b}
	}
	return resp, false, nil
}

// errServerClosed is a reused connection found closed when its response
// was due: net/http's own words for it.
var errServerClosed = errors.New("http: server closed idle connection")

// h1RequestError is a request that cannot be written as it is.
type h1RequestError struct{ msg string }

func (e *h1RequestError) Error() string { return e.msg }

// h1Exclude are the header fields writeRequest writes itself.
var h1Exclude = map[string]bool{"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// h1Head is what a request's head needs that is worked out, and
// checked, before a connection is taken for it.
type h1Head struct {
	method, host, uri string
	gzip              bool // it asks for gzip and decodes it
}

// writeRequest writes req as net/http would.
func (t *h1Transport) writeRequest(w *bufio.Writer, req *http.Request, h *h1Head) error {
	method := h.method
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(h.uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(h.host)
	w.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if vs, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vs) > 0 {
			ua = vs[0]
		}
	}
	if ua != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(headerValue(ua))
		w.WriteString("\r\n")
	}
	asksClose := httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	if req.Close && !asksClose {
		w.WriteString("Connection: close\r\n")
	}
	cl := req.ContentLength
	if cl > 0 || cl == 0 && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch) {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(cl, 10))
		w.WriteString("\r\n")
	}
	if err := req.Header.WriteSubset(w, h1Exclude); err != nil {
		return err
	}
	if h.gzip {
		w.WriteString("Accept-Encoding: gzip\r\n")
	}
	if !t.keepAlive && !req.Close && !asksClose {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	if req.Body != nil && req.Body != http.NoBody {
		n, err := io.Copy(w, io.LimitReader(req.Body, cl))
		if err == nil && n == cl {
			var more int64
			more, err = io.Copy(io.Discard, req.Body)
			n += more
		}
		closeBody(req)
		if err != nil {
			return err
		}
		if n != cl {
			return &h1RequestError{fmt.Sprintf("http: ContentLength=%d with Body length %d", cl, n)}
		}
	}
	return w.Flush()
}

func headerValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return textproto.TrimString(v)
}

// removeZone drops an IPv6 zone from a Host header, as net/http does.
func removeZone(host string) string {
	if !strings.HasPrefix(host, "[") {
		return host
	}
	i := strings.LastIndex(host, "]")
	if i < 0 {
		return host
	}
	j := strings.LastIndex(host[:i], "%")
	if j < 0 {
		return host
	}
	return host[:j] + host[i:]
}

func validMethod(m string) bool {
	return len(m) > 0 && strings.IndexFunc(m, func(r rune) bool { return !httpguts.IsTokenRune(r) }) == -1
}

// replayable reports whether a request may be sent again: net/http's rule.
func replayable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := r.Header["Idempotency-Key"]
	_, b := r.Header["X-Idempotency-Key"]
	return a || b
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// h1Body is a response body. Read to its end, it gives its connection back
// for the next request; closed before, it closes the connection (the rest
// is not worth reading), as net/http does.
type h1Body struct {
	mu     sync.Mutex // one Read at a time
	state  atomic.Int32
	t      *h1Transport
	pc     *h1Conn
	rc     io.ReadCloser // the body as http.ReadResponse gives it
	keep   bool          // the connection may serve another request
	stop   func() bool   // ends the watch on the request's context, if any
	ctx    context.Context
	code   int
	counts bool // its length is not in Content-Length: note it
	n      int64
	note   note
	err    error // what reads return once done
}

// The states of a body.
const (
	bodyOpen   = iota
	bodyDone   // read to its end or failed: its connection was given back or closed
	bodyClosed // closed before its end
)

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case bodyDone:
		return 0, b.err
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err == nil {
		return n, nil
	}
	if !b.state.CompareAndSwap(bodyOpen, bodyDone) {
		return n, errBodyClosed // Close cut the read
	}
	if err == io.EOF {
		b.err = io.EOF
		if b.counts {
			b.note.bytes(b.n)
		}
		b.finish(true)
		return n, io.EOF
	}
	k := bodyKind(b.ctx, err)
	if b.t.abort.Err() != nil {
		k = outcome.Aborted
	}
	b.err = &outcome.Error{Kind: k, Code: b.code, Err: err}
	b.note.failed(k, b.code, b.n)
	b.finish(false)
	return n, b.err
}

// Close does not wait for a Read: it closes the connection, which ends a
// Read that waits on it.
func (b *h1Body) Close() error {
	if b.state.CompareAndSwap(bodyOpen, bodyClosed) {
		if b.stop != nil {
			b.stop()
		}
		b.pc.close()
	}
	return nil
}

// finish ends the response; ok when its body was read to the end.
func (b *h1Body) finish(ok bool) {
	watched := b.stop == nil || b.stop() // false: the context ended and closes the connection
	if ok && b.keep && watched {
		b.t.put(b.pc)
		return
	}
	b.pc.close()
}

func (b *h1Body) setNote(n note) { b.note = n }

func (b *h1Body) received() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *h1Body) broke() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state.Load() == bodyDone && b.err != io.EOF
}
