package report

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Generator is loadgate's own health during a run: whether it, rather
// than the target, could have been the limit.
type Generator struct {
	// CPU is the share of the machine's cores loadgate used: the mean and
	// the highest over intervals.
	CPUMean float64 `json:"cpu_mean"`
	CPUMax  float64 `json:"cpu_max"`
	Cores   int     `json:"cores"`
	// Schedule lag of open-model requests: how late, against the pacer's
	// schedule, they left (milliseconds).
	LagP50 float64 `json:"schedule_lag_p50_ms"`
	LagP99 float64 `json:"schedule_lag_p99_ms"`
	LagMax float64 `json:"schedule_lag_max_ms"`
	// Late is the number of open-model requests that left more than
	// LateAfter behind their schedule; Sent the open-model requests.
	Late      uint64  `json:"late_sends"`
	Sent      uint64  `json:"open_model_sends"`
	LateShare float64 `json:"late_share"`
	// Dropped is the open-model ticks the schedule held that were never
	// sent (the sender was behind when the stage's time was up).
	Dropped uint64 `json:"dropped_ticks"`
	// Workers: the most requests in flight at once (sampled four times a
	// second), the most the stages allowed, and the share of samples at
	// that maximum (sends then wait for a free worker and leave late).
	WorkersPeak  int     `json:"workers_peak"`
	WorkersMax   int     `json:"workers_max"`
	WorkersAtMax float64 `json:"workers_at_max_share"`
	// Saturated is set when loadgate ran out of CPU and fell behind its
	// schedule: the verdict is then inconclusive.
	Saturated bool   `json:"saturated"`
	Reason    string `json:"reason,omitempty"`
}

// Summary is the health in one line.
func (g *Generator) Summary() string {
	s := fmt.Sprintf("CPU %s mean, %s max of %d cores", fmtPct(g.CPUMean), fmtPct(g.CPUMax), g.Cores)
	if g.Sent > 0 {
		s += fmt.Sprintf("; schedule lag p99 %s, max %s; %d of %d open-model sends more than 100 ms late",
			fmtMS(g.LagP99), fmtMS(g.LagMax), g.Late, g.Sent)
	}
	if g.Dropped > 0 {
		s += fmt.Sprintf("; %d scheduled requests never sent", g.Dropped)
	}
	if g.WorkersMax > 0 {
		s += fmt.Sprintf("; workers peak %d of %d, at the maximum %s of the time", g.WorkersPeak, g.WorkersMax, fmtPct(g.WorkersAtMax))
	}
	return s
}

// Thresholds of generator health.
const (
	LateAfter      = 100 * time.Millisecond
	SaturatedCPU   = 0.90 // share of the cores
	SaturatedLate  = 0.01 // share of open-model sends late
	saturatedLagMS = 100
)

// Health tracks the generator's health during a run. It is used from the
// consumer's goroutine.
type Health struct {
	lag       *hdrhistogram.Histogram
	late      uint64
	cpuSum    float64
	cpuMax    float64
	cpuN      int
	lastCPU   time.Duration
	lastWall  time.Time
	cores     int
	cpuSample func() time.Duration

	workersPeak, workersMax, samples, atMax int
}

// Workers records the requests in flight at one moment, against the most
// allowed.
func (h *Health) Workers(inFlight, limit int) {
	h.samples++
	h.workersPeak = max(h.workersPeak, inFlight)
	h.workersMax = max(h.workersMax, limit)
	if limit > 0 && inFlight >= limit {
		h.atMax++
	}
}

// NewHealth tracks health on a machine of cores cores; cpu returns the
// process's CPU time so far.
func NewHealth(cores int, cpu func() time.Duration) *Health {
	return &Health{lag: NewHistogram(), cores: max(cores, 1), cpuSample: cpu}
}

// Sent records one open-model request's schedule lag.
func (h *Health) Sent(lag time.Duration) {
	record(h.lag, max(lag, 0))
	if lag > LateAfter {
		h.late++
	}
}

// Sample records the CPU used since the last sample.
func (h *Health) Sample(now time.Time) {
	if h.cpuSample == nil {
		return
	}
	cpu := h.cpuSample()
	if !h.lastWall.IsZero() {
		if wall := now.Sub(h.lastWall); wall >= 200*time.Millisecond {
			share := float64(cpu-h.lastCPU) / float64(wall) / float64(h.cores)
			h.cpuSum += share
			h.cpuN++
			h.cpuMax = max(h.cpuMax, share)
		} else {
			return
		}
	}
	h.lastCPU, h.lastWall = cpu, now
}

// Report summarises the health.
func (h *Health) Report() *Generator {
	g := &Generator{Cores: h.cores, CPUMax: h.cpuMax, Late: h.late, Sent: uint64(h.lag.TotalCount()),
		WorkersPeak: h.workersPeak, WorkersMax: h.workersMax}
	if h.samples > 0 {
		g.WorkersAtMax = float64(h.atMax) / float64(h.samples)
	}
	if h.cpuN > 0 {
		g.CPUMean = h.cpuSum / float64(h.cpuN)
	}
	if g.Sent > 0 {
		q := h.lag.ValueAtPercentilesSlice([]float64{50, 99})
		g.LagP50, g.LagP99, g.LagMax = float64(q[0])/1e3, float64(q[1])/1e3, float64(h.lag.Max())/1e3
		g.LateShare = float64(h.late) / float64(g.Sent)
	}
	if g.CPUMean >= SaturatedCPU && g.LateShare > SaturatedLate {
		g.Saturated = true
		g.Reason = "loadgate used most of the machine's CPU and sent late: the generator, not the target, may have been the limit"
	} else if g.WorkersAtMax > 0 && g.LateShare > SaturatedLate {
		// Not the generator's fault: the target held every worker. The
		// corrected latency counts the wait.
		g.Reason = "every worker was busy (max_workers reached) and sends left late: the target answered too slowly for the rate"
	}
	return g
}
