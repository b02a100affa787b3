package report

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

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
