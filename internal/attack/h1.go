package attack

import (
	"bufio"
	"compress/gzip"
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
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport sends HTTP/1.1 requests on connections it holds one request
// at a time, in the goroutine that makes the request: that goroutine writes
// the request and reads the response itself. net/http's Transport hands
// every request to two goroutines of its connection (one writes, one reads)
// and the response back, which on a machine shared with the target costs
// about as much CPU as the request's own system calls: the CPU a load
// generator spends there is load it does not send. No library fits here:
// fasthttp, the usual answer, has request and response types of its own,
// which vegeta's attacker (built on http.Client) cannot use without a copy
// of every request and response, and no hooks for phase timings.
//
// It serves http:// and https:// URLs with no proxy. It hands to net/http
// whatever it does not do itself: requests through a proxy, bodies of
// unknown length or over h1MaxBody (a server may answer those before it
// reads them all), Expect: 100-continue and protocol upgrades.
//
// It keeps net/http's behaviour where a user could see it: the same request
// bytes (Host, User-Agent, Content-Length, Accept-Encoding: gzip and
// transparent decompression), the same errors, the httptrace hooks of
// connections, the request and the response (DNS and connect come from the
// dialer through the context), and a request on a reused connection that
// the server had closed is sent once more on another when it is safe to
// repeat, with a second GotConn, as net/http does. One difference: it does
// not send a request again after a timeout. Since no goroutine reads an
// idle connection, as net/http's do, an idle connection is looked at (a
// read that does not wait) before each reuse, and idle ones are swept
// every second.
type h1Transport struct {
	fallback  *http.Transport
	dial      dialFunc
	tlsConfig *tls.Config
	keepAlive bool
	abort     context.Context // done when the run cuts its connections

	mu    sync.Mutex
	hosts map[h1Key]*h1Host
	swept time.Time
}

type h1Key struct{ scheme, host string }

type h1Host struct {
	direct bool // no proxy: this transport serves it
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
	// h1MaxHeader bounds a response's head, as net/http's default
	// MaxResponseHeaderBytes does.
	h1MaxHeader = 10 << 20
	max1xx      = 5
)

func newH1Transport(fallback *http.Transport, dial dialFunc, abort context.Context) *h1Transport {
	return &h1Transport{
		fallback:  fallback,
		dial:      dial,
		abort:     abort,
		tlsConfig: fallback.TLSClientConfig,
		keepAlive: !fallback.DisableKeepAlives,
		hosts:     map[h1Key]*h1Host{},
	}
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
}

func (c *h1Conn) close() { _ = c.conn.Close() }

// h1Reader reads from a connection within its limit.
type h1Reader struct{ c *h1Conn }

var errHeaderTooLong = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", h1MaxHeader)

func (r h1Reader) Read(p []byte) (int, error) {
	if r.c.limit <= 0 {
		return 0, errHeaderTooLong
	}
	if int64(len(p)) > r.c.limit {
		p = p[:r.c.limit]
	}
	n, err := r.c.conn.Read(p)
	r.c.limit -= int64(n)
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

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.host(req)
	if h == nil {
		return t.fallback.RoundTrip(req)
	}
	head, err := t.head(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for {
		pc, err := t.conn(ctx, req, h, trace)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, early, err := t.exchange(ctx, pc, req, &head, trace)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			closeBody(req)
			return nil, ctx.Err()
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

// host returns the host of a request this transport serves, or nil to
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
		h = &h1Host{direct: true}
		if t.fallback.Proxy != nil {
			if p, err := t.fallback.Proxy(req); err != nil || p != nil {
				h.direct = false
			}
		}
		t.mu.Lock()
		if h0 := t.hosts[key]; h0 != nil {
			h = h0
		} else {
			t.hosts[key] = h
		}
		t.mu.Unlock()
	}
	if !h.direct {
		return nil
	}
	return h
}

// conn returns an idle connection to the request's host, or a new one.
func (t *h1Transport) conn(ctx context.Context, req *http.Request, h *h1Host, trace *httptrace.ClientTrace) (*h1Conn, error) {
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
	pc, err := t.dialConn(ctx, req, h, trace)
	if err != nil {
		return nil, err
	}
	if trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: pc.conn})
	}
	return pc, nil
}

func (t *h1Transport) dialConn(ctx context.Context, req *http.Request, h *h1Host, trace *httptrace.ClientTrace) (*h1Conn, error) {
	u := req.URL
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	c, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	pc := &h1Conn{host: h, conn: c}
	tcp := c
	if tc, ok := c.(*trackedConn); ok {
		tcp = tc.Conn
	}
	pc.peek = newIdlePeek(tcp)
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if t.tlsConfig != nil {
			cfg = t.tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
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
			return nil, err
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
	now := time.Now()
	pc.idleAt, pc.reused = now, true
	t.mu.Lock()
	if len(pc.host.idle) >= h1MaxIdle {
		t.mu.Unlock()
		pc.close()
		return
	}
	pc.host.idle = append(pc.host.idle, pc)
	var dead []*h1Conn
	if now.Sub(t.swept) >= h1Sweep {
		t.swept = now
		dead = t.sweep(now)
	}
	t.mu.Unlock()
	for _, pc := range dead {
		pc.close()
	}
}

// sweep takes out of the idle lists the connections idle for
// h1IdleTimeout or that the server closed, and returns them. t.mu is held.
func (t *h1Transport) sweep(now time.Time) []*h1Conn {
	var dead []*h1Conn
	for _, h := range t.hosts {
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
	}
	return dead
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
func (t *h1Transport) exchange(ctx context.Context, pc *h1Conn, req *http.Request, head *h1Head, trace *httptrace.ClientTrace) (resp *http.Response, early bool, err error) {
	// A context that can end closes the connection when it does: the
	// request fails at once and the connection is not used again.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, pc.close)
	}
	fail := func(err error) (*http.Response, bool, error) {
		if stop != nil {
			stop()
		}
		pc.close()
		return nil, early, err
	}
	err = t.writeRequest(pc.bw, req, head)
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err != nil {
		var ve *h1RequestError
		early = !errors.As(err, &ve) // a request it could not write is not sent again
		return fail(err)
	}
	pc.limit = h1MaxHeader
	if _, err := pc.br.Peek(1); err != nil {
		early = !isTimeout(err)
		if errors.Is(err, io.EOF) && pc.reused {
			err = errServerClosed
		}
		return fail(err)
	}
	if trace != nil && trace.GotFirstResponseByte != nil {
		trace.GotFirstResponseByte()
	}
	for n := 0; ; n++ {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xx {
			return fail(errors.New("net/http: too many 1xx informational responses"))
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
	}
	pc.limit = math.MaxInt64 // bodies are bounded by their readers
	resp.TLS = pc.tls
	keep := t.keepAlive && !req.Close && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols &&
		!httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	b := &h1Body{t: t, pc: pc, rc: resp.Body, keep: keep, stop: stop, ctx: ctx}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, false, nil
	}
	resp.Body = b
	if head.gzip && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
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

// head checks a request as net/http does before it takes a connection.
func (t *h1Transport) head(req *http.Request) (h h1Head, err error) {
	h = h1Head{method: req.Method, host: req.Host}
	if h.method == "" {
		h.method = http.MethodGet
	}
	if !validMethod(h.method) {
		return h, fmt.Errorf("net/http: invalid method %q", h.method)
	}
	if req.ContentLength > 0 && (req.Body == nil || req.Body == http.NoBody) {
		return h, fmt.Errorf("http: Request.ContentLength=%d with nil Body", req.ContentLength)
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return h, fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return h, fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	if h.host == "" {
		h.host = req.URL.Host
	}
	host, err := httpguts.PunycodeHostPort(h.host)
	if err != nil {
		return h, err
	}
	if !httpguts.ValidHostHeader(host) {
		host = "" // as net/http without a proxy
	}
	h.host = removeZone(host)
	h.uri = req.URL.RequestURI()
	if strings.IndexFunc(h.uri, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return h, errors.New("net/http: can't write control character in Request.URL")
	}
	// As net/http: ask for gzip unless the request chose its encodings or
	// a range (whose offsets would be of the compressed bytes).
	h.gzip = h.method != http.MethodHead && req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
	return h, nil
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
	mu   sync.Mutex // Close may come while a Read runs
	t    *h1Transport
	pc   *h1Conn
	rc   io.ReadCloser // the body as http.ReadResponse gives it
	keep bool          // the connection may serve another request
	stop func() bool   // ends the watch on the request's context, if any
	ctx  context.Context
	done bool
	err  error // what reads return once done
}

var errBodyClosed = errors.New("http: read on closed response body")

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(false)
		b.err = err
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
		b.err = errBodyClosed
	}
	return nil
}

// finish ends the response; ok when its body was read to the end.
func (b *h1Body) finish(ok bool) {
	b.done, b.err = true, io.EOF
	watched := b.stop == nil || b.stop() // false: the context ended and closes the connection
	if ok && b.keep && watched {
		b.t.put(b.pc)
		return
	}
	b.pc.close()
}

// gzipBody decodes a gzip body, as net/http does for the gzip it asked for.
type gzipBody struct {
	body *h1Body
	zr   *gzip.Reader
	err  error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			g.err = err
			return 0, err
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil {
		g.err = err
	}
	return n, err
}

func (g *gzipBody) Close() error {
	g.err = errBodyClosed
	return g.body.Close()
}
