package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Capacity search results.
const (
	// CapFound: a rate met every SLO and a rate 5% or less above it did not.
	CapFound = "found"
	// CapAtMax: every rate up to --max met the SLOs; the capacity is at
	// least the maximum.
	CapAtMax = "at_max"
	// CapNone: no rate met the SLOs, down to the lowest tried.
	CapNone = "none"
	// CapGeneratorLimited: loadgate itself was saturated before the target
	// failed an SLO; the capacity is at least the last rate that passed.
	CapGeneratorLimited = "generator_limited"
	// CapInterrupted: the search was stopped before its end.
	CapInterrupted = "interrupted"
)

// CapacityStep is one rate tried.
type CapacityStep struct {
	N             int     `json:"step"`
	TargetRPS     float64 `json:"target_rps"`
	RateRPS       float64 `json:"rate_rps"`       // requests sent per second
	ThroughputRPS float64 `json:"throughput_rps"` // successes per second
	ErrorRate     float64 `json:"error_rate"`
	// Latency is corrected for coordinated omission (from the intended
	// send time); RawP95 is the tries' own.
	Latency      Latency           `json:"latency_ms"`
	RawP95       float64           `json:"raw_p95_ms"`
	SLOs         []ThresholdResult `json:"slos"`
	Verdict      string            `json:"verdict"` // pass, fail, inconclusive, interrupted
	GeneratorCPU float64           `json:"generator_cpu"`
	LateShare    float64           `json:"late_share"`
	Saturated    bool              `json:"generator_saturated"`
	DurationS    float64           `json:"duration_s"`
	Dir          string            `json:"dir"` // the step's run folder, relative to the capacity folder
	// Observed are the target's observed series at this step: each one's
	// maximum.
	Observed map[string]float64 `json:"observed,omitempty"`
}

// Saturated is the share at which an observed ratio (a pool in use over its
// size, workers busy over all) counts as saturated.
const Saturated = 0.9

// CapacitySearch is how the search went about it.
type CapacitySearch struct {
	StartRPS      float64 `json:"start_rps"`
	MaxRPS        float64 `json:"max_rps"`
	Factor        float64 `json:"factor"`    // step-up factor
	Precision     float64 `json:"precision"` // bisect until the bracket is this narrow (0.05: 5%)
	StepDurationS float64 `json:"step_duration_s"`
	Margin        float64 `json:"margin"` // safety margin of the sustainable rate
}

// Knee is the step where latency starts to climb steeply.
type Knee struct {
	Step          int     `json:"step"`
	TargetRPS     float64 `json:"target_rps"`
	ThroughputRPS float64 `json:"throughput_rps"`
	P95           float64 `json:"p95_ms"`
}

// Capacity is the content of capacity.json.
type Capacity struct {
	SchemaVersion int            `json:"schema_version"`
	Scenario      ScenarioInfo   `json:"scenario"`
	StartedAt     time.Time      `json:"started_at"`
	EndedAt       time.Time      `json:"ended_at"`
	SLOs          []string       `json:"slos"`
	Search        CapacitySearch `json:"search"`
	Steps         []CapacityStep `json:"steps"`
	// Result is found, at_max, none, generator_limited or interrupted.
	Result string `json:"result"`
	// CapacityRPS is the highest rate that met every SLO (0 when none
	// did); FirstFailRPS the lowest rate above it that did not.
	CapacityRPS  float64 `json:"capacity_rps"`
	FirstFailRPS float64 `json:"first_fail_rps,omitempty"`
	// SustainableRPS is the capacity less the safety margin: the rate to
	// plan for.
	SustainableRPS float64 `json:"sustainable_rps"`
	// LimitedBy names the SLOs the first failing rate broke.
	LimitedBy []string `json:"limited_by,omitempty"`
	Knee      *Knee    `json:"knee,omitempty"`
	Summary   string   `json:"summary"`
	Notes     []string `json:"notes,omitempty"`
	// TargetModel describes the target when it is the embedded fixture
	// with its service model on: its capacity is then known.
	TargetModel *TargetModel `json:"target_model,omitempty"`
	Meta        Meta         `json:"meta"`
}

// TargetModel is the embedded fixture's service model, the ground truth
// a search can be checked against.
type TargetModel struct {
	Description string `json:"description"`
	// CapacityRPS is the model's capacity, its bottleneck's size over a
	// fixed service time; 0 when the service time varies.
	CapacityRPS float64 `json:"capacity_rps,omitempty"`
}

// CapacityStepOf summarises one step's report.
func CapacityStepOf(n int, target float64, r *Report, dir string) CapacityStep {
	s := CapacityStep{N: n, TargetRPS: target, RateRPS: r.Totals.RateRPS, ThroughputRPS: r.Totals.ThroughputRPS,
		ErrorRate: r.Totals.ErrorRate, Latency: r.Latency, RawP95: r.Latency.P95, SLOs: r.Thresholds,
		Verdict: r.Verdict, DurationS: r.DurationS, Dir: dir}
	for name, o := range r.Observed {
		if len(o.Points) > 0 {
			if s.Observed == nil {
				s.Observed = map[string]float64{}
			}
			s.Observed[name] = o.Max
		}
	}
	if r.CorrectedLatency != nil {
		s.Latency = *r.CorrectedLatency
	}
	if g := r.Generator; g != nil {
		s.GeneratorCPU, s.LateShare, s.Saturated = g.CPUMean, g.LateShare, g.Saturated
	}
	return s
}

// Finish fills in what follows from the steps: the capacity, the
// sustainable rate, the SLOs that limit, the knee and the summary. result
// is how the search ended.
func (c *Capacity) Finish(result string) {
	c.Result = result
	c.CapacityRPS, c.FirstFailRPS = 0, 0
	for _, s := range c.Steps {
		if s.Verdict == Pass && s.TargetRPS > c.CapacityRPS {
			c.CapacityRPS = s.TargetRPS
		}
	}
	var firstFail *CapacityStep
	for i := range c.Steps {
		s := &c.Steps[i]
		if s.Verdict == Fail && s.TargetRPS > c.CapacityRPS && (firstFail == nil || s.TargetRPS < firstFail.TargetRPS) {
			firstFail = s
		}
	}
	c.LimitedBy = nil
	if firstFail != nil {
		c.FirstFailRPS = firstFail.TargetRPS
		for _, t := range firstFail.SLOs {
			if !t.Pass {
				c.LimitedBy = append(c.LimitedBy, fmt.Sprintf("%s (%s at %s)", t.Expr, t.ActualText, fmtRate(firstFail.TargetRPS)))
			}
		}
		if r := c.saturatedFirst(); r != "" {
			c.LimitedBy = append(c.LimitedBy, r)
		}
	}
	c.SustainableRPS = math.Floor(c.CapacityRPS*(1-c.Search.Margin)*10) / 10
	c.Knee = FindKnee(c.Steps)

	cap, sus := fmtRate(c.CapacityRPS), fmtRate(c.SustainableRPS)
	margin := fmt.Sprintf("%g%%", c.Search.Margin*100)
	switch result {
	case CapFound:
		c.Summary = fmt.Sprintf("capacity %s: the highest rate that met every SLO; %s did not. Sustainable rate %s (%s margin).",
			cap, fmtRate(c.FirstFailRPS), sus, margin)
	case CapAtMax:
		c.Summary = fmt.Sprintf("capacity at least %s: every rate up to --max met the SLOs. Sustainable rate at least %s (%s margin).", cap, sus, margin)
	case CapNone:
		c.Summary = "no rate met the SLOs, down to the lowest tried"
		if len(c.Steps) > 0 {
			low := c.Steps[0].TargetRPS
			for _, s := range c.Steps {
				low = math.Min(low, s.TargetRPS)
			}
			c.Summary = fmt.Sprintf("no rate met the SLOs, down to %s", fmtRate(low))
		}
	case CapGeneratorLimited:
		c.Summary = fmt.Sprintf("inconclusive: loadgate itself ran out of CPU and sent late before the target broke an SLO; the capacity is at least %s, "+
			"more than this machine can drive. Run from a bigger machine, or split the load ('loadgate run --shard').", cap)
	case CapInterrupted:
		c.Summary = fmt.Sprintf("interrupted: the capacity is at least %s so far", cap)
	}
}

// saturatedFirst names the target's resource that saturated first: of the
// observed series that are ratios (every step's value from 0 to 1), the
// one that reached Saturated at the lowest rate.
func (c *Capacity) saturatedFirst() string {
	steps := c.StepsByRate()
	ratio := map[string]bool{}
	for _, s := range steps {
		for name, v := range s.Observed {
			if _, seen := ratio[name]; !seen {
				ratio[name] = true
			}
			ratio[name] = ratio[name] && v >= 0 && v <= 1
		}
	}
	for _, s := range steps {
		var hit []string
		for name, v := range s.Observed {
			if ratio[name] && v >= Saturated {
				hit = append(hit, name)
			}
		}
		if len(hit) > 0 {
			sort.Strings(hit)
			return fmt.Sprintf("the target's %s saturated first (%s at %s)", strings.Join(hit, ", "), fmtPct(s.Observed[hit[0]]), fmtRate(s.TargetRPS))
		}
	}
	return ""
}

// FindKnee finds where latency starts to climb steeply against the load:
// the Kneedle method (Satopää et al., 2011) on the steps' corrected p95
// against their target rate. Both are scaled to [0, 1]; for a rising,
// bending-upward curve the knee is the step furthest below the straight
// line from the lightest to the heaviest step. It needs three steps and a
// rising curve that bends; otherwise there is no knee.
func FindKnee(steps []CapacityStep) *Knee {
	var pts []CapacityStep
	for _, s := range steps {
		if s.Verdict != Interrupted && !math.IsNaN(s.Latency.P95) && s.ThroughputRPS > 0 {
			pts = append(pts, s)
		}
	}
	if len(pts) < 3 {
		return nil
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].TargetRPS < pts[j].TargetRPS })
	x0, x1 := pts[0].TargetRPS, pts[len(pts)-1].TargetRPS
	y0, y1 := pts[0].Latency.P95, pts[0].Latency.P95
	for _, p := range pts {
		y0, y1 = math.Min(y0, p.Latency.P95), math.Max(y1, p.Latency.P95)
	}
	// The curve must rise: the heaviest steps hold the highest latency,
	// half as high again as the lowest. A flat or falling curve (a target
	// that rejects fast) has no knee.
	last := pts[len(pts)-1].Latency.P95
	if x1 <= x0 || y1 < 1.5*y0 || last < y0+0.8*(y1-y0) {
		return nil
	}
	best, at := 0.0, -1
	for i, p := range pts {
		xn := (p.TargetRPS - x0) / (x1 - x0)
		yn := (p.Latency.P95 - y0) / (y1 - y0)
		if d := xn - yn; d > best {
			best, at = d, i
		}
	}
	// A curve within 10% of a straight line has no knee worth the name.
	if at < 0 || at == len(pts)-1 || best < 0.1 {
		return nil
	}
	p := pts[at]
	return &Knee{Step: p.N, TargetRPS: p.TargetRPS, ThroughputRPS: p.ThroughputRPS, P95: p.Latency.P95}
}

// StepsByRate returns the steps in order of target rate.
func (c *Capacity) StepsByRate() []CapacityStep {
	out := append([]CapacityStep(nil), c.Steps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].TargetRPS < out[j].TargetRPS })
	return out
}

// WriteJSON writes capacity.json.
func (c *Capacity) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
