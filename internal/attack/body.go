package attack

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/loadgate/loadgate/internal/outcome"
)

// note records, for a hit's result, what its body reader learns after the
// round trip returned: vegeta keeps only an error's text, drops the status
// of an answer whose body failed, and counts only the body it kept.
type note struct {
	hits *hitStore
	id   uint64
	on   bool
}

// failed records that the body failed, with the kind of failure and the
// status the target had sent, and the body bytes that came before.
func (n note) failed(k outcome.Kind, code int, received int64) {
	if n.on {
		r := n.hits.get(n.id)
		r.kind, r.code, r.bytesIn, r.counted = k, code, received, true
	}
}

// bytes records the body bytes received, for an answer whose length its
// Content-Length does not give (chunked or gzip).
func (n note) bytes(received int64) {
	if n.on {
		r := n.hits.get(n.id)
		r.bytesIn, r.counted = received, true
	}
}

// notedBody is a response body that counts the bytes the target sent and
// tells a note what it finds.
type notedBody interface {
	io.ReadCloser
	// setNote gives the body its note, before it is handed on to be read.
	setNote(note)
	received() int64 // body bytes as sent, before any decoding
}

// bodyKind is the kind of an error reading a body: what its type says, a
// deadline the try's context passed, or else a framing error, the only
// other errors a body's reader makes.
func bodyKind(ctx context.Context, err error) outcome.Kind {
	if ctx != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outcome.Timeout
	}
	if k, ok := outcome.IO(err); ok {
		return k
	}
	return outcome.BadFraming
}

// viaNet sends a request through net/http's transport, within deadline.
// It asks for gzip itself, so that the bytes it counts are those sent. st
// is the try's trace, or nil when tracing is off (a trace of its own then
// tells whether the target answered, to classify what net/http's errors
// do not say by their types).
func viaNet(next http.RoundTripper, r *http.Request, deadline time.Time, maxHeader int64, st *traceState) (*http.Response, error) {
	if err := checkRequest(r); err != nil {
		closeBody(r)
		return nil, &outcome.Error{Kind: outcome.System, Err: err}
	}
	ctx := r.Context()
	if st == nil {
		st = newTraceState()
		ctx = st.context(ctx)
	}
	cancel := context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	gz := asksGzip(r)
	r = r.WithContext(ctx)
	if gz {
		h := make(http.Header, len(r.Header)+1)
		for k, v := range r.Header {
			h[k] = v
		}
		h["Accept-Encoding"] = gzipOnly
		r.Header = h
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		cancel()
		k, ok := outcome.IO(err)
		answered, conn := st.answered()
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			k = outcome.Timeout
		case ok:
		case answered:
			// The target answered, but not in HTTP, or at length.
			k = outcome.Malformed
			if conn != nil && readSinceWrite(conn) >= maxHeader {
				k = outcome.HeadTooLarge
			}
		default:
			k = outcome.Other
		}
		return nil, &outcome.Error{Kind: k, Err: err}
	}
	b := &netBody{rc: resp.Body, ctx: ctx, cancel: cancel, code: resp.StatusCode, counts: resp.ContentLength < 0}
	resp.Body = b
	if gz && decodesGzip(resp) {
		b.counts = true
		resp.Body = &gzipBody{body: b}
	}
	return resp, nil
}

var gzipOnly = []string{"gzip"}

// checkRequest refuses what net/http would refuse to send, so that a
// request loadgate could not make is counted as loadgate's failure.
func checkRequest(r *http.Request) error {
	if r.URL == nil || r.URL.Host == "" && r.Host == "" {
		return errors.New("http: no Host in request URL")
	}
	if s := r.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("unsupported protocol scheme %q", s)
	}
	_, err := requestHead(r)
	return err
}

// asksGzip reports whether a request gets "Accept-Encoding: gzip" and its
// answer decoded, as net/http does on its own: unless it chose its
// encodings or a range (whose offsets would be of the compressed bytes).
func asksGzip(r *http.Request) bool {
	return r.Method != http.MethodHead && r.Header.Get("Accept-Encoding") == "" && r.Header.Get("Range") == ""
}

// decodesGzip readies a response for a gzip decoder, when it is gzip.
func decodesGzip(resp *http.Response) bool {
	if !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") || resp.Body == http.NoBody {
		return false
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Uncompressed = true
	return true
}

// netBody is the body of an answer through net/http.
type netBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	code   int
	counts bool // its length is not in Content-Length: note it
	mu     sync.Mutex
	n      int64
	note   note
	failed bool
	done   bool
}

func (b *netBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && !b.done {
		b.done = true
		if err == io.EOF {
			if b.counts {
				b.note.bytes(b.n)
			}
		} else {
			b.failed = true
			k := bodyKind(b.ctx, err)
			b.note.failed(k, b.code, b.n)
			err = &outcome.Error{Kind: k, Code: b.code, Err: err}
		}
		b.cancel()
	}
	return n, err
}

func (b *netBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

func (b *netBody) setNote(n note) { b.note = n }
func (b *netBody) received() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
func (b *netBody) broke() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failed
}

// gzipBody decodes a gzip body. An error the body itself met is the
// body's; any other is the encoding's.
type gzipBody struct {
	mu   sync.Mutex
	body interface {
		notedBody
		broke() bool
	}
	zr     *gzip.Reader
	err    error
	note   note
	closed atomic.Bool
}

var errBodyClosed = errors.New("http: read on closed response body")

func (g *gzipBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return 0, errBodyClosed
	}
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			return 0, g.fail(err)
		}
		g.zr = zr
	}
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		return n, g.fail(err)
	}
	g.err = err
	return n, err
}

func (g *gzipBody) fail(err error) error {
	if !g.body.broke() {
		// The bytes came whole; they were not gzip.
		g.note.failed(outcome.BadEncoding, g.code(), g.body.received())
		err = &outcome.Error{Kind: outcome.BadEncoding, Err: err}
	}
	g.err = err
	return err
}

func (g *gzipBody) code() int {
	switch b := g.body.(type) {
	case *netBody:
		return b.code
	case *h1Body:
		return b.code
	}
	return 0
}

// Close does not wait for a Read: it closes the body under it, which
// ends a Read that waits.
func (g *gzipBody) Close() error {
	g.closed.Store(true)
	return g.body.Close()
}

func (g *gzipBody) setNote(n note) {
	g.note = n
	g.body.setNote(n)
}
func (g *gzipBody) received() int64 { return g.body.received() }

// requestHead checks a request as net/http does before it takes a
// connection, and works out what its head needs.
func requestHead(req *http.Request) (h h1Head, err error) {
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
	h.gzip = h.method != http.MethodHead && asksGzip(req)
	return h, nil
}
