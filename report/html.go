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
	"sort"
	"strconv"
	"strings"
	"sync"
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

// htmlTemplate parses the page template once. It is parsed lazily, not with
// template.Must at init, so that a mistake in it is an error, not a panic.
var htmlTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("report.html").Parse(pageTemplate)
})

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
	Auth       *authView
	Log        *logView
	Meta       []kv
}

// phaseRow is one request's phase timings: p50 / p95 / p99 of each.
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
	row := func(name, method, path string, all bool, t Totals, l Latency) requestRow {
		return requestRow{
			Name: name, Method: method, Path: path, All: all, Requests: t.Requests,
			Rate: fmtRate(t.RateRPS), Throughput: fmtRate(t.ThroughputRPS), Success: fmtPct(t.SuccessRate),
			R4xx: fmtPct(t.Rate4xx), R5xx: fmtPct(t.Rate5xx), Mean: fmtMS(l.Mean), StdDev: fmtMS(l.StdDev),
			P50: fmtMS(l.P50), P95: fmtMS(l.P95), P99: fmtMS(l.P99), Max: fmtMS(l.Max),
		}
	}
	names := r.RequestNames()
	for _, n := range names {
		rs := r.Requests[n]
		v.Requests = append(v.Requests, row(n, rs.Method, rs.Path, false, rs.Totals, rs.Latency))
	}
	v.Requests = append(v.Requests, row("all", "", "", true, r.Totals, r.Latency))
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
	for _, n := range names {
		if p := r.Requests[n].Phases; p != nil {
			v.Phases = append(v.Phases, newPhaseRow(n, false, p))
		}
	}
	if r.Phases != nil {
		v.Phases = append(v.Phases, newPhaseRow("all", true, r.Phases))
	}
	for _, img := range pr.Charts {
		v.Charts = append(v.Charts, newChartView(img))
	}
	v.Errors = newErrorsView(r, names)
	for _, n := range names {
		for _, e := range r.Requests[n].Examples {
			v.Examples = append(v.Examples, exampleView{
				Request: n, RequestID: e.RequestID, Class: e.Class, Status: e.Status, Error: e.Error,
				Why: e.Why, URL: e.URL, Body: e.Body, Truncated: e.Truncated,
			})
		}
	}
	for _, s := range r.Stages {
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
		v.Stages = append(v.Stages, sv)
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
	m := r.Meta
	v.Meta = []kv{
		{"loadgate version", m.LoadgateVersion},
		{"Go version", m.GoVersion},
		{"host", m.Host},
		{"OS/arch", m.OS + "/" + m.Arch},
		{"CPUs", strconv.Itoa(m.CPUs)},
		{"started at", fmtTime(r.StartedAt)},
		{"ended at", fmtTime(r.EndedAt)},
		{"duration", fmtSeconds(r.DurationS)},
	}
	if pr.Dir != "" {
		v.Meta = append(v.Meta, kv{"run folder", pr.Dir})
	}
	v.Meta = append(v.Meta, kv{"report schema", strconv.Itoa(r.SchemaVersion)})
	return v
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

// pageTemplate is the whole page. The CSS is inline and there is no
// script: the Content-Security-Policy forbids every fetch and every script,
// so a response body that slipped through unescaped still could not run.
// pageHead is the head of every loadgate page: a strict content security
// policy (no scripts, no requests), and the styles.
const pageHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="generator" content="loadgate">
<title>{{.Title}}</title>
<style>
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; padding: 1rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328; background: #ffffff; overflow-wrap: anywhere; }
main { max-width: 80rem; margin: 0 auto; }
h1 { font-size: 1.1rem; font-weight: 600; color: #59636e; margin: 0 0 .75rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; border-bottom: 1px solid #d1d9e0; }
h3 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
h4 { font-size: 1rem; margin: 1rem 0 .35rem; }
p { margin: .35rem 0; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .9em; }
.muted { color: #59636e; }
.run { margin: 0 0 3rem; }
.verdict { border-radius: 8px; padding: .9rem 1.1rem; margin: .5rem 0 1rem; border: 2px solid; }
.verdict .word { display: block; font-size: 2.4rem; font-weight: 800; letter-spacing: .04em; line-height: 1.1; }
.verdict .what { font-size: 1.15rem; font-weight: 600; }
.verdict p { margin: .2rem 0; }
.v-pass { background: #dafbe1; border-color: #1a7f37; }
.v-pass .word, span.v-pass { color: #116329; }
.v-fail { background: #ffebe9; border-color: #cf222e; }
.v-fail .word, span.v-fail { color: #a40e26; }
.v-warn { background: #fff8c5; border-color: #bf8700; }
.v-warn .word, span.v-warn { color: #7d4e00; }
span.v-pass, span.v-fail, span.v-warn { font-weight: 700; padding: .05rem .45rem; border-radius: 4px; border: 1px solid; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; margin: .35rem 0 1rem; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #d1d9e0; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; border-bottom: 2px solid #d1d9e0; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.all td { font-weight: 600; border-top: 2px solid #d1d9e0; }
td.pass { color: #116329; font-weight: 700; }
td.fail, td.bad, p.bad { color: #a40e26; font-weight: 700; }
table.kv th { background: none; white-space: nowrap; font-weight: 600; color: #59636e; }
table.kv { max-width: 100%; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; flex: 1 1 28rem; max-width: 100%; border: 1px solid #d1d9e0; border-radius: 6px; padding: .5rem; background: #ffffff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { text-align: center; font-weight: 600; margin-top: .35rem; }
.example { border: 1px solid #d1d9e0; border-left: 4px solid #cf222e; border-radius: 6px; padding: .5rem .75rem; margin: .75rem 0; }
.example table.kv th, .example table.kv td { border: 0; padding: .1rem .6rem .1rem 0; }
pre.body { margin: .4rem 0 0; padding: .5rem; background: #f6f8fa; border-radius: 4px; max-height: 24rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.tag { display: inline-block; font-size: .8rem; font-weight: 600; padding: 0 .4rem; border-radius: 4px; background: #fff8c5; color: #7d4e00; border: 1px solid #bf8700; }
ul { margin: .35rem 0; padding-left: 1.4rem; }
a { color: #0969da; }
@media print { .scroll { overflow: visible; } pre.body { max-height: none; } .run { break-before: page; } }
</style>
</head>
`

const pageTemplate = pageHead + `<body>
<main>
<h1>{{.Title}}</h1>
{{- if .Suite}}
<section id="suite" class="suite">
<div class="verdict {{.Verdict.Class}}"><span class="word">{{.Verdict.Word}}</span><span class="what">suite of {{len .Runs}} scenarios</span></div>
<div class="scroll"><table class="suite-table">
<thead><tr><th>scenario</th><th>verdict</th><th class="num">requests</th><th class="num">error rate</th><th class="num">p95</th><th class="num">failed thresholds</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td><a href="#{{.ID}}">{{.Name}}</a></td><td><span class="{{.Verdict.Class}}">{{.Verdict.Word}}</span></td><td class="num">{{.Requests}}</td><td class="num">{{.ErrorRate}}</td><td class="num">{{.P95}}</td><td class="num{{if .FailedAny}} bad{{end}}">{{.Failed}}</td></tr>
{{- end}}
</tbody>
</table></div>
</section>
{{- end}}
{{- range .Runs}}
<section class="run" id="{{.ID}}">
<div class="verdict {{.Verdict.Class}}" id="{{.ID}}-verdict">
<span class="word">{{.Verdict.Word}}</span>
<span class="what">{{.Scenario.Name}}</span>
<p>target <span class="mono">{{.Scenario.Target}}</span> · environment <strong>{{.Scenario.Environment}}</strong></p>
<p>{{.Summary}}</p>
{{- if .Stopped}}
<p><strong>stopped:</strong> {{.Stopped}}</p>
{{- end}}
</div>

<h3 id="{{.ID}}-thresholds">Thresholds</h3>
{{- if .Thresholds}}
<div class="scroll"><table class="thresholds">
<thead><tr><th>threshold</th><th class="num">actual</th><th class="num">limit</th><th>result</th>{{if .HasDetail}}<th>detail</th>{{end}}</tr></thead>
<tbody>
{{- $detail := .HasDetail}}
{{- range .Thresholds}}
<tr><td class="mono">{{.Expr}}</td><td class="num">{{.Actual}}</td><td class="num">{{.Limit}}</td>{{if .Pass}}<td class="pass">pass</td>{{else}}<td class="fail">FAIL</td>{{end}}{{if $detail}}<td>{{.Detail}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
{{- else}}
<p class="muted">No thresholds: the run passes unless it is interrupted.</p>
{{- end}}

<h3 id="{{.ID}}-requests">Requests</h3>
<div class="scroll"><table class="requests">
<thead><tr><th>request</th><th class="num">requests</th><th class="num">rate</th><th class="num">throughput</th><th class="num">success</th><th class="num">4xx</th><th class="num">5xx</th><th class="num">mean</th><th class="num">stddev</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">max</th></tr></thead>
<tbody>
{{- range .Requests}}
<tr{{if .All}} class="all"{{end}}><td>{{.Name}}{{if .Method}} <span class="muted mono">{{.Method}} {{.Path}}</span>{{end}}</td><td class="num">{{.Requests}}</td><td class="num">{{.Rate}}</td><td class="num">{{.Throughput}}</td><td class="num">{{.Success}}</td><td class="num">{{.R4xx}}</td><td class="num">{{.R5xx}}</td><td class="num">{{.Mean}}</td><td class="num">{{.StdDev}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td></tr>
{{- end}}
</tbody>
</table></div>

{{- if .Corrected}}
<p><strong>Latency raw / from the intended send time</strong> (coordinated omission corrected; thresholds use it):</p>
<div class="scroll"><table class="corrected">
<thead><tr><th>request</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">max</th></tr></thead>
<tbody>
{{- range .Corrected}}
<tr{{if .All}} class="all"{{end}}><td>{{.Name}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Reason}}
<p class="bad"><strong>{{.Reason}}</strong></p>
{{- end}}
{{- if .Generator}}
<p class="muted">Generator: {{.Generator}}</p>
{{- end}}

{{- if .Phases}}
<h3 id="{{.ID}}-phases">Connection phases</h3>
<p class="muted">p50 / p95 / p99 of each phase; DNS, connect and TLS happen on new connections only.</p>
<div class="scroll"><table class="phases">
<thead><tr><th>request</th><th class="num">DNS</th><th class="num">connect</th><th class="num">TLS</th><th class="num">time to first byte</th><th class="num">new connections</th><th class="num">reuse</th></tr></thead>
<tbody>
{{- range .Phases}}
<tr{{if .All}} class="all"{{end}}><td>{{.Name}}</td><td class="num">{{.DNS}}</td><td class="num">{{.Connect}}</td><td class="num">{{.TLS}}</td><td class="num">{{.TTFB}}</td><td class="num">{{.New}}</td><td class="num">{{.Reuse}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}

{{- if .Charts}}
<h3 id="{{.ID}}-plots">Plots</h3>
<div class="plots">
{{- range .Charts}}
<figure>
{{- if .Missing}}
<p class="muted">{{.Missing}}</p>
{{- else}}
<img src="{{.Src}}" alt="{{.Alt}}" width="{{.Width}}" height="{{.Height}}">
{{- end}}
<figcaption>{{.Title}}</figcaption>
</figure>
{{- end}}
</div>
{{- end}}

<h3 id="{{.ID}}-errors">Errors</h3>
{{- with .Errors}}
{{- if .HasFailure}}
<p>{{.Failures}} of {{.Logical}} requests failed.</p>
{{- else}}
<p>No failed requests.</p>
{{- end}}
<h4>Status codes</h4>
{{- if .Status}}
<div class="scroll"><table class="status">
<thead><tr><th>status</th><th class="num">responses</th><th class="num">share</th></tr></thead>
<tbody>
{{- range .Status}}
<tr><td{{if .Bad}} class="bad"{{end}}>{{.Name}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- else}}
<p class="muted">No responses.</p>
{{- end}}
{{- if .Transport}}
<h4>Transport errors</h4>
<div class="scroll"><table class="transport">
<thead><tr><th>kind</th><th class="num">count</th><th class="num">share</th></tr></thead>
<tbody>
{{- range .Transport}}
<tr><td class="bad">{{.Name}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Classes}}
<h4>Error classes</h4>
<div class="scroll"><table class="classes">
<thead><tr><th>class</th><th class="num">requests</th><th class="num">rate</th></tr></thead>
<tbody>
{{- range .Classes}}
<tr><td{{if .Bad}} class="bad"{{end}}>{{.Name}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Timeouts}}
<p>Timeouts: {{.Timeouts}} of requests.</p>
{{- end}}
{{- if .Codes}}
<h4>Business error codes</h4>
<div class="scroll"><table class="codes">
<thead><tr><th>code</th><th class="num">requests</th><th class="num">rate</th></tr></thead>
<tbody>
{{- range .Codes}}
<tr><td class="mono">{{.Name}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- with .Retries}}
<h4>Retries</h4>
<p>{{.Retries}} retries, {{.Amplification}} HTTP requests per request; {{.Retried}} requests retried, {{.Recovered}} succeeded after a retry.{{if .E2EP95}} End-to-end latency with retries: p95 {{.E2EP95}}, p99 {{.E2EP99}}.{{end}}</p>
{{- if .Causes}}
<div class="scroll"><table class="retry-causes">
<thead><tr><th>cause</th><th class="num">retries</th><th class="num">share</th></tr></thead>
<tbody>
{{- range .Causes}}
<tr><td>{{.Name}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- end}}
{{- if .Checks}}
<h4>Checks</h4>
<div class="scroll"><table class="checks">
<thead><tr><th>request</th><th>check</th><th class="num">checked</th><th class="num">failed</th><th class="num">failure rate</th></tr></thead>
<tbody>
{{- range .Checks}}
<tr><td>{{.Request}}</td><td class="mono">{{.Check}}</td><td class="num">{{.Checked}}</td><td class="num{{if .Failed}} bad{{end}}">{{.Failed}}</td><td class="num">{{.Rate}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Groups}}
<h4>Groups</h4>
<div class="scroll"><table class="groups">
<thead><tr><th>group</th><th class="num">requests</th><th class="num">errors</th><th class="num">error rate</th><th>error classes</th><th>status codes</th></tr></thead>
<tbody>
{{- range .Groups}}
<tr><td>{{.Name}}</td><td class="num">{{.Requests}}</td><td class="num{{if .Errors}} bad{{end}}">{{.Errors}}</td><td class="num">{{.Rate}}</td><td class="mono">{{.Classes}}</td><td class="mono">{{.Status}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
<p class="muted">Bytes in {{.BytesIn}}, out {{.BytesOut}}.</p>
{{- end}}
{{- if .Examples}}
<h4 id="{{.ID}}-examples">Example failing responses</h4>
{{- range .Examples}}
<div class="example">
<div class="scroll"><table class="kv">
<tr><th>request</th><td>{{.Request}}</td></tr>
<tr><th>request id</th><td class="mono">{{.RequestID}}</td></tr>
<tr><th>class</th><td>{{.Class}}</td></tr>
<tr><th>status</th><td>{{if .Status}}{{.Status}}{{else}}—{{end}}</td></tr>
{{- if .Error}}
<tr><th>error</th><td>{{.Error}}</td></tr>
{{- end}}
{{- if .Why}}
<tr><th>why</th><td>{{.Why}}</td></tr>
{{- end}}
<tr><th>URL</th><td class="mono">{{.URL}}</td></tr>
</table></div>
{{- if .Body}}
<p>body{{if .Truncated}} <span class="tag">truncated</span>{{end}}</p>
<pre class="body">{{.Body}}</pre>
{{- else}}
<p class="muted">no body</p>
{{- end}}
</div>
{{- end}}
{{- end}}

<h3 id="{{.ID}}-scenario">Scenario and environment</h3>
<div class="scroll"><table class="kv scenario">
<tr><th>name</th><td>{{.Scenario.Name}}</td></tr>
{{- if .Scenario.Description}}
<tr><th>description</th><td>{{.Scenario.Description}}</td></tr>
{{- end}}
<tr><th>file</th><td class="mono">{{.Scenario.File}}</td></tr>
<tr><th>target</th><td class="mono">{{.Scenario.Target}}</td></tr>
<tr><th>environment</th><td>{{.Scenario.Environment}}</td></tr>
</table></div>
{{- if .Stages}}
<h4>Stages</h4>
<div class="scroll"><table class="stages">
<thead><tr><th>stage</th><th>model</th><th class="num">rate</th><th class="num">concurrency</th><th class="num">duration</th><th class="num">elapsed</th><th class="num">requests</th><th class="num">error rate</th><th class="num">p95</th></tr></thead>
<tbody>
{{- range .Stages}}
<tr><td>{{.Name}}{{if .Interrupted}} <span class="tag">interrupted</span>{{end}}</td><td>{{.Model}}</td><td class="num">{{.Load}}</td><td class="num">{{.Concurrency}}</td><td class="num">{{.Duration}}</td><td class="num">{{.Elapsed}}</td><td class="num">{{.Requests}}</td><td class="num">{{.ErrorRate}}</td><td class="num">{{.P95}}</td></tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Notes}}
<h4>Notes</h4>
<ul>
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- with .Auth}}
<h4>Auth</h4>
<p>{{.Type}}: {{.TokenRequests}} token requests ({{.Failures}} failed, {{.ForcedRefreshes}} forced by a 401), mean {{.Mean}}, max {{.Max}}; not counted in the figures above.{{if .LastError}} Last error: <span class="mono">{{.LastError}}</span>{{end}}</p>
{{- end}}
{{- with .Log}}
<h4>Request log</h4>
<p><span class="mono">{{.File}}</span>: {{.Lines}} lines written{{if .Dropped}}, <strong>{{.Dropped}} left out</strong> once the cap was reached{{end}}; cap {{.Cap}}{{if gt .Sample 1}}; one success in {{.Sample}} logged{{end}}.</p>
{{- end}}

<h3 id="{{.ID}}-meta">Run</h3>
<div class="scroll"><table class="kv meta">
{{- range .Meta}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table></div>
</section>
{{- end}}
</main>
</body>
</html>
`
