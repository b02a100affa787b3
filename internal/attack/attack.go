// Package attack drives vegeta's attacker through a scenario's stages and
// hands every result, attributed to its request, to a Handler.
package attack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one kind of request, ready to send.
type Request struct {
	Name   string
	Method string
	URL    string // absolute
	Header http.Header
	Body   []byte
	Weight int
}

// Stage is one period of load.
type Stage struct {
	Name        string
	Duration    time.Duration
	Open        bool    // open model: Rate ramping to RampTo; else closed
	Rate        float64 // per second, at the start
	RampTo      float64 // per second, at the end; equal to Rate when constant
	Concurrency int     // closed model: workers sending back to back
	MaxWorkers  int     // open model: cap on concurrent requests; 0 means DefaultMaxWorkers
}

// Planned returns the number of requests an open stage sends in full, or 0
// for a closed stage.
func (s Stage) Planned() float64 {
	if !s.Open {
		return 0
	}
	return s.pacer().Planned()
}

func (s Stage) pacer() pacer { return pacer{From: s.Rate, To: s.RampTo, Length: s.Duration} }

// DefaultGrace is how long an interrupted run waits for requests in
// flight before cutting them.
const DefaultGrace = 500 * time.Millisecond

// DefaultMaxWorkers caps the concurrent requests of an open-model stage, so
// that a target which stops answering cannot make the attacker open
// connections without bound.
const DefaultMaxWorkers = 10000

// Client holds the settings of the HTTP client shared by every stage.
type Client struct {
	Timeout        time.Duration
	KeepAlive      bool
	HTTP2          bool
	MaxConnections int // per host; 0 means no limit
	InsecureTLS    bool
}

// HTTPClient is a run's HTTP client, whose connections can be cut at once.
type HTTPClient struct {
	*http.Client
	conns *conns
}

// NewHTTPClient builds the transport and client for a run. Each run gets its
// own; nothing process-wide is touched.
func NewHTTPClient(c Client) *HTTPClient {
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}
	cs := newConns()
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         cs.dial(dialer.DialContext),
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: c.InsecureTLS}, //nolint:gosec // only when the scenario asks
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 10000,
		MaxConnsPerHost:     c.MaxConnections,
		DisableKeepAlives:   !c.KeepAlive,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: c.Timeout,
		ForceAttemptHTTP2:   c.HTTP2,
	}
	var rt http.RoundTripper = tr
	if !c.HTTP2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		rt = countEveryAttempt{tr}
	}
	return &HTTPClient{Client: &http.Client{Transport: rt, Timeout: c.Timeout}, conns: cs}
}

// Plan is everything a run sends.
type Plan struct {
	Requests []Request
	Stages   []Stage
	Client   *HTTPClient
	// Grace is how long an interrupted run waits for requests in flight
	// before it cuts their connections; 0 means DefaultGrace.
	Grace time.Duration
	// MaxBody is how much of each response body is kept on the result:
	// 0 keeps none (the rest is read and discarded), -1 keeps all.
	MaxBody int64
}

// Handler receives the progress of a run. Its methods are called from one
// goroutine, in order.
type Handler interface {
	StageStart(i int, s Stage, at time.Time)
	// Result receives one result of stage i for request req. The result's
	// URL is the request's, and its Attack field is the request's name.
	// The result may not be kept after the call returns. An error stops
	// the run.
	Result(stage, req int, r *vegeta.Result) error
	StageEnd(i int, at time.Time, interrupted bool)
}

// Run sends the plan's stages one after the other. It stops early when ctx
// is done; in-flight requests are still awaited and handed over, so nothing
// sent goes unrecorded. It returns ctx's error when interrupted.
func Run(ctx context.Context, p *Plan, h Handler) error {
	if len(p.Requests) == 0 {
		return fmt.Errorf("no requests to send")
	}
	tr := newTargeter(p.Requests)
	for i, st := range p.Stages {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := runStage(ctx, p, i, st, tr, h); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func runStage(ctx context.Context, p *Plan, i int, st Stage, tr vegeta.Targeter, h Handler) error {
	opts := []func(*vegeta.Attacker){vegeta.Client(p.Client.Client), vegeta.MaxBody(p.MaxBody)}
	var pc vegeta.Pacer
	if st.Open {
		max := st.MaxWorkers
		if max <= 0 {
			max = DefaultMaxWorkers
		}
		opts = append(opts, vegeta.Workers(uint64(min(max, 10))), vegeta.MaxWorkers(uint64(max)))
		pc = st.pacer()
	} else {
		n := uint64(st.Concurrency)
		opts = append(opts, vegeta.Workers(n), vegeta.MaxWorkers(n))
		pc = vegeta.ConstantPacer{} // zero rate: as fast as the workers go
	}
	atk := vegeta.NewAttacker(opts...)
	h.StageStart(i, st, time.Now())
	results := atk.Attack(tr, pc, st.Duration, st.Name)

	// The one place where cancellation reaches the attacker: stop sending
	// at once, give requests in flight a grace period, then cut them.
	stopped := make(chan struct{})
	var interrupted, aborted atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			interrupted.Store(true)
			atk.Stop()
		case <-stopped:
			return
		}
		grace := p.Grace
		if grace <= 0 {
			grace = DefaultGrace
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			aborted.Store(true)
			p.Client.conns.closeAll()
		case <-stopped:
		}
	}()
	defer close(stopped)

	var herr error
	for r := range results {
		if herr != nil {
			continue // drain so the attacker's workers can finish
		}
		req := attribute(r, p.Requests)
		if req < 0 {
			herr = fmt.Errorf("result %d of stage %q carries no request tag (url %q)", r.Seq, st.Name, r.URL)
			atk.Stop()
			continue
		}
		if r.Code == 0 && aborted.Load() && !strings.HasPrefix(r.Error, "aborted") {
			r.Error = "aborted: " + r.Error
		}
		if herr = h.Result(i, req, r); herr != nil {
			atk.Stop()
		}
	}
	h.StageEnd(i, time.Now(), interrupted.Load())
	return herr
}

// attribute finds the request a result belongs to from the tag the
// targeter put in the URL fragment (which is never sent), and restores the
// URL and sets Attack to the request's name.
func attribute(r *vegeta.Result, reqs []Request) int {
	i := strings.LastIndexByte(r.URL, '#')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(r.URL[i+1:])
	if err != nil || n < 0 || n >= len(reqs) {
		return -1
	}
	if r.Error != "" {
		// Transport errors quote the URL; keep the tag out of them too.
		r.Error = strings.Replace(r.Error, r.URL[i:]+`"`, `"`, 1)
	}
	r.URL = r.URL[:i]
	r.Attack = reqs[n].Name
	return n
}

// newTargeter returns a targeter that picks requests by weight, in a fixed
// smooth order, and tags each URL with the request's index.
func newTargeter(reqs []Request) vegeta.Targeter {
	tagged := make([]string, len(reqs))
	for i, r := range reqs {
		tagged[i] = r.URL + "#" + strconv.Itoa(i)
	}
	order := schedule(reqs)
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := order[(n.Add(1)-1)%uint64(len(order))]
		r := &reqs[i]
		t.Method, t.URL, t.Header, t.Body = r.Method, tagged[i], r.Header, r.Body
		return nil
	}
}

// schedule spreads requests by weight with smooth weighted round robin, so
// that any window of the sequence holds close to the weighted mix.
func schedule(reqs []Request) []int {
	w := make([]int, len(reqs))
	g := 0
	for i, r := range reqs {
		w[i] = max(r.Weight, 1)
		g = gcd(g, w[i])
	}
	total := 0
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	cur := make([]int, len(w))
	out := make([]int, 0, total)
	for range total {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
