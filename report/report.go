package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgate/loadgate/internal/metric"
	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/threshold"
)

// SchemaVersion is the version of report.json's schema. Fields are only
// ever added within a version.
const SchemaVersion = 1

// MaxSystemShare is the share of tries that may fail on loadgate's side
// (system errors) before the verdict is inconclusive.
const MaxSystemShare = 0.01

// Verdicts.
const (
	Pass        = "pass"
	Fail        = "fail"
	Interrupted = "interrupted"
	// Inconclusive: loadgate itself was saturated (out of CPU, behind its
	// schedule), so the figures may not be the target's.
	Inconclusive = "inconclusive"
)

// Report is the content of report.json.
type Report struct {
	SchemaVersion int          `json:"schema_version"`
	Scenario      ScenarioInfo `json:"scenario"`
	StartedAt     time.Time    `json:"started_at"`
	EndedAt       time.Time    `json:"ended_at"`
	DurationS     float64      `json:"duration_s"`
	// Verdict is "pass" when every threshold holds, "fail" when one does
	// not, "inconclusive" when loadgate itself was saturated, and
	// "interrupted" when the run was stopped before its end.
	Verdict string `json:"verdict"`
	// VerdictReason says why, when the thresholds alone did not decide
	// the verdict: nothing succeeded, or loadgate itself failed or was
	// saturated.
	VerdictReason string   `json:"verdict_reason,omitempty"`
	Interrupted   bool     `json:"interrupted"`
	Totals        Totals   `json:"totals"`
	Latency       Latency  `json:"latency_ms"`
	E2ELatency    *Latency `json:"e2e_latency_ms,omitempty"`
	// CorrectedLatency is latency from the intended send time of
	// open-model requests (coordinated omission corrected), present when
	// an open-model stage ran. Thresholds use it by default then.
	CorrectedLatency *Latency `json:"corrected_latency_ms,omitempty"`
	// Generator is loadgate's own health during the run.
	Generator *Generator `json:"generator,omitempty"`
	// Phases is the DNS, connect, TLS and time-to-first-byte timings of
	// the tries, and connection reuse.
	Phases     *Phases                   `json:"phases_ms,omitempty"`
	Requests   map[string]RequestSummary `json:"requests"`
	Stages     []StageSummary            `json:"stages"`
	Thresholds []ThresholdResult         `json:"thresholds"`
	Meta       Meta                      `json:"meta"`
	// Stopped says why the run ended before its stages did, other than an
	// interrupt (a data feeder ran out).
	Stopped string `json:"stopped,omitempty"`
	// Auth counts OAuth2 token requests, kept out of the figures above.
	Auth *AuthSummary `json:"auth,omitempty"`
	// RequestLog describes requests.jsonl.
	RequestLog *LogSummary `json:"request_log,omitempty"`
	// Notes are remarks about the run, such as settings that were ignored.
	Notes []string `json:"notes,omitempty"`
	// Faults are the network faults injected during the run.
	Faults []FaultInfo `json:"faults,omitempty"`
	// Observed are the target's own series (observe:) over the run, by
	// name; Scrapes count the endpoints scraped for them.
	Observed map[string]*Observed   `json:"observed,omitempty"`
	Scrapes  map[string]ScrapeStats `json:"scrapes,omitempty"`
}

// FaultInfo is one network fault as it was injected.
type FaultInfo struct {
	Type        string    `json:"type"`
	Description string    `json:"description"`
	Toxicity    float64   `json:"toxicity"`
	Direction   string    `json:"direction"`
	FromS       float64   `json:"from_s"`
	ToS         float64   `json:"to_s,omitempty"` // 0: until the end
	Started     time.Time `json:"started_at"`
	Ended       time.Time `json:"ended_at,omitempty"`
}

// AuthSummary counts the token requests of OAuth2 auth.
type AuthSummary struct {
	Type            string  `json:"type"`
	TokenRequests   int64   `json:"token_requests"`
	TokenFailures   int64   `json:"token_failures"`
	ForcedRefreshes int64   `json:"forced_refreshes"`
	MeanMS          float64 `json:"mean_ms"`
	MaxMS           float64 `json:"max_ms"`
	LastError       string  `json:"last_error,omitempty"`
}

// LogSummary describes the request log.
type LogSummary struct {
	File     string `json:"file"`
	Lines    uint64 `json:"lines"`
	Dropped  uint64 `json:"dropped"` // lines not written once the cap was reached
	CapBytes int64  `json:"cap_bytes"`
	Sample   int    `json:"sample"` // one success in Sample is logged
}

// Example is a failing response kept for the report, truncated and
// redacted.
type Example struct {
	RequestID string `json:"request_id"`
	Class     string `json:"class"`
	Status    int    `json:"status"`
	Error     string `json:"error,omitempty"`
	Why       string `json:"why,omitempty"`
	URL       string `json:"url"`
	Body      string `json:"body,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// ScenarioInfo identifies what ran against what.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Target      string `json:"target"`
	Environment string `json:"environment"`
}

// Meta describes the run's environment.
type Meta struct {
	LoadgateVersion string `json:"loadgate_version"`
	GoVersion       string `json:"go_version"`
	Host            string `json:"host"`
	OS              string `json:"os"`
	Arch            string `json:"arch"`
	CPUs            int    `json:"cpus"`
	// Shard is "i/N" for a process that ran part i of a split run.
	Shard string `json:"shard,omitempty"`
}

// Totals are the counts and rates of a set of results. Rates are fractions.
type Totals struct {
	Requests  uint64 `json:"requests"`
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	// ThroughputRPS is successful logical requests, and RateRPS HTTP tries,
	// per second of the send window: the stages' durations as planned (as
	// much as ran of an interrupted stage), not counting the wait for the
	// last answers.
	ThroughputRPS float64 `json:"throughput_rps"`
	RateRPS       float64 `json:"rate_rps"`
	// WindowS is the sending window those are per second of, in seconds.
	WindowS float64 `json:"window_s"`
	// TargetRateRPS is the rate the schedule asked for; absent when a
	// closed-model stage ran.
	TargetRateRPS *float64          `json:"target_rate_rps,omitempty"`
	SuccessRate   float64           `json:"success_rate"`
	ErrorRate     float64           `json:"error_rate"`
	Rate4xx       float64           `json:"rate_4xx"`
	Rate5xx       float64           `json:"rate_5xx"`
	NetworkRate   float64           `json:"network_error_rate"`
	TimeoutRate   float64           `json:"timeout_rate"`
	Timeouts      uint64            `json:"timeouts"` // requests that ended in a timeout
	StatusCodes   map[string]uint64 `json:"status_codes"`
	Errors        map[string]uint64 `json:"errors"` // transport errors by kind
	BytesIn       uint64            `json:"bytes_in"`
	BytesOut      uint64            `json:"bytes_out"`

	// Logical requests and their outcome classes. Without retries a
	// logical request is one HTTP request.
	LogicalRequests    uint64            `json:"logical_requests"`
	ErrorClasses       map[string]uint64 `json:"error_classes"`
	ProtocolRate       float64           `json:"protocol_error_rate"`
	BusinessRate       float64           `json:"business_error_rate"`
	SystemRate         float64           `json:"system_error_rate"`
	ErrorCodes         map[string]uint64 `json:"error_codes,omitempty"`
	Retries            uint64            `json:"retries"`
	RetryAmplification float64           `json:"retry_amplification"`
	RetriedRequests    uint64            `json:"retried_requests"`
	SucceededAfter     uint64            `json:"succeeded_after_retry"`
	RetryCauses        map[string]uint64 `json:"retries_by_cause,omitempty"`
	Groups             map[string]Group  `json:"groups,omitempty"`
}

// Group is the breakdown of one group-by value.
type Group struct {
	Requests     uint64            `json:"requests"`
	Errors       uint64            `json:"errors"`
	ErrorRate    float64           `json:"error_rate"`
	ErrorClasses map[string]uint64 `json:"error_classes"`
	StatusCodes  map[string]uint64 `json:"status_codes"`
}

// Check is the count of one content check.
type Check struct {
	Name        string  `json:"name"`
	Checked     uint64  `json:"checked"`
	Failed      uint64  `json:"failed"`
	FailureRate float64 `json:"failure_rate"`
}

// Latency is a latency distribution's figures, in milliseconds.
type Latency = metric.Stats

// RequestSummary is the figures of one request name.
type RequestSummary struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Totals  Totals  `json:"totals"`
	Latency Latency `json:"latency_ms"`
	// E2ELatency is the end-to-end latency of logical requests, retries
	// and waits included; present when a request was retried.
	E2ELatency       *Latency  `json:"e2e_latency_ms,omitempty"`
	CorrectedLatency *Latency  `json:"corrected_latency_ms,omitempty"`
	Phases           *Phases   `json:"phases_ms,omitempty"`
	Checks           []Check   `json:"checks,omitempty"`
	Examples         []Example `json:"examples,omitempty"`
}

// StageSummary is the plan and figures of one stage.
type StageSummary struct {
	Name          string  `json:"name"`
	Model         string  `json:"model"` // "open" or "closed"
	DurationS     float64 `json:"duration_s"`
	ElapsedS      float64 `json:"elapsed_s"`
	Rate          float64 `json:"rate,omitempty"`
	RampTo        float64 `json:"ramp_to,omitempty"`
	Concurrency   int     `json:"concurrency,omitempty"`
	Interrupted   bool    `json:"interrupted,omitempty"`
	Totals        Totals  `json:"totals"`
	Latency       Latency `json:"latency_ms"`
	TargetRequest float64 `json:"target_requests,omitempty"`
}

// ThresholdResult is one evaluated threshold.
type ThresholdResult struct {
	Expr       string  `json:"expr"`
	Metric     string  `json:"metric"`
	Request    string  `json:"request,omitempty"`
	Op         string  `json:"op"`
	Limit      float64 `json:"limit"`
	Actual     float64 `json:"actual"` // NaN is written as null
	Pass       bool    `json:"pass"`
	LimitText  string  `json:"limit_text"`
	ActualText string  `json:"actual_text"`
	// Detail explains a windowed threshold's result: the window where it
	// failed, or the worst one.
	Detail string `json:"detail,omitempty"`
}

// MarshalJSON writes a NaN actual value as null.
func (t ThresholdResult) MarshalJSON() ([]byte, error) {
	type plain ThresholdResult
	var actual *float64
	if !math.IsNaN(t.Actual) {
		actual = &t.Actual
	}
	return json.Marshal(struct {
		plain
		Actual *float64 `json:"actual"`
	}{plain(t), actual})
}

// Input is what a report is built from.
type Input struct {
	Collector  *Collector
	Scenario   ScenarioInfo
	Meta       Meta
	Thresholds []threshold.Expr
	Examples   map[string][]Example // by request name
	Auth       *AuthSummary
	RequestLog *LogSummary
	Stopped    string
	Notes      []string
	// Series is the run's time series, for windowed thresholds; nil when
	// there is none.
	Series    *Series
	Faults    []FaultInfo
	Generator *Generator
	// Aborted says why a threshold stopped the run early; the verdict is
	// then fail.
	Aborted string
	// Observed are the target's series (observe:), Scrapes the counts of
	// the endpoints they were scraped from.
	Observed map[string]*Observed
	Scrapes  map[string]ScrapeStats
}

// UnmarshalJSON reads a null actual value back as NaN.
func (t *ThresholdResult) UnmarshalJSON(b []byte) error {
	type plain ThresholdResult
	var v struct {
		plain
		Actual *float64 `json:"actual"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = ThresholdResult(v.plain)
	t.Actual = math.NaN()
	if v.Actual != nil {
		t.Actual = *v.Actual
	}
	return nil
}

// Build computes the report of a finished (or interrupted) run.
func Build(in Input) *Report {
	c := in.Collector
	send, planned, allOpen := c.windows()
	total := c.Total()
	r := &Report{
		SchemaVersion:    SchemaVersion,
		Scenario:         in.Scenario,
		Requests:         map[string]RequestSummary{},
		Meta:             in.Meta,
		Totals:           totals(total, send),
		Latency:          latency(total.Hist, total),
		E2ELatency:       e2e(total),
		CorrectedLatency: corrected(total),
		Generator:        in.Generator,
		Phases:           c.TotalPhases().summary(),
		Stopped:          in.Stopped,
		Auth:             in.Auth,
		RequestLog:       in.RequestLog,
		Notes:            in.Notes,
		Faults:           in.Faults,
		Observed:         in.Observed,
		Scrapes:          in.Scrapes,
	}
	if allOpen && send > 0 {
		v := planned / send.Seconds()
		r.Totals.TargetRateRPS = &v
	}
	if g := in.Generator; g != nil && allOpen && in.Stopped == "" && in.Aborted == "" && !c.Interrupted() {
		// Ticks the schedule held that never became requests: vegeta drops
		// those still due when a stage's time is up and the sender is behind.
		gc := *g
		if due := uint64(math.Round(planned)); due > gc.Sent {
			gc.Dropped = due - gc.Sent
		}
		r.Generator = &gc
	}
	for i, name := range c.Names {
		r.Requests[name] = r.requestSummary(c, i, in.Examples[name], send, total)
	}
	for i, st := range c.Stages {
		r.addStage(st, c.ByStage[i])
	}
	if !r.StartedAt.IsZero() {
		r.DurationS = r.EndedAt.Sub(r.StartedAt).Seconds()
	}
	r.Thresholds = Evaluate(r, in.Thresholds, in.Series)
	r.judge(total, in.Aborted)
	return r
}

// requestSummary is the summary of request i of c over the send window;
// its target rate is its share of the run's.
func (r *Report) requestSummary(c *Collector, i int, examples []Example, send time.Duration, total *Stats) RequestSummary {
	s := c.ByRequest[i]
	rs := RequestSummary{
		Method: c.Methods[i], Path: c.Paths[i], Totals: totals(s, send), Latency: latency(s.Hist, s),
		E2ELatency: e2e(s), CorrectedLatency: corrected(s), Examples: examples,
	}
	if i < len(c.Phases) {
		rs.Phases = c.Phases[i].summary()
	}
	for _, ch := range s.Checks {
		rs.Checks = append(rs.Checks, Check{Name: ch.Name, Checked: ch.Checked, Failed: ch.Failed, FailureRate: zeroNaN(ratio(ch.Failed, ch.Checked))})
	}
	if r.Totals.TargetRateRPS != nil && total.Requests > 0 {
		v := *r.Totals.TargetRateRPS * float64(s.Requests) / float64(total.Requests)
		rs.Totals.TargetRateRPS = &v
	}
	return rs
}

// addStage appends the summary of stage st, whose figures are s, and
// widens the run's start, end and interruption to take it in.
func (r *Report) addStage(st StageInfo, s *Stats) {
	ss := StageSummary{
		Name: st.Name, Model: "closed", DurationS: st.Planned.Seconds(),
		Concurrency: st.Concurrency, Interrupted: st.Interrupted,
	}
	if st.Open {
		ss.Model, ss.Rate, ss.RampTo, ss.Concurrency, ss.TargetRequest = "open", st.Rate, st.RampTo, 0, st.PlannedHits
	}
	if !st.Started.IsZero() {
		ss.ElapsedS = st.Ended.Sub(st.Started).Seconds()
		ss.Totals = totals(s, st.sendWindow())
		if st.Open && st.Planned > 0 {
			v := st.PlannedHits / st.Planned.Seconds()
			ss.Totals.TargetRateRPS = &v
		}
	} else {
		ss.Totals = totals(s, 0)
	}
	ss.Latency = latency(s.Hist, s)
	r.Stages = append(r.Stages, ss)
	if !st.Started.IsZero() && (r.StartedAt.IsZero() || st.Started.Before(r.StartedAt)) {
		r.StartedAt = st.Started
	}
	if st.Ended.After(r.EndedAt) {
		r.EndedAt = st.Ended
	}
	r.Interrupted = r.Interrupted || st.Interrupted
}

// judge sets the verdict and its reason from the thresholds, then lets
// what overrides them have the last word: no success, system errors, a
// saturated generator, the abort of a threshold, an interruption.
func (r *Report) judge(total *Stats, aborted string) {
	r.Verdict = Pass
	for _, t := range r.Thresholds {
		if !t.Pass {
			r.Verdict = Fail
		}
	}
	if total.Logical > 0 && total.Successes == 0 {
		r.Verdict, r.VerdictReason = Fail, "no request succeeded"
	}
	if sys := total.Errors[outcome.System]; total.Requests > 0 && float64(sys) > MaxSystemShare*float64(total.Requests) {
		r.Verdict = Inconclusive
		r.VerdictReason = fmt.Sprintf("%s of tries failed on loadgate's side (system errors, such as no file descriptors): the figures do not speak for the target",
			fmtPct(float64(sys)/float64(total.Requests)))
	}
	if r.Generator != nil && r.Generator.Saturated {
		r.Verdict, r.VerdictReason = Inconclusive, r.Generator.Reason
	}
	if aborted != "" {
		r.Interrupted, r.Stopped, r.Verdict, r.VerdictReason = false, aborted, Fail, ""
	}
	if r.Interrupted {
		r.Verdict, r.VerdictReason = Interrupted, ""
	}
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func statusMap(m map[int]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for c, n := range m {
		out[strconv.Itoa(c)] = n
	}
	return out
}

// totals computes the figures of s; rates and throughput are per second
// of send, the window in which requests were sent.
func totals(s *Stats, send time.Duration) Totals {
	t := Totals{
		Requests:        s.Requests,
		LogicalRequests: s.Logical,
		Successes:       s.Successes,
		Failures:        s.Logical - s.Successes,
		RateRPS:         perSecond(s.Requests, send),
		ThroughputRPS:   perSecond(s.Successes, send),
		SuccessRate:     zeroNaN(ratio(s.Successes, s.Logical)),
		ErrorRate:       zeroNaN(ratio(s.Logical-s.Successes, s.Logical)),
		Rate4xx:         zeroNaN(ratio(s.Count4xx(), s.Requests)),
		Rate5xx:         zeroNaN(ratio(s.Count5xx(), s.Requests)),
		NetworkRate:     zeroNaN(ratio(s.Classes[outcome.ClassNetwork], s.Logical)),
		ProtocolRate:    zeroNaN(ratio(s.Classes[outcome.ClassProtocol], s.Logical)),
		BusinessRate:    zeroNaN(ratio(s.Classes[outcome.ClassBusiness], s.Logical)),
		SystemRate:      zeroNaN(ratio(s.Classes[outcome.ClassSystem], s.Logical)),
		TimeoutRate:     zeroNaN(ratio(s.Timeouts, s.Logical)),
		Timeouts:        s.Timeouts,
		WindowS:         send.Seconds(),
		StatusCodes:     map[string]uint64{},
		Errors:          map[string]uint64{},
		ErrorClasses:    map[string]uint64{},
		BytesIn:         s.BytesIn,
		BytesOut:        s.BytesOut,
		ErrorCodes:      s.ErrorCodes,
		RetriedRequests: s.Retried,
		SucceededAfter:  s.Recovered,
		RetryCauses:     s.RetryCauses,
	}
	if s.Requests > s.Logical {
		t.Retries = s.Requests - s.Logical
	}
	t.RetryAmplification = zeroNaN(ratio(s.Requests, s.Logical))
	for c, n := range s.Status {
		if n > 0 {
			t.StatusCodes[strconv.Itoa(c)] = n
		}
	}
	for c, n := range s.OtherStatus {
		t.StatusCodes[strconv.Itoa(c)] = n
	}
	for k, n := range s.Errors {
		if n > 0 {
			t.Errors[outcome.Kind(k).String()] = n
		}
	}
	for c, n := range s.Classes {
		if c != int(outcome.ClassOK) {
			t.ErrorClasses[outcome.Class(c).String()] = n
		}
	}
	if len(s.Groups) > 0 {
		t.Groups = map[string]Group{}
		for name, g := range s.Groups {
			gr := Group{Requests: g.Requests, Errors: g.Errors, ErrorRate: zeroNaN(ratio(g.Errors, g.Requests)),
				ErrorClasses: map[string]uint64{}, StatusCodes: statusMap(g.Status)}
			for c, n := range g.Classes {
				if c != int(outcome.ClassOK) && n > 0 {
					gr.ErrorClasses[outcome.Class(c).String()] = n
				}
			}
			t.Groups[name] = gr
		}
	}
	return t
}

func corrected(s *Stats) *Latency {
	if s.Corrected == nil {
		return nil
	}
	l := latency(s.Corrected, nil)
	return &l
}

func e2e(s *Stats) *Latency {
	if s.E2E == nil {
		return nil
	}
	l := latency(s.E2E, nil)
	return &l
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// latency summarises a histogram; s, when given, adds the exact moments
// and extremes of the tries.
func latency(h *hdrhistogram.Histogram, s *Stats) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	q := h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
	us := func(v int64) float64 { return float64(v) / 1e3 }
	l := Latency{
		Min: us(h.Min()), Mean: math.Round(h.Mean()) / 1e3, StdDev: math.Round(h.StdDev()) / 1e3,
		P50: us(q[0]), P90: us(q[1]), P95: us(q[2]), P99: us(q[3]), P999: us(q[4]),
		Max: us(h.Max()),
	}
	if s != nil {
		l.Min, l.Mean, l.StdDev, l.Max = ms(s.Min), ms(s.Mean()), ms(s.StdDev()), ms(s.Max)
	}
	return l
}

// Evaluate checks every threshold against the report's figures, and the
// windowed ones against the time series.
func Evaluate(r *Report, ths []threshold.Expr, s *Series) []ThresholdResult {
	out := make([]ThresholdResult, 0, len(ths))
	for _, e := range ths {
		if e.Windowed() {
			if e.Metric.Kind == metric.Gauge {
				out = append(out, r.evaluateObservedWindowed(e))
			} else {
				out = append(out, EvaluateWindowed(e, s))
			}
			continue
		}
		actual := r.value(e)
		out = append(out, ThresholdResult{
			Expr: e.Source, Metric: e.Metric.Name, Request: e.Request(), Op: string(e.Op),
			Limit: e.Value, Actual: actual, Pass: e.Holds(actual),
			LimitText: e.Format(e.Value), ActualText: e.Format(actual),
		})
	}
	return out
}

// value returns the figure a threshold names, NaN when there is none.
func (r *Report) value(e threshold.Expr) float64 {
	f, ok := r.Figures(e.Request())
	if !ok {
		return math.NaN()
	}
	return metric.Value(e.Metric.Name, f, e.Labels)
}

// Figures returns the figures every metric is read from, for one request
// name, or for all requests when name is "" or "all"; false for a name the
// report does not have.
func (r *Report) Figures(name string) (*metric.Figures, bool) {
	t, l, ph, cl := r.Totals, r.Latency, r.Phases, r.CorrectedLatency
	var checks []Check
	if name != "" && name != AllRequests {
		rs, ok := r.Requests[name]
		if !ok {
			return nil, false
		}
		t, l, checks, ph, cl = rs.Totals, rs.Latency, rs.Checks, rs.Phases, rs.CorrectedLatency
	} else {
		for _, n := range r.RequestNames() {
			checks = append(checks, r.Requests[n].Checks...)
		}
	}
	f := metric.New()
	f.Tries, f.Logical, f.Successes = float64(t.Requests), float64(t.LogicalRequests), float64(t.Successes)
	f.Status4xx, f.Status5xx = 0, 0
	for code, n := range t.StatusCodes {
		switch {
		case strings.HasPrefix(code, "4") && len(code) == 3:
			f.Status4xx += float64(n)
		case strings.HasPrefix(code, "5") && len(code) == 3:
			f.Status5xx += float64(n)
		}
	}
	f.Network, f.Protocol = float64(t.ErrorClasses["network"]), float64(t.ErrorClasses["protocol"])
	f.Business, f.System = float64(t.ErrorClasses["business"]), float64(t.ErrorClasses["system"])
	f.Timeouts, f.Seconds = float64(t.Timeouts), t.WindowS
	if t.Timeouts == 0 && t.TimeoutRate > 0 {
		// report.json from before timeouts: the count its rate gives.
		f.Timeouts = math.Round(t.TimeoutRate * f.Logical)
	}
	if f.Seconds == 0 {
		// report.json from before window_s: the window its rates give.
		switch {
		case t.ThroughputRPS > 0:
			f.Seconds = float64(t.Successes) / t.ThroughputRPS
		case t.RateRPS > 0:
			f.Seconds = float64(t.Requests) / t.RateRPS
		}
	}
	f.Checked = f.Logical - f.Network - f.Protocol - f.System
	// Latency from the intended send time is the default where there is
	// one (open-model stages): what the users of the target waited.
	f.Latency, f.Raw = l, l
	if cl != nil {
		f.Latency = *cl
	}
	f.ErrorCodes = map[string]float64{}
	for code, n := range t.ErrorCodes {
		f.ErrorCodes[code] = float64(n)
	}
	f.Observed = r.observedStats()
	f.Checks = map[string][2]float64{}
	for _, c := range checks {
		v := f.Checks[c.Name]
		f.Checks[c.Name] = [2]float64{v[0] + float64(c.Checked), v[1] + float64(c.Failed)}
	}
	if ph != nil {
		f.NewConns, f.ReusedConns = float64(ph.NewConnections), float64(ph.ReusedConnection)
		f.Phases = map[string]metric.Stats{}
		for name, p := range map[string]*Latency{"dns": ph.DNS, "connect": ph.Connect, "tls": ph.TLS, "ttfb": ph.TTFB} {
			if p != nil {
				f.Phases[name] = *p
			}
		}
	}
	return f, true
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RequestNames returns the report's request names in a stable order.
func (r *Report) RequestNames() []string {
	out := make([]string, 0, len(r.Requests))
	for n := range r.Requests {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
