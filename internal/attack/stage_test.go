package attack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/outcome"
)

// endHandler notes when each stage ended and every result's send time.
type endHandler struct {
	nopHandler
	mu    sync.Mutex
	ended []time.Time
	sent  []time.Time
	retry int
}

func (h *endHandler) StageEnd(_ int, at time.Time, _ bool) { h.ended = append(h.ended, at) }
func (h *endHandler) Result(_, _ int, r *vegeta.Result, x *Extra) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, r.Timestamp)
	for _, a := range x.Attempts {
		h.sent = append(h.sent, a.Start)
	}
	h.retry += max(len(x.Attempts)-1, 0)
	return nil
}

// A closed-model stage sends nothing after its end: 5 workers, a 500 ms
// stage, a target that takes 1.5 s: each worker sends once, and no worker
// that comes free after the end sends again (vegeta hands out a turn that
// was waiting for a free worker). Nor does a retry leave after the end.
func TestClosedStageSendsNothingAfterItsEnd(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var arrived []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	h := &endHandler{}
	retry := &RetryPolicy{On5xx: &RetryRule{Max: 3, Delay: 10 * time.Millisecond}}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL, Retry: retry}},
		Stages:   []Stage{{Name: "s", Duration: 500 * time.Millisecond, Concurrency: 5}},
		Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	start := time.Now()
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	end := start.Add(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(arrived) != 5 || len(h.sent) != 5 || h.retry != 0 {
		t.Fatalf("the server saw %d requests, the results %d sends and %d retries; want 5 sends, no retry", len(arrived), len(h.sent), h.retry)
	}
	// When a request left is the transport's clock, not the target's: one
	// sent in time may reach a busy machine's server late.
	for _, s := range h.sent {
		if s.After(end) {
			t.Errorf("a request left %v after the stage's end", s.Sub(end))
		}
	}
}

// A stage of any size ends within its duration and one timeout, not when
// the target answers: 1000 workers against a target that never answers.
func TestThousandWorkersOnHangingTarget(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	const stage, timeout = time.Second, time.Second
	h := &endHandler{}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: "http://" + ln.Addr().String()}},
		Stages:   []Stage{{Name: "s", Duration: stage, Concurrency: 1000}},
		Client:   NewHTTPClient(Client{Timeout: timeout, KeepAlive: true}),
	}
	start := time.Now()
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	// The stage ends within its length and one timeout; five times that
	// leaves room for a busy machine and still fails a stage that waits
	// on the target, which never answers.
	if took, bound := h.ended[0].Sub(start), 5*(stage+timeout); took > bound {
		t.Errorf("the stage ended after %v; its bound is %v", took, bound)
	}
	if len(h.sent) != 1000 {
		t.Errorf("%d requests; each of the 1000 workers sends one before the stage ends", len(h.sent))
	}
	for _, s := range h.sent {
		if s.After(start.Add(stage)) {
			t.Fatalf("a request left %v after the stage's end", s.Sub(start.Add(stage)))
		}
	}
}

// A redirect goes to a host only when the guard lets it: refused, the try
// fails (system) with the redirect's status counted, and the host gets
// nothing; allowed, it is followed.
func TestGuardAllowsWhatItMay(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	prod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer prod.Close()
	hop := httptest.NewServer(http.RedirectHandler(prod.URL+"/landed", http.StatusTemporaryRedirect))
	defer hop.Close()
	for _, allow := range []bool{false, true} {
		h := &oneHandler{}
		p := &Plan{
			Requests: []Request{{Name: "r", Method: "GET", URL: hop.URL, Weight: 1}},
			Stages:   []Stage{{Name: "one", Open: true, Rate: 1000, RampTo: 1000, Duration: time.Millisecond}},
			Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
			Guard: func(u *url.URL, method string) error {
				if !allow && u.Host == prod.Listener.Addr().String() {
					return errors.New("production")
				}
				return nil
			},
		}
		if err := run(t.Context(), p, h); err != nil {
			t.Fatal(err)
		}
		got := h.got[0]
		switch {
		case !allow && (got.kind != outcome.System || got.code != http.StatusTemporaryRedirect || hits.Load() != 0):
			t.Errorf("refused: %d %v, production got %d", got.code, got.kind, hits.Load())
		case allow && (got.kind != outcome.None || got.code != 200 || hits.Load() != 1):
			t.Errorf("allowed: %d %v, production got %d", got.code, got.kind, hits.Load())
		}
	}
}

// The round tripper leaves the caller's request as it was: the headers it
// adds and the one it drops are on a copy.
func TestRoundTripLeavesRequestAlone(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	r, err := New(&Plan{
		Requests: []Request{{Name: "r", Method: "GET", URL: srv.URL}}, RequestID: true,
		Client: NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
		Auth:   Auth{Kind: "bearer", Token: "t0ken-value"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"#0.7", nil)
	req.Header.Set("X-Vegeta-Seq", "7")
	before := req.Header.Clone()
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(req.Header) != len(before) || req.Header.Get("X-Vegeta-Seq") != "7" || req.Header.Get("Authorization") != "" {
		t.Errorf("the caller's headers changed: %v, were %v", req.Header, before)
	}
	if got.Get("X-Vegeta-Seq") != "" || got.Get("Authorization") != "Bearer t0ken-value" || len(got.Get("X-Request-Id")) != 36 {
		t.Errorf("the target got %v", got)
	}
}
