package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/threshold"
)

// runVerdict builds the report of 1000 requests of which the first fail
// failed with kind (a transport error) or status 500 (kind None), and the
// rest succeeded, gated on ths.
func runVerdict(t *testing.T, fail int, kind outcome.Kind, ths ...string) *Report {
	t.Helper()
	c := NewCollector([]string{"r"}, []string{"GET"}, []string{"/"}, nil, []StageInfo{{Name: "s", Open: true, Rate: 100, RampTo: 100, Planned: 10 * time.Second, PlannedHits: 1000}})
	at := time.Unix(1_700_000_000, 0)
	c.StageStarted(0, at)
	for i := range 1000 {
		tr := Try{Code: 200, Timestamp: at.Add(time.Duration(i) * 10 * time.Millisecond), Latency: time.Millisecond}
		l := Logical{Tries: 1, Code: 200}
		if i < fail {
			tr.Code, tr.Err, tr.Class = 0, kind, outcome.ClassOf(kind)
			if kind == outcome.None {
				tr.Code, tr.Class = 500, outcome.ClassProtocol
			}
			l.Code, l.Class = tr.Code, tr.Class
		}
		c.Record(0, 0, []Try{tr}, &l)
	}
	c.StageEnded(0, at.Add(10*time.Second), false)
	var exprs []threshold.Expr
	for _, s := range ths {
		e, err := threshold.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	return Build(Input{Collector: c, Thresholds: exprs})
}

// A verdict is honest: a run in which nothing succeeded never passes; more
// than 1% of tries failing on loadgate's side makes it inconclusive; a run
// with no thresholds says that nothing was gated.
func TestHonestVerdicts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		fail   int
		kind   outcome.Kind
		ths    []string
		want   string
		reason string
	}{
		{"healthy", 0, 0, []string{"p95 < 800ms"}, Pass, ""},
		{"nothing succeeded, no thresholds", 1000, 0, nil, Fail, "no request succeeded"},
		{"nothing succeeded, thresholds blind to it", 1000, outcome.Timeout, []string{"p95 < 800ms"}, Fail, "no request succeeded"},
		{"1% system errors", 10, outcome.System, nil, Pass, ""},
		{"1.1% system errors", 11, outcome.System, []string{"error_rate < 5%"}, Inconclusive, "1.1% of tries failed on loadgate's side"},
		{"aborted tries are not loadgate failing", 50, outcome.Aborted, nil, Pass, ""},
		{"a failed threshold", 20, 0, []string{"error_rate < 1%"}, Fail, ""},
	} {
		r := runVerdict(t, c.fail, c.kind, c.ths...)
		if r.Verdict != c.want || !strings.Contains(r.VerdictReason, c.reason) || (c.reason == "") != (r.VerdictReason == "") {
			t.Errorf("%s: verdict %s (%q), want %s (%q)", c.name, r.Verdict, r.VerdictReason, c.want, c.reason)
		}
		var b bytes.Buffer
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if gated := !strings.Contains(b.String(), "nothing was gated"); gated != (len(c.ths) > 0) {
			t.Errorf("%s: the summary says nothing was gated: %v, with %d thresholds", c.name, !gated, len(c.ths))
		}
		if c.reason != "" && !strings.Contains(b.String(), c.reason) {
			t.Errorf("%s: the summary does not say why:\n%s", c.name, b.String())
		}
	}
}
