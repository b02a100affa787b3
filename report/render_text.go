package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/loadgate/loadgate/internal/metric"
	"github.com/loadgate/loadgate/internal/threshold"
)

func fmtMS(v float64) string { return threshold.FormatValue(threshold.Duration, v) }

func fmtPct(v float64) string { return threshold.FormatValue(threshold.Ratio, v) }

func fmtRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// WriteText writes the terminal summary: per-request figures, status codes,
// errors, thresholds and the verdict.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	r.writeTextHead(b)
	r.writeTextRequests(b)
	r.writeTextOutcomes(b)
	r.writeTextRun(b)
	r.writeTextObserved(b)
	r.writeTextVerdict(b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTextObserved writes a line per observed series of the target and
// one per scrape endpoint that failed.
func (r *Report) writeTextObserved(b *strings.Builder) {
	for _, name := range sortedKeys(r.Observed) {
		o := r.Observed[name]
		if len(o.Points) == 0 {
			fmt.Fprintf(b, "observed  %s: no values (%s)\n", name, o.Warning)
			continue
		}
		fmt.Fprintf(b, "observed  %s: min %s mean %s max %s last %s%s\n", name, fmtObserved(o, o.Min), fmtObserved(o, o.Mean),
			fmtObserved(o, o.Max), fmtObserved(o, o.Last), map[bool]string{true: " (" + o.Warning + ")"}[o.Warning != ""])
	}
	for _, name := range sortedKeys(r.Scrapes) {
		if st := r.Scrapes[name]; st.Errors > 0 {
			fmt.Fprintf(b, "scrapes   %s: %d of %d failed, the last: %s\n", name, st.Errors, st.Scrapes, st.LastError)
		}
	}
}

// fmtObserved writes a value of an observed series in its unit.
func fmtObserved(o *Observed, v float64) string {
	switch o.Unit {
	case "seconds":
		return fmtMS(v * 1000)
	case "ratio":
		return fmtPct(v)
	}
	return threshold.FormatValue(threshold.Gauge, v)
}

// writeTextHead writes the scenario, target, start and stages, then a
// blank line.
func (r *Report) writeTextHead(b *strings.Builder) {
	fmt.Fprintf(b, "scenario  %s (%s)\n", r.Scenario.Name, r.Scenario.File)
	fmt.Fprintf(b, "target    %s [%s]\n", r.Scenario.Target, r.Scenario.Environment)
	fmt.Fprintf(b, "started   %s, ran %.1fs\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), r.DurationS)
	if len(r.Stages) > 0 {
		parts := make([]string, 0, len(r.Stages))
		for _, s := range r.Stages {
			parts = append(parts, s.describe())
		}
		fmt.Fprintf(b, "stages    %s\n", strings.Join(parts, ", "))
	}
	b.WriteString("\n")
}

// writeTextRequests writes the table of figures per request and for all,
// then the corrected latency table when there is one.
func (r *Report) writeTextRequests(b *strings.Builder) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "request\trequests\trate\tthroughput\tsuccess\t4xx\t5xx\tmean\tstddev\tp50\tp95\tp99\tmax\t")
	row := func(name string, t Totals, l Latency) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			name, t.Requests, fmtRate(t.RateRPS), fmtRate(t.ThroughputRPS), fmtPct(t.SuccessRate),
			fmtPct(t.Rate4xx), fmtPct(t.Rate5xx), fmtMS(l.Mean), fmtMS(l.StdDev),
			fmtMS(l.P50), fmtMS(l.P95), fmtMS(l.P99), fmtMS(l.Max))
	}
	for _, n := range r.RequestNames() {
		rs := r.Requests[n]
		row(n, rs.Totals, rs.Latency)
	}
	row("all", r.Totals, r.Latency)
	tw.Flush()
	if rows := r.correctedRows(); len(rows) > 0 {
		b.WriteString("\nlatency raw / from the intended send time (coordinated omission corrected; thresholds use it)\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "request\tp50\tp95\tp99\tmax\t")
		for _, c := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Name, c.P50, c.P95, c.P99, c.Max)
		}
		tw.Flush()
	}
}

// writeTextOutcomes writes how the requests ended: status codes, errors,
// failure classes, retries, failed checks, groups and bytes.
func (r *Report) writeTextOutcomes(b *strings.Builder) {
	t := r.Totals
	b.WriteString("\nstatus    " + codes(t.StatusCodes))
	if len(t.Errors) > 0 {
		b.WriteString("\nnetwork   " + codes(t.Errors))
	}
	if t.Failures > 0 {
		r.writeTextClasses(b)
	}
	if len(t.ErrorCodes) > 0 {
		b.WriteString("\ncodes     " + codes(t.ErrorCodes))
	}
	if t.Retries > 0 {
		fmt.Fprintf(b, "\nretries   %d (%.3f HTTP requests per request; %d requests retried, %d succeeded after a retry; by cause %s)",
			t.Retries, t.RetryAmplification, t.RetriedRequests, t.SucceededAfter, codes(t.RetryCauses))
	}
	for _, n := range r.RequestNames() {
		for _, c := range r.Requests[n].Checks {
			if c.Failed > 0 {
				fmt.Fprintf(b, "\ncheck     %s: %q failed %d of %d (%s)", n, c.Name, c.Failed, c.Checked, fmtPct(c.FailureRate))
			}
		}
	}
	if len(t.Groups) > 0 {
		names := make([]string, 0, len(t.Groups))
		for g := range t.Groups {
			names = append(names, g)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, g := range names {
			parts[i] = fmt.Sprintf("%s %d/%d", g, t.Groups[g].Errors, t.Groups[g].Requests)
		}
		b.WriteString("\ngroups    errors by group: " + strings.Join(parts, ", "))
	}
	fmt.Fprintf(b, "\nbytes     in %d, out %d\n", t.BytesIn, t.BytesOut)
}

// writeTextClasses writes the share of each failure class, for all and,
// when there are several requests, for each that failed.
func (r *Report) writeTextClasses(b *strings.Builder) {
	classes := func(t Totals) string {
		return fmt.Sprintf("network %s, protocol %s, business %s, system %s (of %d requests)",
			fmtPct(t.NetworkRate), fmtPct(t.ProtocolRate), fmtPct(t.BusinessRate), fmtPct(t.SystemRate), t.LogicalRequests)
	}
	b.WriteString("\nclasses   " + classes(r.Totals))
	if names := r.RequestNames(); len(names) > 1 {
		for _, n := range names {
			if rt := r.Requests[n].Totals; rt.Failures > 0 {
				fmt.Fprintf(b, "\n  %s: %s", n, classes(rt))
			}
		}
	}
}

// writeTextRun writes what else is known of the run: connection phases,
// the generator, auth, the request log, a stop, faults and notes.
func (r *Report) writeTextRun(b *strings.Builder) {
	if p := r.Phases; p != nil {
		part := func(name string, l *Latency) string {
			if l == nil {
				return ""
			}
			return fmt.Sprintf(", %s p50 %s p95 %s", name, fmtMS(l.P50), fmtMS(l.P95))
		}
		fmt.Fprintf(b, "phases    %d new connections, %s reused%s%s%s%s\n", p.NewConnections, fmtPct(p.ReuseRate),
			part("dns", p.DNS), part("connect", p.Connect), part("tls", p.TLS), part("ttfb", p.TTFB))
	}
	if g := r.Generator; g != nil {
		fmt.Fprintf(b, "generator %s\n", g.Summary())
		switch {
		case g.Saturated:
			fmt.Fprintf(b, "INCONCLUSIVE %s\n", g.Reason)
		case g.Reason != "":
			fmt.Fprintf(b, "note      %s\n", g.Reason)
		}
	}
	if a := r.Auth; a != nil {
		fmt.Fprintf(b, "auth      %s: %d token requests (%d failed, %d forced by a 401), mean %s, apart from the figures above\n",
			a.Type, a.TokenRequests, a.TokenFailures, a.ForcedRefreshes, fmtMS(a.MeanMS))
	}
	if l := r.RequestLog; l != nil && l.Dropped > 0 {
		fmt.Fprintf(b, "log       %s reached its cap: %d lines written, %d left out\n", l.File, l.Lines, l.Dropped)
	}
	if r.Stopped != "" {
		fmt.Fprintf(b, "stopped   %s\n", r.Stopped)
	}
	for _, f := range r.Faults {
		window := "the whole run"
		if f.FromS > 0 || f.ToS > 0 {
			window = fmt.Sprintf("from %gs", f.FromS)
			if f.ToS > 0 {
				window += fmt.Sprintf(" to %gs", f.ToS)
			}
		}
		fmt.Fprintf(b, "fault     %s, %s\n", f.Description, window)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "note      %s\n", n)
	}
}

// writeTextVerdict writes the thresholds with their results, or says there
// were none, then the verdict.
func (r *Report) writeTextVerdict(b *strings.Builder) {
	if len(r.Thresholds) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "threshold\tactual\tresult\t")
		for _, t := range r.Thresholds {
			res := "pass"
			if !t.Pass {
				res = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", t.Expr, t.ActualText, res)
		}
		tw.Flush()
	}
	if len(r.Thresholds) == 0 {
		b.WriteString("\nthresholds none: nothing was gated; the verdict only says that requests succeeded\n")
	}
	fmt.Fprintf(b, "\nverdict   %s", strings.ToUpper(r.Verdict))
	if r.VerdictReason != "" {
		fmt.Fprintf(b, " (%s)", r.VerdictReason)
	}
	b.WriteString("\n")
}

func (s StageSummary) describe() string {
	var load string
	switch {
	case s.Model == "closed":
		load = fmt.Sprintf("%d workers", s.Concurrency)
	case s.RampTo != s.Rate:
		load = fmt.Sprintf("%s→%s", fmtRate(s.Rate), fmtRate(s.RampTo))
	default:
		load = fmtRate(s.Rate)
	}
	out := fmt.Sprintf("%s %gs at %s", s.Name, s.DurationS, load)
	if s.Interrupted {
		out += " (interrupted)"
	}
	return out
}

func codes(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, "  ")
}

// correctedRow is one request's latency percentiles, raw and from the
// intended send time, as "raw / corrected".
type correctedRow struct {
	Name, P50, P95, P99, Max string
	All                      bool
}

// correctedRows lists, per request and for all, raw and corrected latency
// side by side; none when no open-model stage ran.
func (r *Report) correctedRows() []correctedRow {
	if r.CorrectedLatency == nil {
		return nil
	}
	pair := func(raw, c float64) string { return fmtMS(raw) + " / " + fmtMS(c) }
	row := func(name string, all bool, l Latency, c *Latency) correctedRow {
		if c == nil {
			c = &Latency{}
		}
		return correctedRow{Name: name, All: all, P50: pair(l.P50, c.P50), P95: pair(l.P95, c.P95), P99: pair(l.P99, c.P99), Max: pair(l.Max, c.Max)}
	}
	var out []correctedRow
	for _, n := range r.RequestNames() {
		if rs := r.Requests[n]; rs.CorrectedLatency != nil {
			out = append(out, row(n, false, rs.Latency, rs.CorrectedLatency))
		}
	}
	return append(out, row("all", true, r.Latency, r.CorrectedLatency))
}

// WriteText writes the comparison as a table.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "baseline  %s\ncurrent   %s\n\n", c.Baseline, c.Current)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "request\tmetric\tbaseline\tcurrent\tchange\ttolerance\tp\tverdict\t")
	for _, ch := range c.Changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ch.Request, ch.Metric, cmpValue(ch.Metric, ch.Baseline),
			cmpValue(ch.Metric, ch.Current), cmpChange(ch), ch.Tolerance, pText(ch.PValue), strings.ToUpper(ch.Verdict))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nverdict   %s (regressions must be beyond their tolerance and significant at p < %g)\n", strings.ToUpper(c.Verdict), c.Alpha)
	_, err := io.WriteString(w, b.String())
	return err
}

func pText(p float64) string {
	if p < 0 {
		return "-"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

func cmpValue(name string, v float64) string {
	name, _, _ = strings.Cut(name, "{")
	d, _ := metric.Lookup(name)
	if d.Kind == metric.PerSecond {
		return fmtRate(v)
	}
	return threshold.FormatValue(d.Kind, v)
}

func cmpChange(ch Change) string {
	if ch.Verdict == CmpMissing {
		return "-"
	}
	if d, _ := metric.Lookup(ch.Metric); d.Kind == metric.Ratio {
		return fmt.Sprintf("%+.3fpp", ch.Delta*100)
	}
	return fmt.Sprintf("%+.1f%%", ch.Relative*100)
}

func sloCell(s CapacityStep) string {
	var failed []string
	for _, t := range s.SLOs {
		if !t.Pass {
			failed = append(failed, t.Expr+" ("+t.ActualText+")")
		}
	}
	return strings.Join(failed, "; ")
}

// WriteText writes the capacity table and the result.
func (c *Capacity) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario  %s against %s\nslos      %s\n\n", c.Scenario.Name, c.Scenario.Target, strings.Join(c.SLOs, ", "))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\ttarget\tsent\tthroughput\tp50\tp95\tp99\terrors\tcpu\tverdict\t")
	for _, s := range c.Steps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.N, fmtRate(s.TargetRPS), fmtRate(s.RateRPS), fmtRate(s.ThroughputRPS),
			fmtMS(s.Latency.P50), fmtMS(s.Latency.P95), fmtMS(s.Latency.P99), fmtPct(s.ErrorRate), fmtPct(s.GeneratorCPU), strings.ToUpper(s.Verdict))
	}
	tw.Flush()
	b.WriteString("\n")
	if len(c.LimitedBy) > 0 {
		fmt.Fprintf(&b, "limit     %s\n", strings.Join(c.LimitedBy, "; "))
	}
	if k := c.Knee; k != nil {
		fmt.Fprintf(&b, "knee      %s (step %d, p95 %s): latency climbs faster past it\n", fmtRate(k.TargetRPS), k.Step, fmtMS(k.P95))
	}
	if m := c.TargetModel; m != nil {
		fmt.Fprintf(&b, "target    %s\n", m.Text())
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "note      %s\n", n)
	}
	fmt.Fprintf(&b, "result    %s\n", c.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// Text describes the model and its capacity in one line.
func (m *TargetModel) Text() string {
	if m.CapacityRPS > 0 {
		return m.Description + ": a capacity of " + fmtRate(m.CapacityRPS) + " by its model"
	}
	return m.Description
}
