package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/loadgate/loadgate/internal/threshold"
)

func fmtMS(v float64) string { return threshold.FormatValue(threshold.Duration, v) }

func fmtPct(v float64) string { return threshold.FormatValue(threshold.Ratio, v) }

func fmtRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// WriteText writes the terminal summary: per-request figures, status codes,
// errors, thresholds and the verdict.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
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

	b.WriteString("\nstatus    " + codes(r.Totals.StatusCodes))
	if len(r.Totals.Errors) > 0 {
		b.WriteString("\nerrors    " + codes(r.Totals.Errors))
	}
	fmt.Fprintf(b, "\nbytes     in %d, out %d\n", r.Totals.BytesIn, r.Totals.BytesOut)

	if len(r.Thresholds) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
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
	fmt.Fprintf(b, "\nverdict   %s\n", strings.ToUpper(r.Verdict))
	_, err := io.WriteString(w, b.String())
	return err
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
