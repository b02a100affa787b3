package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/report/chart"
)

// Page is one report.html: a single run, or a suite of runs.
type Page struct {
	// Title is the page's title; empty means one derived from the runs.
	Title string
	// Suite makes a suite page: the verdict of each scenario first, then a
	// section per scenario.
	Suite bool
	// Verdict is the suite's verdict when Suite ("pass", "fail",
	// "interrupted", "error").
	Verdict string
	Runs    []PageRun
}

// PageRun is one run's section.
type PageRun struct {
	Report *Report
	Charts []chart.Image // embedded as PNG data: URIs, in this order
	Dir    string        // the run folder's name, shown for reference
}

// WriteHTML writes the page as one self-contained HTML file: inline CSS,
// plots as data: URIs, no script and no external request of any kind, so
// the file can be archived, mailed or opened offline and shows the same.
func WriteHTML(w io.Writer, p *Page) error {
	if p == nil {
		return errors.New("write html: no page")
	}
	tmpl, err := htmlTemplate()
	if err != nil {
		return fmt.Errorf("write html: parse template: %w", err)
	}
	v, err := newPageView(p)
	if err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	// Render to memory first so that a template error never leaves half a
	// page behind in the caller's file.
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("write html: render: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// The view types below hold the page's figures already formatted, so the
// template only lays them out and html/template escapes every one of them.

type pageView struct {
	Title   string
	Suite   bool
	Verdict verdictView
	Rows    []suiteRow
	Runs    []runView
}

type verdictView struct {
	Word  string // upper case: PASS, FAIL, ...
	Class string // v-pass, v-fail or v-warn
}

type suiteRow struct {
	ID, Name, Requests, ErrorRate, P95, Failed string
	Verdict                                    verdictView
	FailedAny                                  bool
}

type runView struct {
	ID, Dir    string
	Verdict    verdictView
	Scenario   ScenarioInfo
	Summary    string
	Stopped    string
	Thresholds []thresholdView
	HasDetail  bool
	Requests   []requestRow
	Corrected  []correctedRow
	Generator  string
	Reason     string // why the verdict is what it is, beyond the thresholds
	Phases     []phaseRow
	Charts     []chartView
	Errors     errorsView
	Examples   []exampleView
	Stages     []stageView
	Notes      []string
	Observed   []observedRow
	Auth       *authView
	Log        *logView
	Meta       []kv
}

// phaseRow is one request's phase timings: p50 / p95 / p99 of each.
// observedRow is one of the target's observed series.
type observedRow struct {
	Name, Query, Min, Mean, Max, Last, Note string
}

type phaseRow struct {
	Name                    string
	All                     bool
	DNS, Connect, TLS, TTFB string
	New, Reuse              string
}

func phaseCell(l *Latency) string {
	if l == nil {
		return "–"
	}
	return fmtMS(l.P50) + " / " + fmtMS(l.P95) + " / " + fmtMS(l.P99)
}

func newPhaseRow(name string, all bool, p *Phases) phaseRow {
	return phaseRow{
		Name: name, All: all, DNS: phaseCell(p.DNS), Connect: phaseCell(p.Connect), TLS: phaseCell(p.TLS),
		TTFB: phaseCell(p.TTFB), New: fmt.Sprint(p.NewConnections), Reuse: fmtPct(p.ReuseRate),
	}
}

type thresholdView struct {
	Expr, Actual, Limit, Detail string
	Pass                        bool
}

type requestRow struct {
	Name, Method, Path                    string
	All                                   bool
	Requests                              uint64
	Rate, Throughput, Success, R4xx, R5xx string
	Mean, StdDev, P50, P95, P99, Max      string
}

type chartView struct {
	Title, Alt    string
	Src           template.URL
	Width, Height int
	Missing       string // why the plot cannot be shown, when it cannot
}

type errorsView struct {
	Failures   uint64
	Logical    uint64
	Status     []countRow
	Transport  []countRow
	Classes    []countRow
	Timeouts   string
	Codes      []countRow
	Retries    *retryView
	Checks     []checkRow
	Groups     []groupRow
	BytesIn    uint64
	BytesOut   uint64
	HasFailure bool
}

type countRow struct {
	Name  string
	Count uint64
	Share string // of the relevant total; empty when not meaningful
	Bad   bool
}

type retryView struct {
	Retries, Retried, Recovered uint64
	Amplification               string
	Causes                      []countRow
	E2EP95, E2EP99              string
}

type checkRow struct {
	Request, Check  string
	Checked, Failed uint64
	Rate            string
}

type groupRow struct {
	Name             string
	Requests, Errors uint64
	Rate             string
	Classes, Status  string
}

type exampleView struct {
	Request, RequestID, Class, Error, Why, URL, Body string
	Status                                           int
	Truncated                                        bool
}

type stageView struct {
	Name, Model, Load, Concurrency, Duration, Elapsed string
	Requests                                          uint64
	ErrorRate, P95                                    string
	Interrupted                                       bool
}

type authView struct {
	Type                                     string
	TokenRequests, Failures, ForcedRefreshes int64
	Mean, Max, LastError                     string
}

type logView struct {
	File           string
	Lines, Dropped uint64
	Cap            string
	Sample         int
}

type kv struct{ Key, Value string }

func newPageView(p *Page) (*pageView, error) {
	v := &pageView{Title: p.Title, Suite: p.Suite, Verdict: verdictOf(p.Verdict)}
	for i, pr := range p.Runs {
		if pr.Report == nil {
			return nil, fmt.Errorf("run %d (%q) has no report", i+1, pr.Dir)
		}
		rv := newRunView(fmt.Sprintf("run-%d", i+1), pr)
		v.Runs = append(v.Runs, rv)
		if p.Suite {
			r := pr.Report
			failed := 0
			for _, t := range r.Thresholds {
				if !t.Pass {
					failed++
				}
			}
			v.Rows = append(v.Rows, suiteRow{
				ID: rv.ID, Name: nameOf(r, pr.Dir, i), Verdict: rv.Verdict,
				Requests:  strconv.FormatUint(r.Totals.Requests, 10),
				ErrorRate: fmtPct(r.Totals.ErrorRate), P95: fmtMS(r.Latency.P95),
				Failed:    fmt.Sprintf("%d of %d", failed, len(r.Thresholds)),
				FailedAny: failed > 0,
			})
		}
	}
	if v.Title == "" {
		switch {
		case p.Suite:
			v.Title = "loadgate suite report"
		case len(p.Runs) == 1:
			v.Title = "loadgate report: " + nameOf(p.Runs[0].Report, p.Runs[0].Dir, 0)
		default:
			v.Title = "loadgate report"
		}
	}
	return v, nil
}

func nameOf(r *Report, dir string, i int) string {
	switch {
	case r.Scenario.Name != "":
		return r.Scenario.Name
	case dir != "":
		return dir
	}
	return fmt.Sprintf("run %d", i+1)
}

// verdictOf maps a verdict to its word and colour class. Anything that is
// neither a pass nor a fail (interrupted, error, unknown) is amber: it says
// nothing about the target's health either way.
func verdictOf(s string) verdictView {
	v := verdictView{Word: strings.ToUpper(s), Class: "v-warn"}
	if v.Word == "" {
		v.Word = "UNKNOWN"
	}
	switch s {
	case Pass:
		v.Class = "v-pass"
	case Fail:
		v.Class = "v-fail"
	}
	return v
}

// newRunView gathers what the page shows of one run.
func newRunView(id string, pr PageRun) runView {
	r := pr.Report
	v := runView{
		ID: id, Dir: pr.Dir, Verdict: verdictOf(r.Verdict), Scenario: r.Scenario,
		Stopped: r.Stopped, Notes: r.Notes,
		Summary: fmt.Sprintf("%d requests in %s · error rate %s · p95 %s · throughput %s",
			r.Totals.Requests, fmtSeconds(r.DurationS), fmtPct(r.Totals.ErrorRate), fmtMS(r.Latency.P95),
			fmtRate(r.Totals.ThroughputRPS)),
	}
	if r.Interrupted && r.Stopped == "" {
		v.Stopped = "the run was interrupted before its stages ended"
	}
	for _, t := range r.Thresholds {
		v.Thresholds = append(v.Thresholds, thresholdView{Expr: t.Expr, Actual: t.ActualText, Limit: t.LimitText, Detail: t.Detail, Pass: t.Pass})
		v.HasDetail = v.HasDetail || t.Detail != ""
	}
	names := r.RequestNames()
	v.Requests = newRequestRows(r, names)
	v.Corrected = r.correctedRows()
	if g := r.Generator; g != nil {
		v.Generator = g.Summary()
		if !g.Saturated && g.Reason != "" {
			v.Generator += ". " + g.Reason
		}
	}
	if r.VerdictReason != "" {
		v.Reason = strings.ToUpper(r.Verdict[:1]) + r.Verdict[1:] + ": " + r.VerdictReason
	}
	v.Phases = newPhaseRows(r, names)
	for _, name := range sortedKeys(r.Observed) {
		o := r.Observed[name]
		row := observedRow{Name: name, Query: o.Query, Min: "-", Mean: "-", Max: "-", Last: "-", Note: o.Warning}
		if len(o.Points) > 0 {
			row.Min, row.Mean, row.Max, row.Last = fmtObserved(o, o.Min), fmtObserved(o, o.Mean), fmtObserved(o, o.Max), fmtObserved(o, o.Last)
		}
		if o.ScrapeErrors > 0 {
			row.Note = strings.TrimPrefix(row.Note+fmt.Sprintf("; %d failed scrapes", o.ScrapeErrors), "; ")
		}
		v.Observed = append(v.Observed, row)
	}
	for _, img := range pr.Charts {
		v.Charts = append(v.Charts, newChartView(img))
	}
	v.Errors = newErrorsView(r, names)
	v.Examples = newExampleViews(r, names)
	for _, s := range r.Stages {
		v.Stages = append(v.Stages, newStageView(s))
	}
	if a := r.Auth; a != nil {
		v.Auth = &authView{Type: a.Type, TokenRequests: a.TokenRequests, Failures: a.TokenFailures,
			ForcedRefreshes: a.ForcedRefreshes, Mean: fmtMS(a.MeanMS), Max: fmtMS(a.MaxMS), LastError: a.LastError}
	}
	if l := r.RequestLog; l != nil {
		lv := &logView{File: l.File, Lines: l.Lines, Dropped: l.Dropped, Sample: l.Sample, Cap: "none"}
		if l.CapBytes > 0 {
			lv.Cap = fmtBytes(l.CapBytes)
		}
		v.Log = lv
	}
	v.Meta = newMetaRows(r, pr.Dir)
	return v
}

// newRequestRows is the table of figures per request, in names' order,
// then for all.
func newRequestRows(r *Report, names []string) []requestRow {
	row := func(name, method, path string, all bool, t Totals, l Latency) requestRow {
		return requestRow{
			Name: name, Method: method, Path: path, All: all, Requests: t.Requests,
			Rate: fmtRate(t.RateRPS), Throughput: fmtRate(t.ThroughputRPS), Success: fmtPct(t.SuccessRate),
			R4xx: fmtPct(t.Rate4xx), R5xx: fmtPct(t.Rate5xx), Mean: fmtMS(l.Mean), StdDev: fmtMS(l.StdDev),
			P50: fmtMS(l.P50), P95: fmtMS(l.P95), P99: fmtMS(l.P99), Max: fmtMS(l.Max),
		}
	}
	var rows []requestRow
	for _, n := range names {
		rs := r.Requests[n]
		rows = append(rows, row(n, rs.Method, rs.Path, false, rs.Totals, rs.Latency))
	}
	return append(rows, row("all", "", "", true, r.Totals, r.Latency))
}

// newPhaseRows is the table of phase timings of the requests that have
// them, then for all; nil when none has.
func newPhaseRows(r *Report, names []string) []phaseRow {
	var rows []phaseRow
	for _, n := range names {
		if p := r.Requests[n].Phases; p != nil {
			rows = append(rows, newPhaseRow(n, false, p))
		}
	}
	if r.Phases != nil {
		rows = append(rows, newPhaseRow("all", true, r.Phases))
	}
	return rows
}

// newExampleViews lists the failed requests kept as examples, request by
// request in names' order.
func newExampleViews(r *Report, names []string) []exampleView {
	var out []exampleView
	for _, n := range names {
		for _, e := range r.Requests[n].Examples {
			out = append(out, exampleView{
				Request: n, RequestID: e.RequestID, Class: e.Class, Status: e.Status, Error: e.Error,
				Why: e.Why, URL: e.URL, Body: e.Body, Truncated: e.Truncated,
			})
		}
	}
	return out
}

// newStageView is one row of the stages table; load or workers is a dash
// when the stage's model has none.
func newStageView(s StageSummary) stageView {
	sv := stageView{
		Name: s.Name, Model: s.Model, Load: "—", Concurrency: "—",
		Duration: fmtSeconds(s.DurationS), Elapsed: fmtSeconds(s.ElapsedS),
		Requests: s.Totals.Requests, ErrorRate: fmtPct(s.Totals.ErrorRate), P95: fmtMS(s.Latency.P95),
		Interrupted: s.Interrupted,
	}
	if s.Model == "open" {
		sv.Load = fmtRate(s.Rate)
		if s.RampTo != 0 && s.RampTo != s.Rate {
			sv.Load += " → " + fmtRate(s.RampTo)
		}
	} else if s.Concurrency > 0 {
		sv.Concurrency = strconv.Itoa(s.Concurrency)
	}
	return sv
}

// newMetaRows lists where and when the run ran, with its folder when
// there is one.
func newMetaRows(r *Report, dir string) []kv {
	m := r.Meta
	rows := []kv{
		{"loadgate version", m.LoadgateVersion},
		{"Go version", m.GoVersion},
		{"host", m.Host},
		{"OS/arch", m.OS + "/" + m.Arch},
		{"CPUs", strconv.Itoa(m.CPUs)},
		{"started at", fmtTime(r.StartedAt)},
		{"ended at", fmtTime(r.EndedAt)},
		{"duration", fmtSeconds(r.DurationS)},
	}
	if dir != "" {
		rows = append(rows, kv{"run folder", dir})
	}
	return append(rows, kv{"report schema", strconv.Itoa(r.SchemaVersion)})
}

// pngMagic starts every PNG file; a chart without it is shown as a note,
// not as a broken image.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func newChartView(img chart.Image) chartView {
	v := chartView{Title: img.Title, Alt: img.Title}
	if v.Title == "" {
		v.Title = img.Name
	}
	if v.Alt == "" {
		v.Alt = "plot: " + img.Name
	}
	if !bytes.HasPrefix(img.PNG, pngMagic) {
		v.Missing = "no PNG image for this plot"
		return v
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img.PNG))
	if err != nil {
		v.Missing = "the plot's PNG image is unreadable: " + err.Error()
		return v
	}
	v.Width, v.Height = cfg.Width, cfg.Height
	// The URL is built here from bytes checked to be a PNG image and
	// base64 text, so it is safe to mark as trusted; html/template would
	// otherwise replace any data: URL with a placeholder.
	v.Src = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img.PNG))
	return v
}

func newErrorsView(r *Report, names []string) errorsView {
	t := r.Totals
	v := errorsView{Failures: t.Failures, Logical: t.LogicalRequests, BytesIn: t.BytesIn, BytesOut: t.BytesOut}
	for _, k := range sortedKeys(t.StatusCodes) {
		n := t.StatusCodes[k]
		code, _ := strconv.Atoi(k)
		v.Status = append(v.Status, countRow{Name: k, Count: n, Share: share(n, t.Requests), Bad: code >= 400 || code < 100})
	}
	for _, k := range sortedKeys(t.Errors) {
		v.Transport = append(v.Transport, countRow{Name: k, Count: t.Errors[k], Share: share(t.Errors[k], t.Requests), Bad: true})
	}
	v.Classes = byCount(t.ErrorClasses, t.LogicalRequests)
	if t.TimeoutRate > 0 {
		v.Timeouts = fmtPct(t.TimeoutRate)
	}
	v.Codes = byCount(t.ErrorCodes, t.LogicalRequests)
	if t.Retries > 0 || t.RetriedRequests > 0 {
		rv := &retryView{Retries: t.Retries, Retried: t.RetriedRequests, Recovered: t.SucceededAfter,
			Amplification: strconv.FormatFloat(t.RetryAmplification, 'f', 3, 64), Causes: byCount(t.RetryCauses, t.Retries)}
		if e := r.E2ELatency; e != nil {
			rv.E2EP95, rv.E2EP99 = fmtMS(e.P95), fmtMS(e.P99)
		}
		v.Retries = rv
	}
	for _, n := range names {
		for _, c := range r.Requests[n].Checks {
			v.Checks = append(v.Checks, checkRow{Request: n, Check: c.Name, Checked: c.Checked, Failed: c.Failed, Rate: fmtPct(c.FailureRate)})
		}
	}
	for _, g := range sortedKeys(t.Groups) {
		gr := t.Groups[g]
		v.Groups = append(v.Groups, groupRow{Name: g, Requests: gr.Requests, Errors: gr.Errors, Rate: fmtPct(gr.ErrorRate),
			Classes: codesOrDash(gr.ErrorClasses), Status: codesOrDash(gr.StatusCodes)})
	}
	v.HasFailure = t.Failures > 0 || len(v.Transport) > 0
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// byCount lists a count map largest first, the order a reader scans an
// error breakdown in; ties go by name so the page is stable.
func byCount(m map[string]uint64, of uint64) []countRow {
	out := make([]countRow, 0, len(m))
	for k, n := range m {
		out = append(out, countRow{Name: k, Count: n, Share: share(n, of), Bad: n > 0})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func share(n, of uint64) string {
	if of == 0 {
		return ""
	}
	return fmtPct(float64(n) / float64(of))
}

func codesOrDash(m map[string]uint64) string {
	if len(m) == 0 {
		return "—"
	}
	return codes(m)
}

func fmtSeconds(s float64) string {
	if math.IsNaN(s) {
		return "n/a"
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + "s"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}

type capacityRow struct {
	N                                       int
	Target, Sent, Throughput, P50, P95, P99 string
	Errors, CPU, Broken                     string
	Verdict                                 verdictView
	Link                                    string
	Capacity, Knee                          bool
}

type capacityView struct {
	Title, Summary        string
	Verdict               verdictView
	Scenario              ScenarioInfo
	SLOs                  []string
	Capacity, Sustainable string
	LimitedBy             []string
	Knee                  string
	Target                string // the embedded fixture's model
	Rows                  []capacityRow
	Charts                []chartView
	Search                []kv
	Notes                 []string
	Meta                  []kv
}

// WriteCapacityHTML writes capacity.html: the result first, the table of
// steps (each linked to its own report), the plots, how the search went.
func WriteCapacityHTML(w io.Writer, c *Capacity, charts []chart.Image) error {
	tmpl, err := capacityTemplate()
	if err != nil {
		return fmt.Errorf("write capacity html: parse template: %w", err)
	}
	v := capacityView{
		Title: "capacity: " + c.Scenario.Name, Summary: c.Summary, Scenario: c.Scenario, SLOs: c.SLOs,
		Capacity: fmtRate(c.CapacityRPS), Sustainable: fmtRate(c.SustainableRPS), LimitedBy: c.LimitedBy, Notes: c.Notes,
	}
	switch c.Result {
	case CapFound:
		v.Verdict = verdictView{Word: fmtRate(c.CapacityRPS), Class: "v-pass"}
	case CapAtMax:
		v.Verdict = verdictView{Word: "≥ " + fmtRate(c.CapacityRPS), Class: "v-pass"}
	case CapNone:
		v.Verdict = verdictView{Word: "NO RATE MET THE SLOs", Class: "v-fail"}
	default:
		v.Verdict = verdictView{Word: strings.ToUpper(strings.ReplaceAll(c.Result, "_", " ")), Class: "v-warn"}
	}
	if k := c.Knee; k != nil {
		v.Knee = fmt.Sprintf("%s (step %d, p95 %s)", fmtRate(k.TargetRPS), k.Step, fmtMS(k.P95))
	}
	if m := c.TargetModel; m != nil {
		v.Target = m.Text()
	}
	for _, s := range c.StepsByRate() {
		row := capacityRow{N: s.N, Target: fmtRate(s.TargetRPS), Sent: fmtRate(s.RateRPS), Throughput: fmtRate(s.ThroughputRPS),
			P50: fmtMS(s.Latency.P50), P95: fmtMS(s.Latency.P95), P99: fmtMS(s.Latency.P99), Errors: fmtPct(s.ErrorRate),
			CPU: fmtPct(s.GeneratorCPU), Broken: sloCell(s), Verdict: verdictOf(s.Verdict),
			Capacity: s.Verdict == Pass && s.TargetRPS == c.CapacityRPS, Knee: c.Knee != nil && c.Knee.Step == s.N}
		if s.Dir != "" {
			row.Link = path.Join(s.Dir, "report.html")
		}
		v.Rows = append(v.Rows, row)
	}
	for _, img := range charts {
		v.Charts = append(v.Charts, newChartView(img))
	}
	sr := c.Search
	v.Search = []kv{
		{"start", fmtRate(sr.StartRPS)}, {"maximum", fmtRate(sr.MaxRPS)}, {"step up", fmt.Sprintf("×%g until a step fails", sr.Factor)},
		{"bisect", fmt.Sprintf("until the last pass and first fail are within %g%%", sr.Precision*100)},
		{"step duration", fmtSeconds(sr.StepDurationS)}, {"safety margin", fmt.Sprintf("%g%%", sr.Margin*100)},
		{"steps", fmt.Sprint(len(c.Steps))},
	}
	v.Meta = []kv{{"started", fmtTime(c.StartedAt)}, {"ended", fmtTime(c.EndedAt)}, {"loadgate", c.Meta.LoadgateVersion},
		{"host", fmt.Sprintf("%s (%s/%s, %d CPUs)", c.Meta.Host, c.Meta.OS, c.Meta.Arch, c.Meta.CPUs)}}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("write capacity html: render: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
