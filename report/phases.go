package report

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Phase names the parts of a request's time that connection tracing
// measures.
type Phase int

// The phases.
const (
	PhaseDNS     Phase = iota // name lookup, on new connections
	PhaseConnect              // TCP connect, on new connections
	PhaseTLS                  // TLS handshake, on new TLS connections
	PhaseTTFB                 // from sending to the first response byte
	numPhases
)

var phaseNames = [numPhases]string{"dns", "connect", "tls", "ttfb"}

func (p Phase) String() string { return phaseNames[p] }

// PhaseSample is the phase timings of one HTTP try. A zero duration means
// the phase did not happen (a reused connection has no DNS or connect).
type PhaseSample struct {
	DNS, Connect, TLS, TTFB time.Duration
	Reused                  bool
}

// PhaseStats accumulates phase timings. It is safe for concurrent use: the
// transport records into it from many goroutines.
type PhaseStats struct {
	mu     sync.Mutex
	Hists  [numPhases]*hdrhistogram.Histogram // microseconds
	New    uint64                             // tries on a new connection
	Reused uint64                             // tries on a reused one
}

// NewPhaseStats returns empty phase figures.
func NewPhaseStats() *PhaseStats {
	p := &PhaseStats{}
	for i := range p.Hists {
		p.Hists[i] = NewHistogram()
	}
	return p
}

// Add records one try's phases.
func (p *PhaseStats) Add(s *PhaseSample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Reused {
		p.Reused++
	} else {
		p.New++
	}
	for i, d := range [numPhases]time.Duration{s.DNS, s.Connect, s.TLS, s.TTFB} {
		if d > 0 {
			record(p.Hists[i], d)
		}
	}
}

// Merge adds o's figures into p.
func (p *PhaseStats) Merge(o *PhaseStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.New += o.New
	p.Reused += o.Reused
	for i := range p.Hists {
		p.Hists[i].Merge(o.Hists[i])
	}
}

// Phases is the report of phase timings: latency summaries in
// milliseconds, and connection reuse.
type Phases struct {
	DNS     *Latency `json:"dns,omitempty"`
	Connect *Latency `json:"connect,omitempty"`
	TLS     *Latency `json:"tls,omitempty"`
	TTFB    *Latency `json:"ttfb,omitempty"`
	// NewConnections is the number of tries that opened a connection,
	// ReuseRate the share of tries that reused one.
	NewConnections   uint64  `json:"new_connections"`
	ReusedConnection uint64  `json:"reused_connections"`
	ReuseRate        float64 `json:"reuse_rate"`
}

func (p *PhaseStats) summary() *Phases {
	if p == nil || p.New+p.Reused == 0 {
		return nil
	}
	out := &Phases{NewConnections: p.New, ReusedConnection: p.Reused, ReuseRate: float64(p.Reused) / float64(p.New+p.Reused)}
	for i, dst := range []**Latency{&out.DNS, &out.Connect, &out.TLS, &out.TTFB} {
		if p.Hists[i].TotalCount() > 0 {
			l := latency(p.Hists[i], nil)
			*dst = &l
		}
	}
	return out
}
