package attack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/loadgate/loadgate/internal/outcome"
)

// DefaultRedirects is how many redirects a request follows unless told
// otherwise, as k6 and vegeta do.
const DefaultRedirects = 10

// roundTripper adds what every request needs beyond vegeta's: the request
// id, authentication, one timeout per try, redirects followed as tries of
// their own, and retries. A request with none of them costs a header or two.
type roundTripper struct {
	next      http.RoundTripper // net/http's transport
	h1        *h1Transport      // serves what it can; nil: next serves all
	run       [8]byte
	requestID bool
	tokens    *tokenSource
	static    *staticAuth
	policies  []*RetryPolicy // by request index
	redirects []int          // by request index: how many are followed
	hits      *hitStore
	tracer    *tracer       // nil when tracing is off
	timeout   time.Duration // per try, redirects included; 0 for none
	maxBody   int64         // how much of a body the result keeps; -1: all
	maxHeader int64         // bound on a response's head
	abort     context.Context
	groupBy   string // response header recorded on each try
	groupJSON string // or JSON path in the body of each retried try
	guard     HostGuard
	// stageEnd is when the closed-model stage running ends (Unix ns, 0
	// for none): no retry starts after it.
	stageEnd atomic.Int64
}

// hit is one logical request on its way through the round tripper.
type hit struct {
	idx int // the request's index; -1 for a request with no tag
	id  uint64
	rec *hitRecord // taken from the store once something must be recorded
}

func (t *roundTripper) record(h *hit) *hitRecord {
	if h.rec == nil && h.idx >= 0 {
		h.rec = t.hits.get(h.id)
	}
	return h.rec
}

func (t *roundTripper) attempt(h *hit, a Attempt) {
	if rec := t.record(h); rec != nil {
		rec.attempts = append(rec.attempts, a)
	}
}

func (t *roundTripper) RoundTrip(in *http.Request) (*http.Response, error) {
	h := hit{idx: -1}
	if idx, id, ok := parseTag(in.URL.Fragment); ok {
		h.idx, h.id = idx, id
	}
	// The request is the caller's: its headers go on a copy, which drops
	// the one vegeta numbers every request with (X-Request-ID already
	// names it, and the target need not parse both).
	req := new(http.Request)
	*req = *in
	req.Header = make(http.Header, len(in.Header)+2)
	for k, v := range in.Header {
		if k != "X-Vegeta-Seq" {
			req.Header[k] = v
		}
	}
	if t.requestID && h.idx >= 0 {
		req.Header["X-Request-Id"] = []string{RequestID(t.run, h.id)}
	}
	// A request that sets its own credentials (a wrong key, on purpose)
	// keeps them.
	var tok *token
	switch {
	case t.tokens != nil:
		if _, own := req.Header["Authorization"]; !own {
			tok = t.tokens.cur.Load()
			req.Header["Authorization"] = []string{tok.header}
		}
	case t.static != nil:
		if _, own := req.Header[t.static.header]; !own {
			req.Header[t.static.header] = []string{t.static.value}
		}
	}
	var pol *RetryPolicy
	if h.idx >= 0 && h.idx < len(t.policies) {
		pol = t.policies[h.idx]
	}
	if pol == nil && tok == nil {
		resp, last, err := t.try(req, &h, time.Now())
		return t.last(&h, req, last, resp, err)
	}
	return t.tries(req, &h, pol, tok)
}

// try sends req and follows its redirects, all within one timeout from
// start. It returns the last answer and when the last hop started.
func (t *roundTripper) try(req *http.Request, h *hit, start time.Time) (*http.Response, time.Time, error) {
	var deadline time.Time
	if t.timeout > 0 {
		deadline = start.Add(t.timeout)
	}
	limit := DefaultRedirects
	if h.idx >= 0 && h.idx < len(t.redirects) {
		limit = t.redirects[h.idx]
	}
	for hops := 0; ; hops++ {
		resp, err := t.send(req, h, deadline)
		if err != nil || limit == 0 || !isRedirect(resp.StatusCode) {
			return resp, start, err
		}
		next, err := redirect(req, resp)
		if err != nil {
			resp.Body.Close()
			return nil, start, &outcome.Error{Kind: outcome.Malformed, Code: resp.StatusCode, Err: err}
		}
		if next == nil {
			return resp, start, nil // nowhere to go, or a body that cannot be sent again
		}
		if hops == limit {
			resp.Body.Close()
			return nil, start, &outcome.Error{Kind: outcome.TooManyHops, Code: resp.StatusCode, Err: fmt.Errorf("stopped after %d redirects", limit)}
		}
		if t.guard != nil {
			if err := t.guard(next.URL, next.Method); err != nil {
				resp.Body.Close()
				return nil, start, &outcome.Error{Kind: outcome.System, Code: resp.StatusCode, Err: err}
			}
		}
		_, n := discard(resp, false)
		t.attempt(h, Attempt{Start: start, Code: resp.StatusCode, Latency: time.Since(start), BytesIn: n, BytesOut: max(req.ContentLength, 0),
			Group: t.group(resp, nil), Hop: true})
		req, start = next, time.Now()
	}
}

// send makes one HTTP exchange, traced when tracing is on, its deadline
// the try's. Its error carries its kind.
func (t *roundTripper) send(r *http.Request, h *hit, deadline time.Time) (*http.Response, error) {
	var st *traceState
	var start time.Time
	if t.tracer != nil {
		st, r, start = t.tracer.begin(r)
	}
	var resp *http.Response
	var err error
	if hh := t.h1host(r); hh != nil {
		resp, err = t.h1.do(r, hh, deadline)
	} else {
		resp, err = viaNet(t.next, r, deadline, t.maxHeader, st)
	}
	if st != nil {
		if resent := t.tracer.end(st, start, h.idx, err); resent > 0 && h.idx >= 0 {
			t.record(h).resent += resent
		}
	}
	if err != nil && t.abort.Err() != nil {
		return nil, errAborted
	}
	return resp, err
}

func (t *roundTripper) h1host(r *http.Request) *h1Host {
	if t.h1 == nil {
		return nil
	}
	return t.h1.host(r)
}

// last ends a logical request with the try that started at start.
func (t *roundTripper) last(h *hit, req *http.Request, start time.Time, resp *http.Response, err error) (*http.Response, error) {
	code, kind := codeOf(resp), outcome.None
	if err != nil {
		kind = outcome.KindOf(err)
		if kind == outcome.None {
			kind = outcome.System // an error of loadgate's own making
		}
		var ke *outcome.Error
		if errors.As(err, &ke) {
			code = ke.Code
		}
		if rec := t.record(h); rec != nil {
			rec.kind, rec.code = kind, code
		}
	} else if h.idx >= 0 {
		if nb, ok := resp.Body.(notedBody); ok {
			nb.setNote(note{hits: t.hits, id: h.id, on: true})
		}
	}
	if h.rec != nil && len(h.rec.attempts) > 0 {
		h.rec.attempts = append(h.rec.attempts, Attempt{Start: start, Code: code, Kind: kind, Err: errText(req, err), Group: t.group(resp, nil)})
	}
	if err != nil && resp != nil {
		resp.Body.Close() // its body failed: the error is the answer
		resp = nil
	}
	return resp, err
}

func (t *roundTripper) tries(req *http.Request, h *hit, pol *RetryPolicy, tok *token) (*http.Response, error) {
	if pol == nil {
		pol = &RetryPolicy{}
	}
	var n429, n5xx, nNet int
	refreshed := false
	for try := 0; ; try++ {
		r := req
		if try > 0 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return t.last(h, req, time.Now(), nil, outcome.Wrap(outcome.System, err))
				}
				r.Body = body
			}
			if tok != nil {
				r.Header["Authorization"] = []string{tok.header}
			}
		}
		resp, start, err := t.try(r, h, time.Now())
		if err == nil && pol.OnNetwork != nil {
			// A body that fails (a timeout, a reset) is a network failure
			// to retry: read it here, before the result does.
			err = t.readBody(resp)
		}
		if errors.Is(err, errAborted) {
			return t.last(h, r, start, nil, err)
		}
		var rule *RetryRule
		var n *int
		switch {
		case err != nil:
			rule, n = pol.OnNetwork, &nNet
		case resp.StatusCode == http.StatusUnauthorized && tok != nil && !refreshed:
			refreshed = true
			nt, ferr := t.tokens.forceRefresh(t.abort, tok.gen)
			if ferr == nil {
				tok = nt
				body, in := discard(resp, t.groupJSON != "")
				t.attempt(h, Attempt{Start: start, Code: resp.StatusCode, Latency: time.Since(start), BytesIn: in, BytesOut: max(r.ContentLength, 0),
					Group: t.group(resp, body)})
				continue
			}
		case resp.StatusCode == http.StatusTooManyRequests:
			rule, n = pol.On429, &n429
		case resp.StatusCode >= 500:
			rule, n = pol.On5xx, &n5xx
		}
		if rule == nil || *n >= rule.Max {
			return t.last(h, r, start, resp, err)
		}
		wait := rule.wait(*n, resp)
		if end := t.stageEnd.Load(); end != 0 && time.Now().Add(wait).UnixNano() > end {
			// The stage is over before the retry would leave.
			return t.last(h, r, start, resp, err)
		}
		*n++
		a := Attempt{Start: start, Code: codeOf(resp), Kind: outcome.KindOf(err), Err: errText(r, err), BytesOut: max(r.ContentLength, 0)}
		var body []byte
		if resp != nil {
			body, a.BytesIn = discard(resp, t.groupJSON != "")
		}
		a.Latency, a.Group = time.Since(start), t.group(resp, body)
		t.attempt(h, a)
		if !sleepCtx(t.abort, wait) {
			return t.last(h, r, time.Now(), nil, errAborted)
		}
	}
}

// readBody reads an answer's body whole, keeping what max_body keeps, and
// gives the answer that instead. A body that fails is closed, and its
// error carries its kind and the status.
func (t *roundTripper) readBody(resp *http.Response) error {
	if resp.Body == http.NoBody {
		return nil
	}
	var kept []byte
	var err error
	if t.maxBody < 0 {
		kept, err = io.ReadAll(resp.Body)
	} else {
		kept, err = io.ReadAll(io.LimitReader(resp.Body, t.maxBody))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
	}
	var n int64 = -1
	if nb, ok := resp.Body.(notedBody); ok {
		n = nb.received()
	}
	resp.Body.Close()
	if err != nil {
		return outcome.Wrap(outcome.Other, err)
	}
	resp.Body = &readBody{Reader: bytes.NewReader(kept), n: n}
	return nil
}

// readBody is a body read before the result reads it.
type readBody struct {
	*bytes.Reader
	n int64 // the bytes the target sent; -1 when not counted
}

func (b *readBody) Close() error    { return nil }
func (b *readBody) received() int64 { return b.n }
func (b *readBody) setNote(n note) {
	if b.n >= 0 {
		n.bytes(b.n)
	}
}

// group returns a try's group-by value: a header of its response, or the
// value at a JSON path of the body read from it.
func (t *roundTripper) group(r *http.Response, body []byte) string {
	switch {
	case r == nil:
		return ""
	case t.groupBy != "":
		return r.Header.Get(t.groupBy)
	case t.groupJSON != "" && len(body) > 0:
		return gjson.GetBytes(body, t.groupJSON).String()
	}
	return ""
}

func codeOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// errText writes a try's error as http.Client would: `Get "url": err`.
func errText(r *http.Request, err error) string {
	if err == nil {
		return ""
	}
	u := *r.URL
	u.Fragment = ""
	op := r.Method[:1] + strings.ToLower(r.Method[1:])
	return (&url.Error{Op: op, URL: u.String(), Err: err}).Error()
}

// discard reads what is left of an answer that is not the result (a
// redirect hop, a try that is retried), so its connection can serve
// again, and closes it. It returns the body bytes the target sent and,
// with keep, what it read.
func discard(r *http.Response, keep bool) ([]byte, int64) {
	const most = 64 << 10 // beyond it, closing costs only the connection
	var b []byte
	var n int64
	if keep {
		b, _ = io.ReadAll(io.LimitReader(r.Body, most))
		n = int64(len(b))
	} else {
		n, _ = io.CopyN(io.Discard, r.Body, most)
	}
	r.Body.Close()
	if cb, ok := r.Body.(notedBody); ok {
		n = cb.received()
	}
	return b, n
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirect returns the request that follows the redirect resp answered
// req with, as net/http's client makes it: 301, 302 and 303 turn into a GET
// without a body, 307 and 308 keep the method and body; credentials and
// cookies are not sent to another host. It returns nil when there is
// nowhere to go or the body cannot be sent again.
func redirect(req *http.Request, resp *http.Response) (*http.Request, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("failed to parse Location header %q: %w", loc, err)
	}
	u.Fragment, u.RawFragment = "", ""
	method, body := req.Method, io.ReadCloser(nil)
	keepBody := false
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		if method != http.MethodGet && method != http.MethodHead {
			method = http.MethodGet
		}
	default:
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, nil
			}
			if body, err = req.GetBody(); err != nil {
				return nil, nil
			}
			keepBody = true
		}
	}
	next, err := http.NewRequestWithContext(req.Context(), method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("redirect to %q: %w", loc, err)
	}
	if keepBody {
		next.ContentLength, next.GetBody = req.ContentLength, req.GetBody
	}
	same := sameOrSubdomain(req.URL.Hostname(), u.Hostname())
	for k, vs := range req.Header {
		switch k {
		case "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization":
			if !same {
				continue
			}
		case "Content-Type", "Content-Length", "Content-Encoding":
			if !keepBody {
				continue
			}
		case "Referer":
			continue
		}
		next.Header[k] = vs
	}
	if ref := referer(req.URL, u); ref != "" {
		next.Header["Referer"] = []string{ref}
	}
	return next, nil
}

// sameOrSubdomain reports whether credentials for host from may go to
// host to: the same host or one of its subdomains, as net/http decides.
func sameOrSubdomain(from, to string) bool {
	from, to = strings.ToLower(from), strings.ToLower(to)
	return from == to || strings.HasSuffix(to, "."+from)
}

// referer is the Referer a redirect from last to next sends: none from
// https to http, and never userinfo or a fragment.
func referer(last, next *url.URL) string {
	if last.Scheme == "https" && next.Scheme == "http" {
		return ""
	}
	u := *last
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	return u.String()
}
