package attack

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
)

// recorder is a loopback server that keeps the bytes of every request it
// reads and answers each with a short 200.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []string
}

func newRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		n := int64(0)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				n, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
			if line == "\r\n" {
				break
			}
		}
		if _, err := io.CopyN(&head, br, n); err != nil {
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, head.String())
		r.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

// The transport writes every request byte for byte as net/http's does.
func TestH1WritesWhatNetHTTPWrites(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t)
	base := "http://" + srv.ln.Addr().String()
	type tc struct {
		name      string
		make      func() *http.Request
		keepAlive bool
	}
	req := func(method, path, body string, hdr ...string) func() *http.Request {
		return func() *http.Request {
			var b io.Reader
			if body != "" {
				b = strings.NewReader(body)
			}
			r, err := http.NewRequest(method, base+path, b)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				r.Header.Add(hdr[i], hdr[i+1])
			}
			if h := r.Header.Get("Host"); h != "" {
				r.Host = h
			}
			return r
		}
	}
	cases := []tc{
		{"get", req("GET", "/a?b=1&c=%20#frag", ""), true},
		{"headers", req("GET", "/", "", "X-B", "2", "X-A", "1", "X-A", "one more", "Accept", "application/json"), true},
		{"user agent", req("GET", "/", "", "User-Agent", "loadgate-test/1"), true},
		{"no user agent", req("GET", "/", "", "User-Agent", ""), true},
		{"host", req("GET", "/", "", "Host", "api.example.test"), true},
		{"post", req("POST", "/contacts", `{"name":"Ada"}`, "Content-Type", "application/json"), true},
		{"put empty", req("PUT", "/x", ""), true},
		{"delete", req("DELETE", "/contacts/1", ""), true},
		{"head", req("HEAD", "/", ""), true},
		{"own encoding", req("GET", "/", "", "Accept-Encoding", "br"), true},
		{"range", req("GET", "/", "", "Range", "bytes=0-1"), true},
		{"close header", req("GET", "/", "", "Connection", "close"), true},
		{"no keep-alive", req("POST", "/", "x"), false},
		{"close", func() *http.Request { r := req("GET", "/", "")(); r.Close = true; return r }, true},
	}
	for _, c := range cases {
		var got [2]string
		for i, h1 := range []bool{false, true} {
			cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: c.keepAlive})
			rt := cl.Transport
			if !h1 {
				rt = netHTTP(rt.(*h1Transport))
			}
			resp, err := rt.RoundTrip(c.make())
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got[i] = srv.last()
		}
		if got[0] != got[1] {
			t.Errorf("%s: net/http wrote\n%q\nthis transport wrote\n%q", c.name, got[0], got[1])
		}
	}
}

// Responses read as net/http reads them: chunked, gzip (asked for and
// decoded), informational answers first, trailers, HEAD and 204.
func TestH1ReadsWhatNetHTTPReads(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := range 3 {
				io.WriteString(w, strings.Repeat(strconv.Itoa(i), 1000))
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3000")
		case "/gzip":
			if r.Header.Get("Accept-Encoding") != "gzip" {
				http.Error(w, "no gzip asked", 400)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, strings.Repeat("compressed ", 100))
			zw.Close()
		case "/hints":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "made")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			io.WriteString(w, "plain")
		}
	}))
	defer srv.Close()
	type answer struct {
		code    int
		body    string
		length  int64
		unzip   bool
		multi   string
		trailer string
	}
	read := func(rt http.RoundTripper, method, path string) answer {
		r, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := rt.RoundTrip(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return answer{resp.StatusCode, string(b), resp.ContentLength, resp.Uncompressed,
			strings.Join(resp.Header.Values("X-Multi"), ","), resp.Trailer.Get("X-Sum")}
	}
	cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true})
	h1 := cl.Transport.(*h1Transport)
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/chunked"}, {"GET", "/gzip"}, {"GET", "/hints"}, {"GET", "/empty"}, {"HEAD", "/"},
	} {
		want, got := read(netHTTP(h1), c.method, c.path), read(h1, c.method, c.path)
		if got != want {
			t.Errorf("%s %s: net/http read %+v, this transport %+v", c.method, c.path, want, got)
		}
		if want.code == 0 || want.code == 400 {
			t.Errorf("%s %s: the server did not answer as planned: %+v", c.method, c.path, want)
		}
	}
}

// netHTTP is net/http's transport as the h1 transport's fallback is, but
// asking for gzip itself, as it does by default (loadgate asks for gzip
// itself, to count the bytes as sent).
func netHTTP(t *h1Transport) *http.Transport {
	ref := t.fallback.Clone()
	ref.DisableCompression = false
	return ref
}

// countConns serves handler and counts the connections it accepts.
func countConns(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func get(t *testing.T, rt http.RoundTripper, r *http.Request) (string, error) {
	t.Helper()
	resp, err := rt.RoundTrip(r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A connection serves request after request; a body closed before its end
// costs the connection, as in net/http.
func TestH1ReusesConnections(t *testing.T) {
	t.Parallel()
	srv, conns := countConns(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 64<<10))
	})
	rt := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport
	for range 20 {
		r, _ := http.NewRequest("GET", srv.URL, nil)
		if b, err := get(t, rt, r); err != nil || len(b) != 64<<10 {
			t.Fatalf("got %d bytes, %v", len(b), err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 requests in a row took %d connections, want 1", n)
	}
	r, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := rt.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	r, _ = http.NewRequest("GET", srv.URL, nil)
	if _, err := get(t, rt, r); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("after a body closed early: %d connections, want 2", n)
	}
}

// oneShot answers one request per connection and then, without saying so
// (no Connection: close), closes it at once, or, when drop is set, reads
// the next request and closes it unanswered, as a server does whose
// keep-alive timeout ran out just as that request left.
func oneShot(t *testing.T, drop bool) (addr string, conns *atomic.Int64, closed <-chan struct{}) {
	return rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if drop {
			http.ReadRequest(br)
		}
	})
}

// rawServer serves each connection with serve, which the connection's
// close follows, counts the connections, and tells of each close.
func rawServer(t *testing.T, serve func(net.Conn)) (addr string, conns *atomic.Int64, closed <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int64{}
	done := make(chan struct{}, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				serve(c)
				c.Close()
				done <- struct{}{}
			}()
		}
	}()
	return ln.Addr().String(), conns, done
}

// await waits for a signal from a test server.
func await(t *testing.T, closed <-chan struct{}) {
	t.Helper()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no word from the server in 5 s")
	}
}

// A reused connection the server closes on the next request: a request
// that is safe to repeat goes again on a new connection, and the trace
// shows the second connection (loadgate counts the lost try); one that is
// not safe fails.
func TestH1ResendsOnlyWhatIsSafe(t *testing.T) {
	t.Parallel()
	addr, conns, _ := oneShot(t, true)
	rt := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport
	send := func(method string, hdr ...string) (gotConn int, err error) {
		r, _ := http.NewRequest(method, "http://"+addr+"/", strings.NewReader("body"))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		r = r.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { gotConn++ },
		}))
		_, err = get(t, rt, r)
		return gotConn, err
	}
	if n, err := send("GET"); err != nil || n != 1 {
		t.Fatalf("first request: %d connections, %v", n, err)
	}
	if n, err := send("GET"); err != nil || n != 2 {
		t.Fatalf("GET on a dropped connection: %d connections, %v; want 2 and no error", n, err)
	}
	if n, err := send("POST", "Idempotency-Key", "k1"); err != nil || n != 2 {
		t.Fatalf("POST with an Idempotency-Key: %d connections, %v; want 2 and no error", n, err)
	}
	n, err := send("POST")
	if err == nil || n != 1 {
		t.Fatalf("POST on a dropped connection: %d connections, %v; want 1 and an error", n, err)
	}
	if !strings.Contains(err.Error(), "server closed idle connection") {
		t.Fatalf("POST on a dropped connection: %v", err)
	}
	// The first GET's, the resent GET's and the resent POST's.
	if c := conns.Load(); c != 3 {
		t.Fatalf("the server saw %d connections, want 3", c)
	}
}

// Every idle connection is looked at before use: one the server closed
// meanwhile is dropped, and even a request that is not safe to repeat
// goes through. One still open is used, even past its deadline.
func TestH1ChecksIdleConnections(t *testing.T) {
	t.Parallel()
	addr, closing, closed := oneShot(t, false)
	srv, open := countConns(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// A timeout shorter than the pause: the deadline the last request set
	// has passed when the connection is taken again.
	rt := NewHTTPClient(Client{Timeout: 200 * time.Millisecond, KeepAlive: true}).Transport
	for i := range 3 {
		for _, u := range []string{"http://" + addr + "/", srv.URL} {
			r, _ := http.NewRequest("POST", u, strings.NewReader("body"))
			if _, err := get(t, rt, r); err != nil {
				t.Fatalf("POST %d to %s: %v", i+1, u, err)
			}
		}
		await(t, closed)
		time.Sleep(300 * time.Millisecond)
	}
	if c := closing.Load(); c != 3 {
		t.Fatalf("the server that closes saw %d connections, want 3", c)
	}
	if c := open.Load(); c != 1 {
		t.Fatalf("the server that keeps connections saw %d, want 1", c)
	}
}

// A response with bytes after its end (a body to a HEAD, sent late) costs
// its connection, not the next request.
func TestH1StrayBytes(t *testing.T) {
	t.Parallel()
	stray := make(chan struct{}, 1)
	addr, conns, _ := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
			if r.Method == "HEAD" {
				time.Sleep(20 * time.Millisecond)
			}
			io.WriteString(c, "hello")
			if r.Method == "HEAD" {
				stray <- struct{}{}
			}
		}
	})
	rt := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport
	for i, m := range []string{"HEAD", "GET", "GET"} {
		if i == 1 {
			await(t, stray) // in the connection's buffer once written, on loopback
		}
		r, _ := http.NewRequest(m, "http://"+addr+"/", nil)
		b, err := get(t, rt, r)
		if err != nil || m == "GET" && b != "hello" {
			t.Fatalf("%s: %q, %v", m, b, err)
		}
	}
	if c := conns.Load(); c != 2 {
		t.Fatalf("%d connections, want 2: the HEAD's is dropped, the next kept", c)
	}
}

// An invalid request fails before it takes a connection.
func TestH1InvalidRequestKeepsConnection(t *testing.T) {
	t.Parallel()
	srv, conns := countConns(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	rt := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport
	for i := range 4 {
		r, _ := http.NewRequest("GET", srv.URL, nil)
		if i%2 == 1 {
			r.Header["X-Bad"] = []string{"a\nb"}
		}
		_, err := get(t, rt, r)
		if (err != nil) != (i%2 == 1) {
			t.Fatalf("request %d: %v", i, err)
		}
		if err != nil && !strings.Contains(err.Error(), `invalid header field value for "X-Bad"`) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if c := conns.Load(); c != 1 {
		t.Fatalf("%d connections, want 1", c)
	}
}

// Idle connections the server closed are closed here too within a sweep,
// not kept until they are next taken.
func TestH1SweepsClosedConnections(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true})
	fillPool(t, cl.Transport, srv.URL+"/slow", 20)
	// One request every 50 ms keeps one connection busy; the others,
	// idle, are closed by the server, then swept, within about a sweep
	// (h1Sweep) and the server's idle timeout: 10 s leaves room for a
	// busy machine, and no sweep at all still fails.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r, _ := http.NewRequest("GET", srv.URL+"/fast", nil)
		if _, err := get(t, cl.Transport, r); err != nil {
			t.Fatal(err)
		}
		cl.conns.mu.Lock()
		n := len(cl.conns.m)
		cl.conns.mu.Unlock()
		if n <= 2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("idle connections the server closed are still open after 10 s")
}

// fillPool sends n requests to url at once, leaving n idle connections.
func fillPool(t *testing.T, rt http.RoundTripper, url string, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest("GET", url, nil)
			get(t, rt, r)
		}()
	}
	wg.Wait()
}

// slowServer answers /slow when the test ends, anything else at once;
// arrived hears of each /slow request as it reaches the handler.
func slowServer(t *testing.T) (srv *httptest.Server, conns *atomic.Int64, arrived <-chan struct{}) {
	release := make(chan struct{})
	in := make(chan struct{}, 16)
	srv, conns = countConns(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case in <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	return srv, conns, in
}

// A request whose context ends fails with the context's error at once; its
// connection is not used again.
func TestH1ContextEndsRequest(t *testing.T) {
	t.Parallel()
	srv, conns, _ := slowServer(t)
	rt := NewHTTPClient(Client{Timeout: 10 * time.Second, KeepAlive: true}).Transport
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	start := time.Now()
	_, err := get(t, rt, r)
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") || took > 2*time.Second {
		t.Fatalf("after %v: %v; want the context's deadline after 100ms", took, err)
	}
	r, _ = http.NewRequest("GET", srv.URL+"/fast", nil)
	if b, err := get(t, rt, r); err != nil || b != "ok" {
		t.Fatalf("next request: %q, %v", b, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: the timed-out one is not reused", n)
	}
	// A context that ends after the body was read leaves the connection
	// reusable.
	ctx2, cancel2 := context.WithCancel(context.Background())
	r, _ = http.NewRequestWithContext(ctx2, "GET", srv.URL+"/fast", nil)
	if b, err := get(t, rt, r); err != nil || b != "ok" {
		t.Fatalf("request with a context: %q, %v", b, err)
	}
	cancel2()
	r, _ = http.NewRequest("GET", srv.URL+"/fast", nil)
	if _, err := get(t, rt, r); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// What the transport does not do itself goes through net/http: a body over
// h1MaxBody, and a proxy.
func TestH1HandsOverWhatItDoesNotDo(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	defer srv.Close()
	cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true})
	h1 := cl.Transport.(*h1Transport)
	big := bytes.Repeat([]byte("b"), h1MaxBody+1)
	r, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(big))
	if h1.host(r) != nil {
		t.Fatal("a body over h1MaxBody is not handed to net/http")
	}
	if _, err := get(t, h1, r); err != nil || got.Load() != int64(len(big)) {
		t.Fatalf("big body: %d bytes arrived, %v", got.Load(), err)
	}
	r, _ = http.NewRequest("POST", srv.URL, bytes.NewReader(big[:h1MaxBody]))
	if h1.host(r) == nil {
		t.Fatal("a body of h1MaxBody is handed to net/http")
	}
	if _, err := get(t, h1, r); err != nil || got.Load() != h1MaxBody {
		t.Fatalf("body of h1MaxBody: %d bytes arrived, %v", got.Load(), err)
	}
	h1.fallback.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }
	r, _ = http.NewRequest("GET", "http://localhost.invalid:1/", nil)
	if h1.host(r) != nil {
		t.Fatal("a request through a proxy is not handed to net/http")
	}
}

// TLS connections are made and reused; the response tells its TLS state.
func TestH1TLS(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	rt := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true, InsecureTLS: true}).Transport
	for range 5 {
		r, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := rt.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || !resp.TLS.HandshakeComplete || string(b) != "HTTP/1.1" {
			t.Fatalf("TLS %v, body %q", resp.TLS, b)
		}
	}
	if n.Load() != 1 {
		t.Fatalf("5 requests took %d TLS connections, want 1", n.Load())
	}
	strict := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport
	r, _ := http.NewRequest("GET", srv.URL, nil)
	if _, err := strict.RoundTrip(r); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown certificate: %v", err)
	}
}

// Cutting a run's connections ends a request in flight on a reused
// connection as aborted, at once, with no try on another connection; a
// POST, which is not sent again, too (not as a closed connection).
func TestH1CutInFlight(t *testing.T) {
	t.Parallel()
	srv, _, arrived := slowServer(t)
	for _, method := range []string{"GET", "POST"} {
		cl := NewHTTPClient(Client{Timeout: 10 * time.Second, KeepAlive: true})
		fillPool(t, cl.Transport, srv.URL+"/fast", 3)
		gotConn := 0
		r, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { gotConn++ },
		}), method, srv.URL+"/slow", strings.NewReader("x"))
		// Cut once the request is in flight: at the server, waiting for
		// its answer.
		cut := make(chan time.Time, 1)
		go func() {
			select {
			case <-arrived:
				cut <- time.Now()
				cl.conns.closeAll()
			case <-time.After(10 * time.Second):
				cut <- time.Time{}
			}
		}()
		_, err := get(t, cl.Transport, r)
		ended := time.Now()
		at := <-cut
		// At once: well before the 10 s timeout that ends the request
		// otherwise.
		if at.IsZero() || !errors.Is(err, errAborted) || gotConn != 1 || ended.Sub(at) > 2*time.Second {
			t.Fatalf("%s ended %v after the cut (cut: %v): %v with %d connections; want aborted on the first", method, ended.Sub(at), !at.IsZero(), err, gotConn)
		}
	}
}

// A new connection closed before any answer fails with EOF, as in
// net/http, and is not sent again.
func TestH1FreshConnectionClosed(t *testing.T) {
	t.Parallel()
	addr, conns, _ := rawServer(t, func(c net.Conn) { http.ReadRequest(bufio.NewReader(c)) })
	r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	_, err := get(t, NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport, r)
	if err == nil || err.Error() != "EOF" || conns.Load() != 1 {
		t.Fatalf("%v after %d connections; want EOF after 1", err, conns.Load())
	}
}

// A response head over the cap (1 MiB by default) is refused, rather than
// held in memory, with a kind of its own.
func TestH1HeadCap(t *testing.T) {
	t.Parallel()
	addr, _, _ := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: ")
		c.Write(bytes.Repeat([]byte("a"), DefaultMaxHeaderBytes+1))
		io.WriteString(c, "\r\nContent-Length: 0\r\n\r\n")
	})
	r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	_, err := get(t, NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}).Transport, r)
	if err == nil || outcome.KindOf(err) != outcome.HeadTooLarge {
		t.Fatalf("a head over 1 MiB: %v", err)
	}
}

// Closing a body does not wait behind a read blocked on it: the close cuts
// the read, which fails at once, however long the try's timeout; the same
// for a gzip body, read and closed at once under the race detector.
func TestH1CloseDoesNotWaitForRead(t *testing.T) {
	t.Parallel()
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 100\r\n\r\n" + string(gzipped("x")[:10]),
	} {
		addr, _, _ := rawServer(t, func(c net.Conn) {
			http.ReadRequest(bufio.NewReader(c))
			io.WriteString(c, head)
			io.Copy(io.Discard, c) // and nothing more
		})
		rt := NewHTTPClient(Client{Timeout: time.Minute, KeepAlive: true}).Transport
		r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		resp, err := rt.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(resp.Body)
			read <- err
		}()
		waitFor(t, 10*time.Second, "the read is not waiting on the connection", func() bool {
			return blockedOnIO("github.com/loadgate/loadgate/internal/attack.TestH1CloseDoesNotWaitForRead")
		})
		closed := make(chan struct{})
		go func() {
			resp.Body.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for a read a minute's timeout away")
		}
		select {
		case err := <-read:
			if err == nil {
				t.Error("a read cut by Close returned no error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the read went on after Close")
		}
	}
}

// URLs that name a host differently ("Host" and "host", "host" and
// "host:80") share its connections.
func TestH1OnePoolPerAddress(t *testing.T) {
	t.Parallel()
	srv, conns := countConns(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true,
		Redirect: map[string]string{"api.example.test:80": srv.Listener.Addr().String()}})
	for _, u := range []string{"http://api.example.test/a", "http://api.example.test:80/b", "http://API.Example.test/c", "http://api.example.test.:80/d"} {
		r, _ := http.NewRequest("GET", u, nil)
		if body, err := get(t, cl.Transport, r); err != nil || body != "ok" {
			t.Fatalf("%s: %q, %v", u, body, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for one address, want 1", n)
	}
}
