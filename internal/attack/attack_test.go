package attack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// countingHandler records what the server saw and what the handler got.
type countingHandler struct {
	mu       sync.Mutex
	byReq    map[int]int
	mismatch []string
	paths    []string
	stages   []int
	ended    []bool
}

func (h *countingHandler) StageStart(i int, _ Stage, _ time.Time) {}
func (h *countingHandler) StageEnd(i int, _ time.Time, interrupted bool) {
	h.ended = append(h.ended, interrupted)
}

func (h *countingHandler) Result(stage, req int, r *vegeta.Result, _ *Extra) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byReq[req]++
	for len(h.stages) <= stage {
		h.stages = append(h.stages, 0)
	}
	h.stages[stage]++
	if !strings.HasSuffix(r.URL, h.paths[req]) || r.Attack != fmt.Sprint("r", req) || strings.Contains(r.URL, "#") {
		h.mismatch = append(h.mismatch, fmt.Sprintf("req %d got url %q attack %q", req, r.URL, r.Attack))
	}
	if r.Code != 200 {
		h.mismatch = append(h.mismatch, fmt.Sprintf("req %d: status %d %s", req, r.Code, r.Error))
	}
	return nil
}

// TestAttributionUnderConcurrency sends three kinds of request from 64
// workers at once and checks that every result is attributed to the
// request that was sent, by counting on both sides.
func TestAttributionUnderConcurrency(t *testing.T) {
	t.Parallel()
	var served [3]atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			served[0].Add(1)
		case "/b":
			served[1].Add(1)
			time.Sleep(time.Millisecond) // different latencies mix the completion order
		case "/c":
			served[2].Add(1)
		}
		if r.URL.Fragment != "" {
			t.Errorf("fragment sent to the server: %q", r.URL.Fragment)
		}
	}))
	defer srv.Close()

	paths := []string{"/a", "/b", "/c"}
	h := &countingHandler{byReq: map[int]int{}, paths: paths}
	var reqs []Request
	for i, p := range paths {
		reqs = append(reqs, Request{Name: fmt.Sprint("r", i), Method: "GET", URL: srv.URL + p, Weight: []int{5, 3, 2}[i]})
	}
	plan := &Plan{
		Requests: reqs,
		Stages:   []Stage{{Name: "closed", Duration: 700 * time.Millisecond, Concurrency: 64}},
		Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	if len(h.mismatch) > 0 {
		t.Fatalf("%d misattributed results, first: %s", len(h.mismatch), h.mismatch[0])
	}
	total := 0
	for i := range paths {
		if got, want := int64(h.byReq[i]), served[i].Load(); got != want {
			t.Errorf("request %s: handler got %d results, server served %d", paths[i], got, want)
		}
		total += h.byReq[i]
	}
	if total < 500 {
		t.Fatalf("only %d requests sent; the test needs more to mean anything", total)
	}
	// The weighted order is fixed, so the mix is the weights' to within
	// the requests still in flight when the stage ended.
	for i, w := range []float64{0.5, 0.3, 0.2} {
		share := float64(h.byReq[i]) / float64(total)
		if share < w-0.02 || share > w+0.02 {
			t.Errorf("request %s share %.3f, want %.2f", paths[i], share, w)
		}
	}
}

// TestOpenStageSendsExactCount checks the pacer's schedule end to end:
// 200/s for one second is 200 requests, a ramp from 100/s to 300/s over
// one second is 200 more.
func TestOpenStageSendsExactCount(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	h := &countingHandler{byReq: map[int]int{}, paths: []string{"/x"}}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL + "/x"}},
		Stages: []Stage{
			{Name: "flat", Duration: time.Second, Open: true, Rate: 200, RampTo: 200},
			{Name: "ramp", Duration: time.Second, Open: true, Rate: 100, RampTo: 300},
		},
		Client: NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	start := time.Now()
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	if len(h.mismatch) > 0 {
		t.Fatal(h.mismatch[0])
	}
	if h.stages[0] != 200 || h.stages[1] != 200 {
		t.Errorf("stage counts = %v, want [200 200]", h.stages)
	}
	if el := time.Since(start); el < 1900*time.Millisecond {
		t.Errorf("two one-second stages took %v", el)
	}
}

// TestLateGeneratorSendsWholeSchedule holds the only worker up just
// before the end of a stage, so the hits due last leave after the stage's
// length: they are still sent (late), and the stage sends its schedule.
func TestLateGeneratorSendsWholeSchedule(t *testing.T) {
	t.Parallel()
	var arrivals atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hit 195 of 200 is due at 975 ms; holding it 60 ms hands the next
		// tick over after the stage's one second.
		if arrivals.Add(1) == 196 {
			time.Sleep(60 * time.Millisecond)
		}
	}))
	defer srv.Close()
	h := &countingHandler{byReq: map[int]int{}, paths: []string{"/x"}}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL + "/x"}},
		Stages:   []Stage{{Name: "flat", Duration: time.Second, Open: true, Rate: 200, RampTo: 200, MaxWorkers: 1}},
		Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	if len(h.mismatch) > 0 {
		t.Fatal(h.mismatch[0])
	}
	if got := arrivals.Load(); got != 200 || h.stages[0] != 200 {
		t.Errorf("server saw %d requests, handler got %v, want 200", got, h.stages)
	}
}

func TestCancelStopsAndHandsOverEverything(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	h := &countingHandler{byReq: map[int]int{}, paths: []string{"/x"}}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL + "/x"}},
		Stages:   []Stage{{Name: "long", Duration: time.Minute, Concurrency: 8}, {Name: "never", Duration: time.Minute, Concurrency: 8}},
		Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err := run(ctx, plan, h)
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("stopping took %v", el)
	}
	if int64(h.byReq[0]) != served.Load() {
		t.Errorf("handler got %d results, server served %d", h.byReq[0], served.Load())
	}
	if len(h.ended) != 1 || !h.ended[0] {
		t.Errorf("stage ends = %v, want one interrupted stage", h.ended)
	}
}

func TestPacer(t *testing.T) {
	t.Parallel()
	p := pacer{From: 100, To: 100, Length: 10 * time.Second}
	if d := p.Due(0); d != 0 {
		t.Errorf("hit 0 due at %v", d)
	}
	if d := p.Due(50); d != 500*time.Millisecond {
		t.Errorf("hit 50 due at %v", d)
	}
	if _, stop := p.Pace(9*time.Second, 1000); !stop {
		t.Error("hit 1000 of a 1000-hit stage not stopped")
	}
	if w, stop := p.Pace(100*time.Millisecond, 5); stop || w != 0 {
		t.Errorf("behind schedule: wait %v stop %v", w, stop)
	}
	if w, _ := p.Pace(0, 1); w != 10*time.Millisecond {
		t.Errorf("wait for hit 1 = %v", w)
	}
	r := pacer{From: 0, To: 200, Length: 10 * time.Second}
	if got := r.Planned(); got != 1000 {
		t.Errorf("ramp planned %v hits", got)
	}
	// Half the hits of a ramp from 0 go out in the last 29% of it.
	if d := r.Due(500); d < 7070*time.Millisecond || d > 7072*time.Millisecond {
		t.Errorf("ramp hit 500 due at %v, want 7.071s", d)
	}
	if got := r.Rate(5 * time.Second); got != 100 {
		t.Errorf("ramp rate at 5s = %v", got)
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	order := schedule([]Request{{Weight: 65}, {Weight: 20}, {Weight: 10}, {Weight: 5}})
	if len(order) != 20 {
		t.Fatalf("len %d, want 20 (weights divided by their gcd)", len(order))
	}
	count := map[int]int{}
	for _, i := range order {
		count[i]++
	}
	if count[0] != 13 || count[1] != 4 || count[2] != 2 || count[3] != 1 {
		t.Errorf("counts = %v", count)
	}
}

type errCounter struct {
	countingHandler
	errs, ok, resent int
}

func (e *errCounter) Result(stage, req int, r *vegeta.Result, x *Extra) error {
	if r.Code == 0 {
		e.errs++
	} else {
		e.ok++
	}
	e.resent += x.Resent
	return nil
}

// TestDroppedConnectionsAreCounted checks that a GET whose keep-alive
// connection is dropped is not lost in the transport, which sends it again
// on a new connection: the trace notices, and the result says so.
func TestDroppedConnectionsAreCounted(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			t.Errorf("GET arrived with a body: length %d, encoding %v", r.ContentLength, r.TransferEncoding)
		}
		if n.Add(1)%10 == 0 {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	defer srv.Close()
	h := &errCounter{}
	plan := &Plan{
		Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL + "/x"}},
		Stages:   []Stage{{Name: "s", Duration: time.Second, Open: true, Rate: 500, RampTo: 500}},
		Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
	}
	if err := run(context.Background(), plan, h); err != nil {
		t.Fatal(err)
	}
	// Every 10th request the server saw was dropped. Go resent a dropped
	// request that had gone out on a reused connection (the resent one
	// could be dropped in turn); one on a fresh connection fails. So the
	// server saw each request once plus every resend, and each drop is
	// either a resend or a failure.
	seen := int(n.Load())
	if h.errs+h.ok != 500 || h.resent != seen-500 || seen/10 != h.errs+h.resent {
		t.Errorf("results %d (errors %d, resent %d), server saw %d", h.errs+h.ok, h.errs, h.resent, seen)
	}
}

func run(ctx context.Context, p *Plan, h Handler) error {
	r, err := New(p)
	if err != nil {
		return err
	}
	return r.Run(ctx, h)
}

// TestShardsPartitionTheSchedule: the shards of a split open stage send,
// between them, exactly the hits of the whole schedule, each at its time.
func TestShardsPartitionTheSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate, ramp float64
		length     time.Duration
		shards     int
	}{{10, 10, time.Second, 3}, {200, 200, 10 * time.Second, 4}, {0, 300, 7 * time.Second, 5}, {1, 1, time.Second, 4}} {
		whole := pacer{From: tc.rate, To: tc.ramp, Length: tc.length}
		var wholeDue []time.Duration
		for n := uint64(0); ; n++ {
			if _, stop := whole.Pace(0, n); stop {
				break
			}
			wholeDue = append(wholeDue, whole.Due(n))
		}
		var planned float64
		seen := map[time.Duration]int{}
		for i := range tc.shards {
			p := pacer{From: tc.rate, To: tc.ramp, Length: tc.length, Shard: uint64(i), Shards: uint64(tc.shards)}
			n := uint64(0)
			for ; ; n++ {
				if _, stop := p.Pace(0, n); stop {
					break
				}
				seen[p.Due(p.global(n))]++
			}
			if float64(n) != p.Planned() {
				t.Errorf("%+v shard %d sends %d, plans %v", tc, i, n, p.Planned())
			}
			planned += p.Planned()
		}
		if int(planned) != len(wholeDue) || len(seen) != len(wholeDue) {
			t.Errorf("%+v: shards send %v (%d distinct times), the whole schedule %d", tc, planned, len(seen), len(wholeDue))
		}
		for _, d := range wholeDue {
			if seen[d] != 1 {
				t.Errorf("%+v: hit due at %v sent %d times", tc, d, seen[d])
			}
		}
	}
}

// bodyHandler records the size of the body each result keeps.
type bodyHandler struct {
	nopHandler
	sizes []int
}

func (h *bodyHandler) Result(_, _ int, r *vegeta.Result, _ *Extra) error {
	h.sizes = append(h.sizes, len(r.Body))
	return nil
}

// TestBodyCap: a target answering 1 MiB bodies: each result keeps only
// MaxBody bytes of it (the rest is read and discarded, so the connection
// is reused), and 0 keeps none.
func TestBodyCap(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(big))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, limit := range []int64{1024, 0} {
		h := &bodyHandler{}
		plan := &Plan{
			Requests: []Request{{Name: "r0", Method: "GET", URL: srv.URL + "/big"}},
			Stages:   []Stage{{Name: "s", Duration: 500 * time.Millisecond, Open: true, Rate: 20, RampTo: 20, MaxWorkers: 1}},
			Client:   NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true}),
			MaxBody:  limit,
		}
		before := conns.Load()
		if err := run(context.Background(), plan, h); err != nil {
			t.Fatal(err)
		}
		if len(h.sizes) != 10 {
			t.Fatalf("max body %d: %d results, want 10", limit, len(h.sizes))
		}
		for _, n := range h.sizes {
			if int64(n) != limit {
				t.Fatalf("max body %d: results kept %v bytes", limit, h.sizes)
			}
		}
		if c := conns.Load() - before; c != 1 {
			t.Errorf("max body %d: %d connections for one worker, want 1 (bodies read to the end)", limit, c)
		}
	}
}

// TestSleeperWaitsForDue: the pacer given to vegeta waits for each hit
// itself and says to send at once, never before the hit is due; a wait
// shorter than sleepAlone is left to vegeta as it is.
func TestSleeperWaitsForDue(t *testing.T) {
	t.Parallel()
	s := sleeper{pacer{From: 200, To: 200, Length: time.Second}} // a hit every 5 ms
	began := time.Now()
	for n := uint64(1); n <= 20; n++ {
		wait, stop := s.Pace(time.Since(began), n)
		due := began.Add(s.Due(n))
		if now := time.Now(); stop || wait != 0 || now.Before(due) {
			t.Fatalf("hit %d: wait %v, stop %v, returned %v before it was due", n, wait, stop, due.Sub(now))
		}
	}
	if wait, _ := s.Pace(s.Due(3)-sleepAlone/2, 3); wait != sleepAlone/2 {
		t.Fatalf("a wait of %v came back as %v", sleepAlone/2, wait)
	}
}
