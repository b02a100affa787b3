package attack

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// RetryRule bounds and spaces the retries of one class of outcome.
type RetryRule struct {
	Max         int           // retries after the first try
	Delay       time.Duration // the first wait
	Exponential bool          // double the wait each time
	Cap         time.Duration // bound on any wait
	RetryAfter  bool          // honour a Retry-After header, within Cap
}

// RetryPolicy says which outcomes are retried. 4xx other than 429 are
// never retried; a 401 with OAuth2 gets one token refresh and one retry.
type RetryPolicy struct {
	On429, On5xx, OnNetwork *RetryRule
}

// wait returns the wait before retry number n (from 0).
func (r *RetryRule) wait(n int, resp *http.Response) time.Duration {
	limit := r.Cap
	if limit <= 0 {
		limit = 30 * time.Second
	}
	if r.RetryAfter && resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, limit)
		}
	}
	d := r.Delay
	if r.Exponential {
		for range n {
			d *= 2
			if d >= limit {
				break
			}
		}
	}
	return min(d, limit)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		// Beyond any cap, and short of overflowing a Duration.
		return time.Duration(min(s, 1<<30)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// Attempt is one HTTP try of a logical request.
type Attempt struct {
	Start   time.Time
	Code    int
	Err     string        // as http.Client reports it: `Get "url": ...`
	Latency time.Duration // 0 for the last try: the result has it
	Group   string        // the group-by header of the response
}

// hitRecord is what a hit leaves behind for its result: the body sent,
// for checks that compare with it, and the tries, when retries are on.
type hitRecord struct {
	sent     []byte
	attempts []Attempt
	resent   int
	hidden   []string // values of secret headers sent
}

// hitStore holds hit records between the send and the result. It holds
// only the hits in flight.
type hitStore struct {
	// n counts the records held, so that taking from an empty store (the
	// common case: no retries, no checks on the body sent) costs an
	// atomic load rather than a lock.
	n      atomic.Int64
	shards [64]struct {
		sync.Mutex
		m map[uint64]*hitRecord
	}
}

func newHitStore() *hitStore {
	s := &hitStore{}
	for i := range s.shards {
		s.shards[i].m = map[uint64]*hitRecord{}
	}
	return s
}

func (s *hitStore) get(hid uint64) *hitRecord {
	sh := &s.shards[hid%64]
	sh.Lock()
	defer sh.Unlock()
	r := sh.m[hid]
	if r == nil {
		r = &hitRecord{}
		sh.m[hid] = r
		s.n.Add(1)
	}
	return r
}

func (s *hitStore) take(hid uint64) *hitRecord {
	if s.n.Load() == 0 {
		return nil
	}
	sh := &s.shards[hid%64]
	sh.Lock()
	defer sh.Unlock()
	r, ok := sh.m[hid]
	if ok {
		delete(sh.m, hid)
		s.n.Add(-1)
	}
	return r
}

// parseTag reads the "request.hit" tag the targeter puts in the URL
// fragment.
func parseTag(frag string) (req int, hid uint64, ok bool) {
	a, b, found := strings.Cut(frag, ".")
	if !found {
		return 0, 0, false
	}
	r, err1 := strconv.Atoi(a)
	h, err2 := strconv.ParseUint(b, 10, 64)
	return r, h, err1 == nil && err2 == nil
}

// RequestID is the id of hit hid of a run: a UUID (version 8) made of the
// run's id and the hit number, sent as X-Request-ID and written in the
// request log, so no table of ids is kept.
func RequestID(run [8]byte, hid uint64) string {
	var b [16]byte
	copy(b[:8], run[:])
	for i := 0; i < 8; i++ {
		b[15-i] = byte(hid >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// roundTripper adds what every request needs beyond vegeta's: the request
// id, authentication and retries. Without retries or OAuth2 it costs a
// header or two.
type roundTripper struct {
	next        http.RoundTripper
	run         [8]byte
	requestID   bool
	tokens      *tokenSource
	static      *staticAuth
	policies    []*RetryPolicy // by request index
	hits        *hitStore
	recordTries bool          // record every try in hits: retries are on
	tracer      *tracer       // nil when tracing is off
	timeout     time.Duration // per try, when retrying
	abort       context.Context
	groupBy     string // response header recorded on each try
	groupJSON   string // or JSON path in the body of each retried try
}

func (t *roundTripper) retrying() bool {
	if t.tokens != nil {
		return true
	}
	for _, p := range t.policies {
		if p != nil {
			return true
		}
	}
	return false
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	idx, hid, tagged := parseTag(req.URL.Fragment)
	// vegeta numbers every request in a header of its own; X-Request-ID
	// already names it, and the target need not parse both.
	delete(req.Header, "X-Vegeta-Seq")
	if t.requestID && tagged {
		req.Header["X-Request-Id"] = []string{RequestID(t.run, hid)}
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
	if tagged && idx < len(t.policies) {
		pol = t.policies[idx]
	}
	if pol == nil && tok == nil {
		return t.send(req, idx, hid, tagged)
	}
	return t.tries(req, idx, hid, tagged, pol, tok)
}

// send makes one try, traced when tracing is on.
func (t *roundTripper) send(r *http.Request, idx int, hid uint64, tagged bool) (*http.Response, error) {
	if t.tracer == nil {
		return t.next.RoundTrip(r)
	}
	if !tagged {
		idx = -1
	}
	resp, resent, err := t.tracer.send(t.next, r, idx)
	if resent > 0 && tagged {
		t.hits.get(hid).resent += resent
	}
	return resp, err
}

func (t *roundTripper) tries(req *http.Request, idx int, hid uint64, tagged bool, pol *RetryPolicy, tok *token) (*http.Response, error) {
	if pol == nil {
		pol = &RetryPolicy{}
	}
	var rec *hitRecord
	if tagged && t.recordTries {
		rec = t.hits.get(hid)
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
					return nil, err
				}
				r.Body = body
			}
			if tok != nil {
				r.Header["Authorization"] = []string{tok.header}
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
		r = r.WithContext(ctx)
		start := time.Now()
		resp, err := t.send(r, idx, hid, tagged)
		if err != nil && t.abort.Err() != nil {
			cancel()
			return nil, errAborted
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
				grp := t.group(resp, discard(resp, t.groupJSON != ""))
				t.record(rec, Attempt{Start: start, Code: resp.StatusCode, Latency: time.Since(start), Group: grp})
				cancel()
				continue
			}
		case resp.StatusCode == http.StatusTooManyRequests:
			rule, n = pol.On429, &n429
		case resp.StatusCode >= 500:
			rule, n = pol.On5xx, &n5xx
		}
		if rule == nil || *n >= rule.Max {
			if rec != nil {
				// The last try's JSON group is found by the checks.
				rec.attempts = append(rec.attempts, Attempt{Start: start, Code: code(resp), Err: errText(r, err), Group: t.group(resp, nil)})
			}
			if err != nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		wait := rule.wait(*n, resp)
		*n++
		var body []byte
		if resp != nil {
			body = discard(resp, t.groupJSON != "")
		}
		grp := t.group(resp, body)
		t.record(rec, Attempt{Start: start, Code: code(resp), Err: errText(r, err), Latency: time.Since(start), Group: grp})
		cancel()
		if !sleepCtx(t.abort, wait) {
			return nil, errAborted
		}
	}
}

func (t *roundTripper) record(rec *hitRecord, a Attempt) {
	if rec != nil {
		rec.attempts = append(rec.attempts, a)
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

func code(r *http.Response) int {
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

// discard reads a little of a response that is being retried, so its
// connection can be reused, and closes it. With keep, it returns what it
// read.
func discard(r *http.Response, keep bool) []byte {
	defer r.Body.Close()
	const most = 64 << 10 // a short read only costs the connection
	if keep {
		b, _ := io.ReadAll(io.LimitReader(r.Body, most))
		return b
	}
	_, _ = io.CopyN(io.Discard, r.Body, most)
	return nil
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

// cancelBody ends a try's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelBody) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
