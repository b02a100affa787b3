package report

import "time"

// StageInfo describes one stage as planned and as run.
type StageInfo struct {
	Name        string
	Open        bool
	Rate        float64 // per second at the start (open model)
	RampTo      float64 // per second at the end (open model)
	Concurrency int     // closed model
	Planned     time.Duration
	PlannedHits float64 // open model: requests the schedule holds

	Started     time.Time
	Ended       time.Time // when the last response of the stage came back
	Interrupted bool
}

// sendWindow is how long the stage sent requests: its planned length, or
// less when it was interrupted. (A stage that ran its course ends with its
// last request, a little before its planned end: the plan is the window.)
func (s StageInfo) sendWindow() time.Duration {
	if s.Started.IsZero() {
		return 0
	}
	if s.Interrupted {
		return min(s.Planned, s.Ended.Sub(s.Started))
	}
	return s.Planned
}

// Collector streams results into per-request and per-stage figures. It is
// used from one goroutine.
type Collector struct {
	Names     []string
	Methods   []string
	Paths     []string
	ByRequest []*Stats
	ByStage   []*Stats
	Stages    []StageInfo
	// Phases holds each request's phase timings, recorded by the transport.
	Phases []*PhaseStats
}

// NewCollector prepares figures for the named requests and the stages;
// checks holds the names of each request's content checks.
func NewCollector(names, methods, paths []string, checks [][]string, stages []StageInfo) *Collector {
	c := &Collector{Names: names, Methods: methods, Paths: paths, Stages: stages}
	for i := range names {
		s := NewStats()
		if i < len(checks) {
			for _, n := range checks[i] {
				s.Checks = append(s.Checks, CheckStats{Name: n})
			}
		}
		c.ByRequest = append(c.ByRequest, s)
		c.Phases = append(c.Phases, NewPhaseStats())
	}
	for range stages {
		c.ByStage = append(c.ByStage, NewStats())
	}
	return c
}

// Record adds one logical request of request req in stage stage: its
// tries and its outcome.
func (c *Collector) Record(stage, req int, tries []Try, l *Logical) {
	r, st := c.ByRequest[req], c.ByStage[stage]
	for i := range tries {
		r.AddTry(&tries[i])
		st.AddTry(&tries[i])
	}
	r.AddLogical(l)
	st.AddLogical(l)
}

// StageStarted notes when stage i began.
func (c *Collector) StageStarted(i int, at time.Time) { c.Stages[i].Started = at }

// StageEnded notes when stage i ended and whether it was cut short.
func (c *Collector) StageEnded(i int, at time.Time, interrupted bool) {
	c.Stages[i].Ended, c.Stages[i].Interrupted = at, interrupted
}

// TotalPhases merges the per-request phase timings.
func (c *Collector) TotalPhases() *PhaseStats {
	t := NewPhaseStats()
	for _, p := range c.Phases {
		if p != nil {
			t.Merge(p)
		}
	}
	return t
}

// Total merges the per-request figures into the run's.
func (c *Collector) Total() *Stats {
	t := NewStats()
	for _, s := range c.ByRequest {
		t.Merge(s)
	}
	return t
}

// windows returns the run's send window (the stages' planned durations,
// or as much of them as ran), the requests the open stages planned in it,
// and whether every stage that ran was open.
func (c *Collector) windows() (send time.Duration, planned float64, allOpen bool) {
	allOpen = true
	for _, st := range c.Stages {
		if st.Started.IsZero() {
			continue
		}
		send += st.sendWindow()
		if st.Open {
			frac := 1.0
			if st.Planned > 0 {
				frac = float64(st.sendWindow()) / float64(st.Planned)
			}
			planned += st.PlannedHits * frac
		} else {
			allOpen = false
		}
	}
	return send, planned, allOpen
}

// MarkInterrupted marks the last stage that started as stopped before its
// end.
func (c *Collector) MarkInterrupted() {
	for i := len(c.Stages) - 1; i >= 0; i-- {
		if !c.Stages[i].Started.IsZero() {
			c.Stages[i].Interrupted = true
			return
		}
	}
}

// Interrupted reports whether a stage was stopped before its end.
func (c *Collector) Interrupted() bool {
	for _, st := range c.Stages {
		if st.Interrupted {
			return true
		}
	}
	return false
}
