package report

import (
	"bytes"
	"strings"
	"testing"
)

func steps(rates, p95s []float64) []CapacityStep {
	out := make([]CapacityStep, len(rates))
	for i := range rates {
		out[i] = CapacityStep{N: i + 1, TargetRPS: rates[i], ThroughputRPS: rates[i], Latency: Latency{P95: p95s[i]}, Verdict: Pass}
	}
	return out
}

func TestFindKnee(t *testing.T) {
	rates := []float64{100, 200, 300, 400, 500, 600, 700, 800}
	// Flat until 500/s, then a hockey stick. Scaled to [0, 1], 600/s lies
	// furthest below the chord (0.714 - 30/390 = 0.637, against 0.566 at
	// 500/s and 0.469 at 700/s): the knee.
	k := FindKnee(steps(rates, []float64{10, 10.5, 10.2, 11, 12, 40, 150, 400}))
	if k == nil || k.TargetRPS != 600 || k.Step != 6 {
		t.Errorf("hockey stick: knee %+v, want 600/s", k)
	}
	// The steps may come in any order (bisection adds them late).
	shuffled := steps(rates, []float64{10, 10.5, 10.2, 11, 12, 40, 150, 400})
	shuffled[0], shuffled[7] = shuffled[7], shuffled[0]
	if k := FindKnee(shuffled); k == nil || k.TargetRPS != 600 {
		t.Errorf("shuffled: knee %+v, want 600/s", k)
	}
	for name, p95 := range map[string][]float64{
		"flat noise":     {10, 11, 10, 12, 11, 10, 12, 11},
		"falling":        {30, 25, 20, 15, 12, 11, 10, 10},
		"straight line":  {10, 20, 30, 40, 50, 60, 70, 80},
		"peak in middle": {10, 10, 10, 80, 10, 10, 10, 10},
	} {
		if k := FindKnee(steps(rates, p95)); k != nil {
			t.Errorf("%s: knee %+v, want none", name, k)
		}
	}
	if k := FindKnee(steps(rates[:2], []float64{10, 100})); k != nil {
		t.Errorf("two steps: knee %+v, want none", k)
	}
}

func TestCapacityFinish(t *testing.T) {
	c := &Capacity{Search: CapacitySearch{Margin: 0.2}, SLOs: []string{"p95 < 100ms"}}
	c.Steps = steps([]float64{100, 150, 225, 187.5, 206.3}, []float64{20, 30, 150, 60, 120})
	for i, pass := range []bool{true, true, false, true, false} {
		if !pass {
			c.Steps[i].Verdict = Fail
			c.Steps[i].SLOs = []ThresholdResult{{Expr: "p95 < 100ms", ActualText: "150ms"}}
		}
	}
	c.Steps[4].SLOs[0].ActualText = "120ms"
	c.Finish(CapFound)
	if c.CapacityRPS != 187.5 || c.FirstFailRPS != 206.3 || c.SustainableRPS != 150 {
		t.Errorf("capacity %v, first fail %v, sustainable %v", c.CapacityRPS, c.FirstFailRPS, c.SustainableRPS)
	}
	if len(c.LimitedBy) != 1 || c.LimitedBy[0] != "p95 < 100ms (120ms at 206.3/s)" {
		t.Errorf("limited by %v", c.LimitedBy)
	}
	var text, md bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "capacity 187.5/s") || !strings.Contains(text.String(), "Sustainable rate 150.0/s") {
		t.Errorf("text:\n%s", text.String())
	}
	// Markdown rows go by rate: 187.5 comes before 206.3 and 225.
	if i, j := strings.Index(md.String(), "| 187.5/s"), strings.Index(md.String(), "| 225.0/s"); i < 0 || j < i {
		t.Errorf("markdown:\n%s", md.String())
	}
	// The HTML table tags the knee's step and the capacity's.
	if c.Knee == nil {
		t.Fatal("no knee found")
	}
	var page bytes.Buffer
	if err := WriteCapacityHTML(&page, c, nil); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if strings.Count(html, `<span class="tag">knee</span>`) != 1 || strings.Count(html, `<span class="tag">capacity</span>`) != 1 {
		t.Errorf("capacity.html tags: %d knee, %d capacity", strings.Count(html, `<span class="tag">knee</span>`), strings.Count(html, `<span class="tag">capacity</span>`))
	}
}
