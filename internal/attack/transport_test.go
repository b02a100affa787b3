package attack

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The transport may start a dial for a try that then takes a connection
// that came free first; that dial's hooks fire later, possibly while the
// try's trace state serves another try. A try that reused its connection
// reports no dial, whatever hooks fire into its state.
func TestLateDialHooksAreNotCounted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var connects []time.Duration
	tr := &tracer{phases: func(req int, dns, connect, tls, ttfb time.Duration, reused bool) {
		mu.Lock()
		connects = append(connects, connect)
		mu.Unlock()
	}}
	ok := func() *http.Response {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
	send := func(rt roundTripFunc) {
		st, r, start := tr.begin(req)
		_, err := rt(r)
		tr.end(st, start, 0, err)
	}
	for range 50 {
		late := make(chan *httptrace.ClientTrace, 1)
		// The first try reuses a connection; its background dial has not
		// started yet when it returns.
		send(func(r *http.Request) (*http.Response, error) {
			ct := httptrace.ContextClientTrace(r.Context())
			ct.GotConn(httptrace.GotConnInfo{Reused: true})
			late <- ct
			return ok(), nil
		})
		// The second try (often given the same pooled state) reuses a
		// connection too, while the first try's dial runs.
		send(func(r *http.Request) (*http.Response, error) {
			old := <-late
			old.ConnectStart("tcp", "127.0.0.1:1")
			time.Sleep(100 * time.Microsecond)
			old.ConnectDone("tcp", "127.0.0.1:1", nil)
			httptrace.ContextClientTrace(r.Context()).GotConn(httptrace.GotConnInfo{Reused: true})
			return ok(), nil
		})
	}
	for i, c := range connects {
		if c != 0 {
			t.Fatalf("try %d reused its connection but reports a %v connect", i, c)
		}
	}
}
