// Package dashboard serves a run while it goes on (run --listen): a live
// page updated by server-sent events as intervals close, and loadgate's
// figures in Prometheus' format at /metrics, so a long soak can be watched
// in an existing Grafana. Nothing secret is served: request names, counts,
// latencies and the observed series' values, never URLs or headers.
package dashboard

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadgate/loadgate/report"
)

//go:embed page.html
var page []byte

// Threshold is a threshold's state while the run goes on.
type Threshold struct {
	Expr string `json:"expr"`
	OK   bool   `json:"ok"`
}

// Event is one closed interval as the page shows it.
type Event struct {
	T          float64            `json:"t"` // seconds since the run's start
	SentRPS    float64            `json:"sent_rps"`
	Throughput float64            `json:"throughput_rps"`
	TargetRPS  float64            `json:"target_rps"`
	P50        float64            `json:"p50_ms"`
	P95        float64            `json:"p95_ms"`
	P99        float64            `json:"p99_ms"`
	Errors     map[string]float64 `json:"errors"` // share of the interval's requests, by class
	Requests   uint64             `json:"requests"`
	Thresholds []Threshold        `json:"thresholds,omitempty"`
	CPU        float64            `json:"generator_cpu"`
	LateShare  float64            `json:"generator_late_share"`
	Observed   map[string]float64 `json:"observed,omitempty"`
}

// Extra is what the run knows besides the interval's figures.
type Extra struct {
	Thresholds []Threshold
	CPU        float64
	LateShare  float64
}

// Observe, when set, returns the observed series' current values.
type Observe func(ctx context.Context, now time.Time) map[string]float64

// Server serves the live view of one run.
type Server struct {
	scenario string
	observe  Observe
	ln       net.Listener
	srv      *http.Server
	start    time.Time

	in   chan interval
	quit chan struct{}

	mu      sync.Mutex
	history []Event
	subs    map[chan []byte]struct{}
	ended   *endEvent
	dir     string // the run folder, served at /report/ once the run ended

	reg      *prometheus.Registry
	tries    *prometheus.CounterVec
	outcomes *prometheus.CounterVec
	gauges   map[string]prometheus.Gauge
	observed *prometheus.GaugeVec
	hists    map[string]*histAcc
	histDesc *prometheus.Desc
}

type interval struct {
	rec   report.IntervalRecord
	extra Extra
}

type endEvent struct {
	Verdict string `json:"verdict"`
	Report  string `json:"report"`
}

// Buckets are the latency histogram's bounds, in seconds.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Listen serves the live view on addr.
func Listen(addr, scenario string, observe Observe) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	s := &Server{scenario: scenario, observe: observe, ln: ln, in: make(chan interval, 64), quit: make(chan struct{}), subs: map[chan []byte]struct{}{},
		hists: map[string]*histAcc{}, start: time.Now()}
	s.registry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /events", s.events)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /report/", s.report)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	go s.loop()
	return s, nil
}

// SetObserve sets how the observed series' current values are read.
func (s *Server) SetObserve(fn Observe) {
	s.mu.Lock()
	s.observe = fn
	s.mu.Unlock()
}

// Addr is the address the view listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Interval hears of a closed interval of all requests. It never blocks
// the run: when the view falls behind, intervals are dropped from the page
// (not from /metrics' counters, which RequestInterval keeps).
func (s *Server) Interval(rec *report.IntervalRecord, extra Extra) {
	select {
	case s.in <- interval{rec: *rec, extra: extra}:
	default:
	}
}

// loop turns intervals into events, with the observed series' values.
func (s *Server) loop() {
	for {
		var iv interval
		select {
		case <-s.quit:
			return
		case iv = <-s.in:
		}
		s.event(&iv)
	}
}

// event publishes one interval.
func (s *Server) event(iv *interval) {
	r := &iv.rec
	secs := float64(max(r.LengthMS, 1)) / 1000
	ev := Event{
		T: r.Time().Add(time.Duration(r.LengthMS) * time.Millisecond).Sub(s.start).Seconds(), SentRPS: float64(r.Requests) / secs,
		Throughput: float64(r.Successes) / secs, TargetRPS: r.TargetRate, P50: r.P50MS, P95: r.P95MS, P99: r.P99MS,
		Requests: r.Requests, Thresholds: iv.extra.Thresholds, CPU: iv.extra.CPU, LateShare: iv.extra.LateShare,
		Errors: map[string]float64{},
	}
	if r.Logical > 0 {
		for class, n := range map[string]uint64{"network": r.Network, "protocol": r.Protocol, "business": r.Business, "system": r.System} {
			ev.Errors[class] = float64(n) / float64(r.Logical)
		}
	}
	s.mu.Lock()
	observe := s.observe
	s.mu.Unlock()
	if observe != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ev.Observed = observe(ctx, time.Now())
		cancel()
		for name, v := range ev.Observed {
			s.observed.WithLabelValues(name).Set(v)
		}
	}
	s.gauges["sent"].Set(ev.SentRPS)
	s.gauges["throughput"].Set(ev.Throughput)
	s.gauges["target"].Set(ev.TargetRPS)
	s.gauges["cpu"].Set(ev.CPU)
	s.gauges["late"].Set(ev.LateShare)
	failing := 0
	for _, t := range ev.Thresholds {
		if !t.OK {
			failing++
		}
	}
	s.gauges["failing"].Set(float64(failing))
	s.publish("interval", ev)
}

// publish sends an event to every page and keeps it for pages to come.
func (s *Server) publish(kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	msg := []byte("event: " + kind + "\ndata: " + string(b) + "\n\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev, ok := v.(Event); ok {
		s.history = append(s.history, ev)
		if len(s.history) > maxHistory {
			s.history = s.history[len(s.history)-maxHistory:]
		}
	}
	for ch := range s.subs {
		select {
		case ch <- msg:
		default: // a slow page misses an event rather than slowing the run
		}
	}
}

// maxHistory bounds the intervals a page that opens late is sent.
const maxHistory = 3600

// events streams the run to a page: the intervals so far, then each as it
// closes, then the end.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := make(chan []byte, 64)
	s.mu.Lock()
	fmt.Fprintf(w, "event: hello\ndata: %s\n\n", mustJSON(map[string]string{"scenario": s.scenario}))
	for _, ev := range s.history {
		fmt.Fprintf(w, "event: interval\ndata: %s\n\n", mustJSON(ev))
	}
	if s.ended != nil {
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", mustJSON(s.ended))
	}
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case msg := <-ch:
			if _, err := w.Write(msg); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// End tells the pages the run ended, and serves its report.html.
func (s *Server) End(dir, verdict string) {
	s.mu.Lock()
	s.dir = dir
	s.ended = &endEvent{Verdict: verdict, Report: "/report/"}
	s.mu.Unlock()
	s.publish("end", s.ended)
}

// report serves the run's report.html once the run ended.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		http.Error(w, "the run has not ended yet", http.StatusNotFound)
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		http.Error(w, "no report.html", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// Close stops serving; the pages' streams end.
func (s *Server) Close() error {
	close(s.quit)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close() // the event streams do not end by themselves
	}
	return err
}
