package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/loadgate/loadgate/report/chart"
)

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
	Rows                  []capacityRow
	Charts                []chartView
	Search                []kv
	Notes                 []string
	Meta                  []kv
}

var capacityTemplate = sync.OnceValues(func() (*template.Template, error) {
	return template.New("capacity").Parse(pageHead + capacityBody)
})

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

const capacityBody = `<body>
<main>
<h1>{{.Title}}</h1>
<section class="run" id="capacity">
<div class="verdict {{.Verdict.Class}}" id="capacity-verdict">
<span class="word">{{.Verdict.Word}}</span>
<span class="what">{{.Scenario.Name}}</span>
<p>target <span class="mono">{{.Scenario.Target}}</span> · environment <strong>{{.Scenario.Environment}}</strong></p>
<p>{{.Summary}}</p>
</div>
<div class="scroll"><table class="kv">
<tr><th>capacity</th><td>{{.Capacity}}</td></tr>
<tr><th>sustainable rate</th><td><strong>{{.Sustainable}}</strong></td></tr>
<tr><th>SLOs</th><td>{{range $i, $s := .SLOs}}{{if $i}}, {{end}}<span class="mono">{{$s}}</span>{{end}}</td></tr>
{{- if .LimitedBy}}
<tr><th>limited by</th><td>{{range $i, $s := .LimitedBy}}{{if $i}}; {{end}}{{$s}}{{end}}</td></tr>
{{- end}}
{{- if .Knee}}
<tr><th>knee</th><td>{{.Knee}}: latency climbs faster past it</td></tr>
{{- end}}
</table></div>

<h3 id="capacity-steps">Steps</h3>
<div class="scroll"><table class="steps">
<thead><tr><th class="num">step</th><th class="num">target</th><th class="num">sent</th><th class="num">throughput</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">errors</th><th class="num">loadgate CPU</th><th>verdict</th><th>broken SLOs</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr{{if .Capacity}} class="all"{{end}}><td class="num">{{if .Link}}<a href="{{.Link}}">{{.N}}</a>{{else}}{{.N}}{{end}}</td><td class="num">{{.Target}}{{if .Capacity}} <span class="tag">capacity</span>{{end}}{{if .Knee}} <span class="tag">knee</span>{{end}}</td><td class="num">{{.Sent}}</td><td class="num">{{.Throughput}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.Errors}}</td><td class="num">{{.CPU}}</td><td><span class="{{.Verdict.Class}}">{{.Verdict.Word}}</span></td><td>{{.Broken}}</td></tr>
{{- end}}
</tbody>
</table></div>
<p class="muted">Latency is measured from each request's intended send time (coordinated omission corrected). Each step's own report is linked from its number.</p>

{{- if .Charts}}
<h3 id="capacity-plots">Plots</h3>
<div class="plots">
{{- range .Charts}}
<figure>{{if .Missing}}<p class="muted">{{.Missing}}</p>{{else}}<img src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Alt}}">{{end}}<figcaption>{{.Title}}</figcaption></figure>
{{- end}}
</div>
{{- end}}

{{- if .Notes}}
<h3>Notes</h3>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
{{- end}}

<h3 id="capacity-search">Search</h3>
<div class="scroll"><table class="kv">
{{- range .Search}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
{{- range .Meta}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table></div>
</section>
</main>
</body>
</html>
`
