package dashboard

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadgate/loadgate/report"
)

// registry builds loadgate's /metrics: tries by request and status class,
// requests by outcome class, latency histograms by request, the target,
// sent and succeeded rates, the generator's health, the thresholds lost
// and the observed series.
func (s *Server) registry() {
	s.reg = prometheus.NewRegistry()
	s.tries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadgate_tries_total", Help: "HTTP tries by request name and status class (2xx..5xx; none: no answer).",
	}, []string{"request", "status_class"})
	s.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadgate_requests_total", Help: "Requests by request name and outcome: success, or the error class (network, protocol, business, system).",
	}, []string{"request", "outcome"})
	s.observed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "loadgate_observed", Help: "The target's observed series (observe:), by name.",
	}, []string{"series"})
	s.gauges = map[string]prometheus.Gauge{}
	for key, opts := range map[string]prometheus.GaugeOpts{
		"sent":       {Name: "loadgate_sent_rate", Help: "HTTP tries sent per second in the last interval."},
		"throughput": {Name: "loadgate_throughput", Help: "Successful requests per second in the last interval."},
		"target":     {Name: "loadgate_target_rate", Help: "The schedule's rate, per second (0 in closed-model stages)."},
		"cpu":        {Name: "loadgate_generator_cpu_ratio", Help: "loadgate's CPU use, as a share of the cores."},
		"late":       {Name: "loadgate_generator_late_share", Help: "Share of open-model sends over 100 ms behind the schedule."},
		"failing":    {Name: "loadgate_thresholds_failing", Help: "Thresholds lost so far."},
	} {
		s.gauges[key] = prometheus.NewGauge(opts)
		s.reg.MustRegister(s.gauges[key])
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadgate_run_info", Help: "The run's scenario.", ConstLabels: prometheus.Labels{"scenario": s.scenario}})
	info.Set(1)
	s.histDesc = prometheus.NewDesc("loadgate_try_duration_seconds", "Latency of the HTTP tries, by request name.", []string{"request"}, nil)
	s.reg.MustRegister(s.tries, s.outcomes, s.observed, info, histCollector{s})
}

// histAcc is a request's latency histogram so far.
type histAcc struct {
	mu      sync.Mutex
	buckets []uint64 // cumulative counts at Buckets
	count   uint64
	sum     float64 // seconds
}

// RequestInterval adds a closed interval of one request to the counters
// and its latency histogram.
func (s *Server) RequestInterval(rec *report.IntervalRecord) {
	name := rec.Request
	for class, n := range map[string]uint64{"2xx": rec.S2xx, "3xx": rec.S3xx, "4xx": rec.S4xx, "5xx": rec.S5xx, "none": rec.Transport} {
		if n > 0 {
			s.tries.WithLabelValues(name, class).Add(float64(n))
		}
	}
	for outcome, n := range map[string]uint64{"success": rec.Successes, "network": rec.Network, "protocol": rec.Protocol, "business": rec.Business, "system": rec.System} {
		if n > 0 {
			s.outcomes.WithLabelValues(name, outcome).Add(float64(n))
		}
	}
	s.mu.Lock()
	h, ok := s.hists[name]
	if !ok {
		h = &histAcc{buckets: make([]uint64, len(Buckets))}
		s.hists[name] = h
	}
	s.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count += rec.Requests
	h.sum += rec.MeanMS / 1000 * float64(rec.Requests)
	hist := rec.Hist()
	if hist == nil {
		return
	}
	for _, bar := range hist.Distribution() {
		if bar.Count == 0 {
			continue
		}
		// A bar's values are at most To microseconds: counted in the
		// first bucket that holds To.
		i := sort.SearchFloat64s(Buckets, float64(bar.To)/1e6)
		for ; i < len(Buckets); i++ {
			h.buckets[i] += uint64(bar.Count)
		}
	}
}

// histCollector exposes the latency histograms.
type histCollector struct{ s *Server }

func (c histCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.s.histDesc }

func (c histCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	names := make([]string, 0, len(c.s.hists))
	for n := range c.s.hists {
		names = append(names, n)
	}
	c.s.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		c.s.mu.Lock()
		h := c.s.hists[n]
		c.s.mu.Unlock()
		h.mu.Lock()
		b := make(map[float64]uint64, len(Buckets))
		for i, ub := range Buckets {
			b[ub] = h.buckets[i]
		}
		m, err := prometheus.NewConstHistogram(c.s.histDesc, h.count, h.sum, b, n)
		h.mu.Unlock()
		if err == nil {
			ch <- m
		}
	}
}
