package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/threshold"
)

// Snapshot is the exact, mergeable state of a run's figures: stats.json.
// Reports are rendered from it (and the time series), so a run folder can
// be rendered again, and the folders of a split run merged, without the
// raw results.
type Snapshot struct {
	SchemaVersion int                  `json:"schema_version"`
	Scenario      ScenarioInfo         `json:"scenario"`
	Meta          Meta                 `json:"meta"`
	Thresholds    []string             `json:"thresholds"`
	IntervalMS    int64                `json:"interval_ms"`
	Requests      []RequestSnapshot    `json:"requests"`
	Stages        []StageSnapshot      `json:"stages"`
	Examples      map[string][]Example `json:"examples,omitempty"`
	Auth          *AuthSummary         `json:"auth,omitempty"`
	RequestLog    *LogSummary          `json:"request_log,omitempty"`
	Stopped       string               `json:"stopped,omitempty"`
	Notes         []string             `json:"notes,omitempty"`
	Faults        []FaultInfo          `json:"faults,omitempty"`
	Generator     *Generator           `json:"generator,omitempty"`
	Aborted       string               `json:"aborted,omitempty"`
	// Observed and Scrapes are the target's series and their scrapes.
	Observed map[string]*Observed   `json:"observed,omitempty"`
	Scrapes  map[string]ScrapeStats `json:"scrapes,omitempty"`
	// Runs is the number of runs merged into this one (1 for a run).
	Runs int `json:"runs"`
	// Checkpoint marks the figures of a run that had not ended when they
	// were written (every few seconds while it runs).
	Checkpoint bool `json:"checkpoint,omitempty"`
}

// RequestSnapshot is one request name's state.
type RequestSnapshot struct {
	Name   string         `json:"name"`
	Method string         `json:"method"`
	Path   string         `json:"path"`
	Stats  StatsSnapshot  `json:"stats"`
	Phases *PhaseSnapshot `json:"phases,omitempty"`
}

// PhaseSnapshot is PhaseStats with its histograms encoded.
type PhaseSnapshot struct {
	Hists  [numPhases][]byte `json:"hists"` // dns, connect, tls, ttfb
	New    uint64            `json:"new"`
	Reused uint64            `json:"reused"`
}

func (p *PhaseStats) snapshot() (*PhaseSnapshot, error) {
	if p == nil {
		return nil, nil
	}
	p.mu.Lock() // a checkpoint takes it while requests go on
	defer p.mu.Unlock()
	out := &PhaseSnapshot{New: p.New, Reused: p.Reused}
	for i, h := range p.Hists {
		b, err := encodeHist(h)
		if err != nil {
			return nil, err
		}
		out.Hists[i] = b
	}
	return out, nil
}

func (ps *PhaseSnapshot) stats() (*PhaseStats, error) {
	p := NewPhaseStats()
	if ps == nil {
		return p, nil
	}
	p.New, p.Reused = ps.New, ps.Reused
	for i, b := range ps.Hists {
		if len(b) == 0 {
			continue
		}
		h, err := hdrhistogram.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s histogram: %w", phaseNames[i], err)
		}
		p.Hists[i] = h
	}
	return p, nil
}

// StageSnapshot is one stage's plan, timing and state.
type StageSnapshot struct {
	Name        string        `json:"name"`
	Open        bool          `json:"open"`
	Rate        float64       `json:"rate"`
	RampTo      float64       `json:"ramp_to"`
	Concurrency int           `json:"concurrency"`
	PlannedNS   int64         `json:"planned_ns"`
	PlannedHits float64       `json:"planned_hits"`
	Started     time.Time     `json:"started"`
	Ended       time.Time     `json:"ended"`
	Interrupted bool          `json:"interrupted"`
	Stats       StatsSnapshot `json:"stats"`
}

// StatsSnapshot is Stats with its histograms encoded (HdrHistogram's V2
// compressed encoding, base64 in JSON).
type StatsSnapshot struct {
	Requests    uint64                 `json:"requests"`
	Status      map[int]uint64         `json:"status"`
	Errors      map[string]uint64      `json:"errors"`
	BytesIn     uint64                 `json:"bytes_in"`
	BytesOut    uint64                 `json:"bytes_out"`
	Hist        []byte                 `json:"hist"`
	Mean        float64                `json:"mean_ns"`
	M2          float64                `json:"m2_ns2"`
	Min         time.Duration          `json:"min_ns"`
	Max         time.Duration          `json:"max_ns"`
	First       time.Time              `json:"first"`
	Last        time.Time              `json:"last"`
	End         time.Time              `json:"end"`
	Logical     uint64                 `json:"logical"`
	Successes   uint64                 `json:"successes"`
	Classes     map[string]uint64      `json:"classes"`
	Timeouts    uint64                 `json:"timeouts"`
	Retried     uint64                 `json:"retried"`
	Recovered   uint64                 `json:"recovered"`
	RetryCauses map[string]uint64      `json:"retry_causes,omitempty"`
	E2E         []byte                 `json:"e2e,omitempty"`
	Corrected   []byte                 `json:"corrected,omitempty"`
	ErrorCodes  map[string]uint64      `json:"error_codes,omitempty"`
	Groups      map[string]*GroupStats `json:"groups,omitempty"`
	Checks      []CheckStats           `json:"checks,omitempty"`
}

func encodeHist(h *hdrhistogram.Histogram) ([]byte, error) {
	if h == nil {
		return nil, nil
	}
	return h.EncodeV2()
}

func (s *Stats) snapshot() (StatsSnapshot, error) {
	out := StatsSnapshot{
		Requests: s.Requests, Status: map[int]uint64{}, Errors: map[string]uint64{}, BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		Mean: s.mean, M2: s.m2, Min: s.Min, Max: s.Max, First: s.First, Last: s.Last, End: s.End,
		Logical: s.Logical, Successes: s.Successes, Classes: map[string]uint64{}, Timeouts: s.Timeouts,
		Retried: s.Retried, Recovered: s.Recovered, RetryCauses: s.RetryCauses, ErrorCodes: s.ErrorCodes,
		Groups: s.Groups, Checks: s.Checks,
	}
	for c, n := range s.Status {
		if n > 0 {
			out.Status[c] = n
		}
	}
	for c, n := range s.OtherStatus {
		out.Status[c] = n
	}
	for k, n := range s.Errors {
		if n > 0 {
			out.Errors[outcome.Kind(k).String()] = n
		}
	}
	for c, n := range s.Classes {
		out.Classes[outcome.Class(c).String()] = n
	}
	var err error
	if out.Hist, err = encodeHist(s.Hist); err != nil {
		return out, err
	}
	if out.E2E, err = encodeHist(s.E2E); err != nil {
		return out, err
	}
	out.Corrected, err = encodeHist(s.Corrected)
	return out, err
}

func (ss *StatsSnapshot) stats() (*Stats, error) {
	for name, g := range ss.Groups {
		if g == nil {
			return nil, fmt.Errorf("group %q has no figures (null)", name)
		}
	}
	s := &Stats{
		Requests: ss.Requests, BytesIn: ss.BytesIn, BytesOut: ss.BytesOut, mean: ss.Mean, m2: ss.M2,
		Min: ss.Min, Max: ss.Max, First: ss.First, Last: ss.Last, End: ss.End,
		Logical: ss.Logical, Successes: ss.Successes, Timeouts: ss.Timeouts, Retried: ss.Retried, Recovered: ss.Recovered,
		RetryCauses: ss.RetryCauses, ErrorCodes: ss.ErrorCodes, Groups: ss.Groups, Checks: ss.Checks,
	}
	for c, n := range ss.Status {
		if c >= 0 && c < len(s.Status) {
			s.Status[c] = n
		} else {
			if s.OtherStatus == nil {
				s.OtherStatus = map[int]uint64{}
			}
			s.OtherStatus[c] = n
		}
	}
	for name, n := range ss.Errors {
		if k, ok := outcome.KindNamed(name); ok {
			s.Errors[k] = n
		}
	}
	for name, n := range ss.Classes {
		if c, ok := outcome.ClassNamed(name); ok {
			s.Classes[c] = n
		}
	}
	var err error
	if len(ss.Hist) > 0 {
		if s.Hist, err = hdrhistogram.Decode(ss.Hist); err != nil {
			return nil, fmt.Errorf("histogram: %w", err)
		}
	} else {
		s.Hist = NewHistogram()
	}
	if len(ss.E2E) > 0 {
		if s.E2E, err = hdrhistogram.Decode(ss.E2E); err != nil {
			return nil, fmt.Errorf("end-to-end histogram: %w", err)
		}
	}
	if len(ss.Corrected) > 0 {
		if s.Corrected, err = hdrhistogram.Decode(ss.Corrected); err != nil {
			return nil, fmt.Errorf("corrected histogram: %w", err)
		}
	}
	return s, nil
}

// Snapshot captures the collector's state with what else a report needs.
func (c *Collector) Snapshot(in Input, interval time.Duration) (*Snapshot, error) {
	snap := &Snapshot{
		SchemaVersion: SchemaVersion, Scenario: in.Scenario, Meta: in.Meta, IntervalMS: interval.Milliseconds(),
		Examples: in.Examples, Auth: in.Auth, RequestLog: in.RequestLog, Stopped: in.Stopped, Notes: in.Notes, Runs: 1,
		Faults: in.Faults, Generator: in.Generator, Aborted: in.Aborted, Observed: in.Observed, Scrapes: in.Scrapes,
	}
	for _, t := range in.Thresholds {
		snap.Thresholds = append(snap.Thresholds, t.Source)
	}
	for i, name := range c.Names {
		ss, err := c.ByRequest[i].snapshot()
		if err != nil {
			return nil, err
		}
		rs := RequestSnapshot{Name: name, Method: c.Methods[i], Path: c.Paths[i], Stats: ss}
		if i < len(c.Phases) {
			if rs.Phases, err = c.Phases[i].snapshot(); err != nil {
				return nil, err
			}
		}
		snap.Requests = append(snap.Requests, rs)
	}
	for i, st := range c.Stages {
		ss, err := c.ByStage[i].snapshot()
		if err != nil {
			return nil, err
		}
		snap.Stages = append(snap.Stages, StageSnapshot{
			Name: st.Name, Open: st.Open, Rate: st.Rate, RampTo: st.RampTo, Concurrency: st.Concurrency,
			PlannedNS: int64(st.Planned), PlannedHits: st.PlannedHits, Started: st.Started, Ended: st.Ended,
			Interrupted: st.Interrupted, Stats: ss,
		})
	}
	return snap, nil
}

// Input turns the snapshot back into what Build takes.
func (s *Snapshot) Input(series *Series) (Input, error) {
	c := &Collector{}
	for _, r := range s.Requests {
		st, err := r.Stats.stats()
		if err != nil {
			return Input{}, fmt.Errorf("request %s: %w", r.Name, err)
		}
		ph, err := r.Phases.stats()
		if err != nil {
			return Input{}, fmt.Errorf("request %s: %w", r.Name, err)
		}
		c.Names, c.Methods, c.Paths = append(c.Names, r.Name), append(c.Methods, r.Method), append(c.Paths, r.Path)
		c.ByRequest = append(c.ByRequest, st)
		c.Phases = append(c.Phases, ph)
	}
	for _, sg := range s.Stages {
		st, err := sg.Stats.stats()
		if err != nil {
			return Input{}, fmt.Errorf("stage %s: %w", sg.Name, err)
		}
		c.Stages = append(c.Stages, StageInfo{
			Name: sg.Name, Open: sg.Open, Rate: sg.Rate, RampTo: sg.RampTo, Concurrency: sg.Concurrency,
			Planned: time.Duration(sg.PlannedNS), PlannedHits: sg.PlannedHits, Started: sg.Started, Ended: sg.Ended,
			Interrupted: sg.Interrupted,
		})
		c.ByStage = append(c.ByStage, st)
	}
	in := Input{
		Collector: c, Scenario: s.Scenario, Meta: s.Meta, Examples: s.Examples, Auth: s.Auth,
		RequestLog: s.RequestLog, Stopped: s.Stopped, Notes: s.Notes, Series: series, Faults: s.Faults,
		Generator: s.Generator, Aborted: s.Aborted, Observed: s.Observed, Scrapes: s.Scrapes,
	}
	for _, src := range s.Thresholds {
		e, err := threshold.Parse(src)
		if err != nil {
			return Input{}, fmt.Errorf("threshold: %w", err)
		}
		in.Thresholds = append(in.Thresholds, e)
	}
	return in, nil
}

// WriteJSON writes the snapshot.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(s)
}

// ReadSnapshot reads stats.json.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	var s Snapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, err
	}
	if s.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("schema version %d; this loadgate reads %d", s.SchemaVersion, SchemaVersion)
	}
	return &s, nil
}

// MergeSnapshots merges the snapshots of the shards of one run: figures
// added exactly, stages aligned by position, the send windows of shards
// that ran side by side counted once.
func MergeSnapshots(parts []*Snapshot) (*Snapshot, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	m := newSnapshotMerger(parts[0])
	for pi, p := range parts {
		if err := m.add(pi, p); err != nil {
			return nil, err
		}
	}
	return m.result()
}

// snapshotMerger holds what MergeSnapshots has added up so far.
type snapshotMerger struct {
	first      *Snapshot
	out        Snapshot
	byName     map[string]*Stats
	phases     map[string]*PhaseStats
	order      []RequestSnapshot
	stageStats []*Stats
	stages     []StageSnapshot
	auth       *AuthSummary
}

// newSnapshotMerger starts from the first shard's snapshot with its
// requests, stages, examples, runs and notes still to add.
func newSnapshotMerger(first *Snapshot) *snapshotMerger {
	m := &snapshotMerger{
		first:      first,
		out:        *first,
		byName:     map[string]*Stats{},
		phases:     map[string]*PhaseStats{},
		stageStats: make([]*Stats, len(first.Stages)),
		stages:     append([]StageSnapshot(nil), first.Stages...),
	}
	m.out.Requests = nil
	m.out.Stages = nil
	m.out.Examples = map[string][]Example{}
	m.out.Runs = 0
	m.out.Notes = nil
	return m
}

// add merges the snapshot of shard pi.
func (m *snapshotMerger) add(pi int, p *Snapshot) error {
	if p.Scenario.Name != m.first.Scenario.Name {
		return fmt.Errorf("run %d is of scenario %q, run 1 of %q: only the shards of one scenario merge", pi+1, p.Scenario.Name, m.first.Scenario.Name)
	}
	if len(p.Stages) != len(m.stages) {
		return fmt.Errorf("run %d has %d stages, run 1 has %d", pi+1, len(p.Stages), len(m.stages))
	}
	m.out.Runs += max(p.Runs, 1)
	if err := m.addRequests(pi, p.Requests); err != nil {
		return err
	}
	if err := m.addStages(pi, p.Stages); err != nil {
		return err
	}
	for name, ex := range p.Examples {
		if room := DefaultMergedExamples - len(m.out.Examples[name]); room > 0 {
			m.out.Examples[name] = append(m.out.Examples[name], ex[:min(room, len(ex))]...)
		}
	}
	m.addAuth(p.Auth)
	if p.Stopped != "" {
		m.out.Stopped = p.Stopped
	}
	if p.Generator != nil && p.Generator.Saturated {
		m.out.Generator = p.Generator
	}
	m.out.Notes = append(m.out.Notes, p.Notes...)
	return nil
}

// addRequests adds the per-request figures of shard pi, requests matched
// by name and kept in the order they first appear.
func (m *snapshotMerger) addRequests(pi int, reqs []RequestSnapshot) error {
	for _, r := range reqs {
		st, err := r.Stats.stats()
		if err != nil {
			return fmt.Errorf("run %d: request %s: %w", pi+1, r.Name, err)
		}
		ph, err := r.Phases.stats()
		if err != nil {
			return fmt.Errorf("run %d: request %s: %w", pi+1, r.Name, err)
		}
		if have, ok := m.byName[r.Name]; ok {
			have.Merge(st)
			m.phases[r.Name].Merge(ph)
			continue
		}
		m.byName[r.Name], m.phases[r.Name] = st, ph
		m.order = append(m.order, r)
	}
	return nil
}

// addStages adds the per-stage figures of shard pi, stages matched by
// position: rates and hits summed, the send window widened.
func (m *snapshotMerger) addStages(pi int, stages []StageSnapshot) error {
	for i, sg := range stages {
		st, err := sg.Stats.stats()
		if err != nil {
			return fmt.Errorf("run %d: stage %s: %w", pi+1, sg.Name, err)
		}
		if pi == 0 {
			m.stageStats[i] = st
			continue
		}
		m.stageStats[i].Merge(st)
		s := &m.stages[i]
		s.Rate += sg.Rate
		s.RampTo += sg.RampTo
		s.Concurrency += sg.Concurrency
		s.PlannedHits += sg.PlannedHits
		if sg.Started.Before(s.Started) {
			s.Started = sg.Started
		}
		if sg.Ended.After(s.Ended) {
			s.Ended = sg.Ended
		}
		s.Interrupted = s.Interrupted || sg.Interrupted
	}
	return nil
}

// addAuth adds a shard's token figures; the mean is weighted by token
// requests.
func (m *snapshotMerger) addAuth(a *AuthSummary) {
	if a == nil {
		return
	}
	if m.auth == nil {
		c := *a
		m.auth = &c
		return
	}
	m.auth.MeanMS = (m.auth.MeanMS*float64(m.auth.TokenRequests) + a.MeanMS*float64(a.TokenRequests)) / float64(max(m.auth.TokenRequests+a.TokenRequests, 1))
	m.auth.TokenRequests += a.TokenRequests
	m.auth.TokenFailures += a.TokenFailures
	m.auth.ForcedRefreshes += a.ForcedRefreshes
	m.auth.MaxMS = max(m.auth.MaxMS, a.MaxMS)
}

// result is the merged snapshot, the requests' and stages' figures turned
// back into their snapshot form.
func (m *snapshotMerger) result() (*Snapshot, error) {
	out := m.out
	out.Auth = m.auth
	out.RequestLog = nil
	for _, r := range m.order {
		ss, err := m.byName[r.Name].snapshot()
		if err != nil {
			return nil, err
		}
		r.Stats = ss
		if r.Phases, err = m.phases[r.Name].snapshot(); err != nil {
			return nil, err
		}
		out.Requests = append(out.Requests, r)
	}
	for i := range m.stages {
		ss, err := m.stageStats[i].snapshot()
		if err != nil {
			return nil, err
		}
		m.stages[i].Stats = ss
	}
	out.Stages = m.stages
	if out.Runs > 1 {
		out.Notes = append(out.Notes, fmt.Sprintf("merged from %d runs", out.Runs))
	}
	return &out, nil
}

// DefaultMergedExamples bounds the examples per request of a merged report.
const DefaultMergedExamples = 10
