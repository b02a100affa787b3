package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// topCodes is how many business error codes the Markdown summary lists; a
// pull-request comment is read at a glance, the HTML report has them all.
const topCodes = 5

// WriteMarkdown writes the report as GitHub-flavoured Markdown fit for a
// pull-request comment: the verdict, the thresholds, the per-request
// figures and a short error breakdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "## loadgate: %s\n\n", mdText(r.Scenario.Name))
	r.writeMarkdownBody(b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}

// WriteSuiteMarkdown writes a suite's reports as Markdown: a table of every
// scenario's verdict, then each report under its own heading.
func WriteSuiteMarkdown(w io.Writer, verdict string, reports []*Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "## loadgate suite: %s\n\n", mdVerdict(verdict))
	if len(reports) > 0 {
		b.WriteString("| scenario | verdict | requests | error rate | p95 | failed thresholds |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|\n")
	}
	for i, r := range reports {
		if r == nil {
			return fmt.Errorf("write suite markdown: report %d is nil", i+1)
		}
		failed := 0
		for _, t := range r.Thresholds {
			if !t.Pass {
				failed++
			}
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %d of %d |\n", mdText(r.Scenario.Name), mdVerdict(r.Verdict),
			r.Totals.Requests, fmtPct(r.Totals.ErrorRate), fmtMS(r.Latency.P95), failed, len(r.Thresholds))
	}
	for _, r := range reports {
		fmt.Fprintf(b, "\n### %s\n\n", mdText(r.Scenario.Name))
		r.writeMarkdownBody(b)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write suite markdown: %w", err)
	}
	return nil
}

// writeMarkdownBody writes a report below its heading: the summary line,
// thresholds, per-request figures, errors and notes.
func (r *Report) writeMarkdownBody(b *strings.Builder) {
	t := r.Totals
	fmt.Fprintf(b, "%s · target %s (%s) · %d requests in %s · error rate %s · p95 %s\n",
		mdVerdict(r.Verdict), mdText(r.Scenario.Target), mdText(r.Scenario.Environment),
		t.Requests, fmtSeconds(r.DurationS), fmtPct(t.ErrorRate), fmtMS(r.Latency.P95))
	if r.Stopped != "" {
		fmt.Fprintf(b, "\nStopped: %s\n", mdText(r.Stopped))
	}
	if len(r.Thresholds) > 0 {
		r.writeMarkdownThresholds(b)
	}
	r.writeMarkdownRequests(b)
	if r.VerdictReason != "" {
		fmt.Fprintf(b, "\n**%s:** %s.\n", strings.ToUpper(r.Verdict[:1])+r.Verdict[1:], mdText(r.VerdictReason))
	}
	r.writeMarkdownErrors(b)
	r.writeMarkdownObserved(b)
	if r.Stopped != "" || len(r.Notes) > 0 {
		b.WriteString("\n**Notes**\n\n")
		if r.Stopped != "" {
			fmt.Fprintf(b, "- Stopped: %s\n", mdText(r.Stopped))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(b, "- %s\n", mdText(n))
		}
	}
}

// writeMarkdownThresholds writes the table of thresholds, with a detail
// column when any threshold has one.
func (r *Report) writeMarkdownThresholds(b *strings.Builder) {
	detail := false
	for _, th := range r.Thresholds {
		detail = detail || th.Detail != ""
	}
	b.WriteString("\n| threshold | actual | limit | result |")
	if detail {
		b.WriteString(" detail |")
	}
	b.WriteString("\n|---|---:|---:|---|")
	if detail {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, th := range r.Thresholds {
		res := "pass"
		if !th.Pass {
			res = "**FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |", mdText(th.Expr), mdText(th.ActualText), mdText(th.LimitText), res)
		if detail {
			fmt.Fprintf(b, " %s |", mdText(th.Detail))
		}
		b.WriteString("\n")
	}
}

// writeMarkdownRequests writes the table of figures per request and for
// all, then the corrected latency table when there is one.
func (r *Report) writeMarkdownRequests(b *strings.Builder) {
	b.WriteString("\n| request | requests | success | p50 | p95 | p99 | error rate |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, t Totals, l Latency) {
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s |\n", name, t.Requests, fmtPct(t.SuccessRate),
			fmtMS(l.P50), fmtMS(l.P95), fmtMS(l.P99), fmtPct(t.ErrorRate))
	}
	for _, n := range r.RequestNames() {
		rs := r.Requests[n]
		row(mdText(n), rs.Totals, rs.Latency)
	}
	row("**all**", r.Totals, r.Latency)
	if rows := r.correctedRows(); len(rows) > 0 {
		b.WriteString("\nLatency raw / from the intended send time (coordinated omission corrected, what thresholds use):\n\n")
		b.WriteString("| request | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|\n")
		for _, c := range rows {
			name := mdText(c.Name)
			if c.All {
				name = "**all**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", name, c.P50, c.P95, c.P99, c.Max)
		}
	}
}

// writeMarkdownErrors writes the error breakdown: status codes, transport
// errors, failure classes, the top error codes and retries.
func (r *Report) writeMarkdownErrors(b *strings.Builder) {
	t := r.Totals
	b.WriteString("\n**Errors**\n\n")
	fmt.Fprintf(b, "- Status codes: %s\n", mdCounts(t.StatusCodes, false))
	if len(t.Errors) > 0 {
		fmt.Fprintf(b, "- Transport errors: %s\n", mdCounts(t.Errors, false))
	}
	if t.Failures == 0 {
		b.WriteString("- No failed requests.\n")
	} else {
		var parts []string
		for _, c := range byCount(t.ErrorClasses, t.LogicalRequests) {
			if c.Count > 0 {
				parts = append(parts, fmt.Sprintf("%s %d (%s)", mdText(c.Name), c.Count, c.Share))
			}
		}
		fmt.Fprintf(b, "- Error classes: %s of %d requests\n", strings.Join(parts, ", "), t.LogicalRequests)
	}
	if len(t.ErrorCodes) > 0 {
		label := "Error codes"
		if len(t.ErrorCodes) > topCodes {
			label = fmt.Sprintf("Top %d error codes (of %d)", topCodes, len(t.ErrorCodes))
		}
		fmt.Fprintf(b, "- %s: %s\n", label, mdCounts(t.ErrorCodes, true))
	}
	if t.Retries > 0 {
		fmt.Fprintf(b, "- Retries: %d (%s HTTP requests per request)\n", t.Retries, strconv.FormatFloat(t.RetryAmplification, 'f', 3, 64))
	}
}

// mdCounts lists a count map: by key, or largest first and cut to the top
// few when top.
func mdCounts(m map[string]uint64, top bool) string {
	if len(m) == 0 {
		return "none"
	}
	var rows []countRow
	if top {
		rows = byCount(m, 0)
		if len(rows) > topCodes {
			rows = rows[:topCodes]
		}
	} else {
		for _, k := range sortedKeys(m) {
			rows = append(rows, countRow{Name: k, Count: m[k]})
		}
	}
	parts := make([]string, len(rows))
	for i, c := range rows {
		parts[i] = fmt.Sprintf("%s ×%d", mdText(c.Name), c.Count)
	}
	return strings.Join(parts, ", ")
}

func mdVerdict(v string) string {
	if v == "" {
		v = "unknown"
	}
	return "**" + mdText(strings.ToUpper(v)) + "**"
}

// mdEscaper backslash-escapes the characters that Markdown or GitHub's HTML
// would read as markup, so scenario names, URLs and error codes show as
// they are. A newline would end a table row, so it becomes a <br>, which
// GitHub renders inside table cells.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `|`, `\|`, `&`, `\&`, `~`, `\~`,
	"\r\n", "<br>", "\n", "<br>", "\r", "<br>",
)

func mdText(s string) string { return mdEscaper.Replace(s) }

// WriteMarkdown writes the comparison for a pull-request comment.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## loadgate compare: %s\n\n", mdVerdict(c.Verdict))
	fmt.Fprintf(&b, "Baseline `%s`, current `%s`. A regression is a change beyond its tolerance that a test finds significant at p < %g.\n\n",
		strings.ReplaceAll(c.Baseline, "`", ""), strings.ReplaceAll(c.Current, "`", ""), c.Alpha)
	b.WriteString("| request | metric | baseline | current | change | tolerance | p | verdict |\n|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, ch := range c.Changes {
		v := ch.Verdict
		if v == CmpRegression {
			v = "**regression**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdText(ch.Request), ch.Metric, cmpValue(ch.Metric, ch.Baseline),
			cmpValue(ch.Metric, ch.Current), cmpChange(ch), ch.Tolerance, pText(ch.PValue), v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the capacity table for a pull-request comment or a
// planning document.
func (c *Capacity) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## loadgate capacity: %s\n\n%s\n\n", mdText(c.Scenario.Name), mdText(c.Summary))
	fmt.Fprintf(&b, "SLOs: %s\n\n", mdText(strings.Join(c.SLOs, ", ")))
	b.WriteString("| step | target | sent | throughput | p50 | p95 | p99 | errors | verdict | broken SLOs |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, s := range c.StepsByRate() {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.N, fmtRate(s.TargetRPS), fmtRate(s.RateRPS), fmtRate(s.ThroughputRPS),
			fmtMS(s.Latency.P50), fmtMS(s.Latency.P95), fmtMS(s.Latency.P99), fmtPct(s.ErrorRate), s.Verdict, mdText(sloCell(s)))
	}
	if k := c.Knee; k != nil {
		fmt.Fprintf(&b, "\nKnee at %s (p95 %s).\n", fmtRate(k.TargetRPS), fmtMS(k.P95))
	}
	if m := c.TargetModel; m != nil {
		fmt.Fprintf(&b, "\nTarget: %s.\n", mdText(m.Text()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownObserved writes the target's observed series as a table.
func (r *Report) writeMarkdownObserved(b *strings.Builder) {
	if len(r.Observed) == 0 {
		return
	}
	b.WriteString("\n**Observed in the target**\n\n| series | min | mean | max | last | note |\n|---|---:|---:|---:|---:|---|\n")
	for _, name := range sortedKeys(r.Observed) {
		o := r.Observed[name]
		if len(o.Points) == 0 {
			fmt.Fprintf(b, "| %s | - | - | - | - | %s |\n", mdText(name), mdText(o.Warning))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", mdText(name), fmtObserved(o, o.Min), fmtObserved(o, o.Mean),
			fmtObserved(o, o.Max), fmtObserved(o, o.Last), mdText(o.Warning))
	}
}
