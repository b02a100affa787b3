package attack

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/outcome"
)

// sent is what loadgate recorded of one request: its last try, and the
// tries before it.
type sent struct {
	code    int
	kind    outcome.Kind
	bytes   uint64
	latency time.Duration
	errText string
	before  []Attempt
}

// oneHandler keeps the one result of a run.
type oneHandler struct {
	mu  sync.Mutex
	got []sent
}

func (h *oneHandler) StageStart(int, Stage, time.Time) {}
func (h *oneHandler) StageEnd(int, time.Time, bool)    {}
func (h *oneHandler) Result(_, _ int, r *vegeta.Result, x *Extra) error {
	code, kind, in := x.Outcome(r)
	s := sent{code: code, kind: kind, bytes: in, latency: r.Latency, errText: r.Error}
	if n := len(x.Attempts); n > 0 {
		s.before = append(s.before, x.Attempts[:n-1]...)
		s.latency = r.Timestamp.Add(r.Latency).Sub(x.Attempts[0].Start)
	}
	h.mu.Lock()
	h.got = append(h.got, s)
	h.mu.Unlock()
	return nil
}

// sendOne sends req once as a run sends it: through vegeta's attacker, the
// round tripper and loadgate's HTTP/1.1 transport, or net/http's.
func sendOne(t *testing.T, viaNet bool, c Client, req Request) sent {
	t.Helper()
	if viaNet {
		c.MaxConnections = 1 << 20 // any limit hands every request to net/http
	}
	cl := NewHTTPClient(c)
	if (cl.h1 == nil) != viaNet {
		t.Fatalf("viaNet %v, but the h1 transport is %v", viaNet, cl.h1)
	}
	req.Name, req.Weight = "r", 1
	p := &Plan{
		Requests: []Request{req},
		Stages:   []Stage{{Name: "one", Open: true, Rate: 1000, RampTo: 1000, Duration: time.Millisecond}},
		Client:   cl,
	}
	h := &oneHandler{}
	if err := run(t.Context(), p, h); err != nil {
		t.Fatal(err)
	}
	if len(h.got) != 1 {
		t.Fatalf("%d results, want 1", len(h.got))
	}
	return h.got[0]
}

// truth is what net/http's own client makes of a request: the status it
// got, whether it failed and timed out, the body bytes it read (compression
// off, so as sent) and how long it took.
type truth struct {
	code     int
	failed   bool
	timedOut bool
	bytes    int64
	took     time.Duration
}

func netTruth(t *testing.T, method, url string, timeout time.Duration, redirects int) truth {
	t.Helper()
	tr := &http.Transport{DisableCompression: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxResponseHeaderBytes: DefaultMaxHeaderBytes}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: timeout}
	c.CheckRedirect = func(_ *http.Request, via []*http.Request) error {
		if redirects == 0 {
			return http.ErrUseLastResponse
		}
		if len(via) > redirects {
			return fmt.Errorf("stopped after %d redirects", redirects)
		}
		return nil
	}
	req, _ := http.NewRequest(method, url, nil)
	if method != http.MethodHead {
		// Asked for by hand, gzip is not decoded: the bytes read are
		// those sent, and the test decodes them.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := c.Do(req)
	var tr0 truth
	if err == nil {
		tr0.code = resp.StatusCode
		var body bytes.Buffer
		tr0.bytes, err = io.Copy(&body, resp.Body)
		resp.Body.Close()
		if err == nil && resp.Header.Get("Content-Encoding") == "gzip" {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(&body); err == nil {
				_, err = io.Copy(io.Discard, zr)
			}
		}
	}
	tr0.took = time.Since(start)
	var ne net.Error
	tr0.failed, tr0.timedOut = err != nil, errors.As(err, &ne) && ne.Timeout()
	return tr0
}

// hostile starts a raw TCP server that answers every connection with
// serve, after reading a request.
func hostile(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	addr, _, _ := rawServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		serve(c)
	})
	return "http://" + addr
}

// answer writes a whole response head and body.
func answer(head, body string) func(net.Conn) {
	return func(c net.Conn) { io.WriteString(c, head+"\r\n\r\n"+body) }
}

// endlessHead sends a head that never ends, 64 KiB every 2 ms (fast
// enough to pass any cap within the timeout, slow enough to leave the
// machine to the other tests).
func endlessHead(c net.Conn) {
	io.WriteString(c, "HTTP/1.1 200 OK\r\n")
	lines := bytes.Repeat([]byte("X-Pad: abcdefghij\r\n"), 64<<10/20)
	for {
		if _, err := c.Write(lines); err != nil {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// endlessBody sends a chunked body that never ends, 64 KiB every 2 ms.
func endlessBody(c net.Conn) {
	io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := "10000\r\n" + strings.Repeat("x", 64<<10) + "\r\n"
	for {
		if _, err := io.WriteString(c, chunk); err != nil {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

// slowHandshakes delays the first read of every connection, so that a TLS
// handshake takes at least d.
type slowHandshakes struct {
	net.Listener
	d time.Duration
}

func (l slowHandshakes) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowFirstRead{Conn: c, d: l.d}, nil
}

type slowFirstRead struct {
	net.Conn
	d    time.Duration
	once sync.Once
}

func (c *slowFirstRead) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.d) })
	return c.Conn.Read(p)
}

// TestHostileTargets sends the same requests through both transports to a
// third-party server (go-httpbin's handler, in process) and to small
// misbehaving servers, and checks status, error kind, bytes and timeout
// timing against what the servers did and what net/http's own client makes
// of them.
func TestHostileTargets(t *testing.T) {
	t.Parallel()
	bin := httptest.NewServer(httpbin.New().Handler())
	t.Cleanup(bin.Close)
	corrupt := gzipped(strings.Repeat("loadgate ", 50))
	badSum := append([]byte(nil), corrupt...)
	badSum[len(badSum)-8] ^= 0xff // the CRC-32 in the trailer
	slowTLS := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(390 * time.Millisecond)
		io.WriteString(w, "late")
	}))
	slowTLS.Listener = slowHandshakes{slowTLS.Listener, 300 * time.Millisecond}
	slowTLS.StartTLS()
	t.Cleanup(slowTLS.Close)

	// Three hops of 250 ms each: one timeout covers the chain.
	slowHops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(250 * time.Millisecond)
		if n := len(r.URL.Path); n < 4 {
			http.Redirect(w, r, r.URL.Path+"h", http.StatusFound)
		}
	}))
	t.Cleanup(slowHops.Close)

	const timeout = 400 * time.Millisecond
	type want struct {
		code  int
		kind  outcome.Kind
		bytes int64 // -1: what net/http's client read; -2: any, above 0
		hops  int
	}
	cases := []struct {
		name      string
		method    string
		url       string
		redirects int
		want      want
	}{
		{"httpbin bytes", "GET", bin.URL + "/bytes/5000", 0, want{200, 0, 5000, 0}},
		{"httpbin chunked", "GET", bin.URL + "/stream-bytes/20000?chunk_size=999", 0, want{200, 0, 20000, 0}},
		{"httpbin gzip", "GET", bin.URL + "/gzip", 0, want{200, 0, -1, 0}},
		{"httpbin head", "HEAD", bin.URL + "/bytes/5000", 0, want{200, 0, 0, 0}},
		{"httpbin 204", "GET", bin.URL + "/status/204", 0, want{204, 0, 0, 0}},
		{"httpbin 500", "GET", bin.URL + "/status/500", 0, want{500, 0, 0, 0}},
		// The last answer echoes the request's headers, which differ
		// (Referer): its bytes are not net/http's.
		{"httpbin redirects", "GET", bin.URL + "/redirect/3", 0, want{200, 0, -2, 3}},
		{"httpbin redirect kept", "GET", bin.URL + "/redirect/3", NoRedirects, want{302, 0, -1, 0}},
		{"httpbin redirect loop", "GET", bin.URL + "/absolute-redirect/12", 0, want{302, outcome.TooManyHops, 0, 10}},
		{"httpbin silence", "GET", bin.URL + "/delay/2", 0, want{0, outcome.Timeout, 0, 0}},
		{"slow redirect chain", "GET", slowHops.URL + "/", 0, want{0, outcome.Timeout, 0, 1}},
		{"httpbin trickling body", "GET", bin.URL + "/drip?duration=2&numbytes=20&code=200&delay=0", 0, want{200, outcome.Timeout, -2, 0}},
		{"garbage", "GET", hostile(t, answer("HELLO THERE", "")), 0, want{0, outcome.Malformed, 0, 0}},
		{"trickling head", "GET", hostile(t, func(c net.Conn) {
			for _, b := range []byte("HTTP/1.1 200 OK\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}), 0, want{0, outcome.Timeout, 0, 0}},
		{"endless head", "GET", hostile(t, endlessHead), 0, want{0, outcome.HeadTooLarge, 0, 0}},
		{"endless body", "GET", hostile(t, endlessBody), 0, want{200, outcome.Timeout, -2, 0}},
		{"corrupt gzip", "GET", hostile(t, answer("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12", "not gzip at all"[:12])), 0,
			want{200, outcome.BadEncoding, 12, 0}},
		{"bad gzip checksum", "GET", hostile(t, answer(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d", len(badSum)), string(badSum))), 0,
			want{200, outcome.BadEncoding, int64(len(badSum)), 0}},
		{"bad chunk size", "GET", hostile(t, answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "zz\r\nabc\r\n0\r\n\r\n")), 0,
			want{200, outcome.BadFraming, 0, 0}},
		{"short body", "GET", hostile(t, answer("HTTP/1.1 200 OK\r\nContent-Length: 100", "only this")), 0,
			want{200, outcome.Closed, 9, 0}},
		{"early close", "GET", hostile(t, func(net.Conn) {}), 0, want{0, outcome.Closed, 0, 0}},
		{"slow handshake", "GET", slowTLS.URL, 0, want{0, outcome.Timeout, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			redirects := c.redirects
			if redirects == 0 {
				redirects = DefaultRedirects
			} else if redirects < 0 {
				redirects = 0
			}
			gt := netTruth(t, c.method, c.url, timeout, redirects)
			for _, viaNet := range []bool{false, true} {
				what := map[bool]string{false: "h1", true: "net/http"}[viaNet]
				got := sendOne(t, viaNet, Client{Timeout: timeout, KeepAlive: true, InsecureTLS: true},
					Request{Method: c.method, URL: c.url, Redirects: c.redirects})
				w := c.want
				if got.code != w.code || got.kind != w.kind {
					t.Errorf("%s: status %d, kind %v (%s); want %d, %v", what, got.code, got.kind, got.errText, w.code, w.kind)
				}
				switch {
				case w.bytes == -1 && int64(got.bytes) != gt.bytes:
					t.Errorf("%s: %d bytes; net/http read %d", what, got.bytes, gt.bytes)
				case w.bytes == -2 && got.bytes == 0:
					t.Errorf("%s: no bytes counted, though the body came", what)
				case w.bytes >= 0 && int64(got.bytes) != w.bytes:
					t.Errorf("%s: %d bytes, want %d", what, got.bytes, w.bytes)
				}
				hops := 0
				for _, a := range got.before {
					if a.Hop {
						hops++
						if a.Code != http.StatusFound {
							t.Errorf("%s: a hop answered %d", what, a.Code)
						}
					}
				}
				if hops != w.hops || len(got.before) != w.hops {
					t.Errorf("%s: %d tries before the last, %d of them hops; want %d hops", what, len(got.before), hops, w.hops)
				}
				// What net/http's client saw, loadgate saw.
				if gt.timedOut != (got.kind == outcome.Timeout) || gt.failed != (got.kind != outcome.None) {
					t.Errorf("%s: kind %v; net/http's client failed %v, timed out %v", what, got.kind, gt.failed, gt.timedOut)
				}
				if !gt.failed && gt.code != got.code {
					t.Errorf("%s: status %d; net/http's client got %d", what, got.code, gt.code)
				}
				if got.kind == outcome.Timeout {
					// One timeout covers the try, from its dial to its body:
					// never before it, and not long after (five times it
					// here, for a busy machine or the race detector);
					// TestAccuracyTimeout holds it to max(1%, 2 ms).
					if got.latency < timeout || got.latency > 5*timeout {
						t.Errorf("%s: timed out after %v; the timeout is %v (net/http's client: %v)", what, got.latency, timeout, gt.took)
					}
				}
			}
		})
	}
}

// A try whose body hits the deadline is a timeout, also when retries are
// on (each retry has a timeout of its own) and when it is retried.
func TestBodyTimeoutWithRetries(t *testing.T) {
	t.Parallel()
	url := hostile(t, endlessBody)
	for _, viaNet := range []bool{false, true} {
		got := sendOne(t, viaNet, Client{Timeout: 200 * time.Millisecond, KeepAlive: true},
			Request{Method: "GET", URL: url, Retry: &RetryPolicy{OnNetwork: &RetryRule{Max: 1, Delay: 10 * time.Millisecond}}})
		if got.kind != outcome.Timeout || got.code != 200 || len(got.before) != 1 || got.before[0].Kind != outcome.Timeout {
			t.Errorf("net/http %v: last try %d %v, tries before %+v; want two timeouts, the last with its 200", viaNet, got.code, got.kind, got.before)
		}
		if got.latency < 400*time.Millisecond {
			t.Errorf("net/http %v: two tries of 200 ms took %v", viaNet, got.latency)
		}
	}
}
