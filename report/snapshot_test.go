package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/threshold"
)

func collector(stageStart time.Time) *Collector {
	c := NewCollector([]string{"list", "create"}, []string{"GET", "POST"}, []string{"/l", "/c"},
		[][]string{nil, {"id is 18 digits"}},
		[]StageInfo{{Name: "s", Open: true, Rate: 100, RampTo: 100, Planned: 10 * time.Second, PlannedHits: 1000}})
	c.StageStarted(0, stageStart)
	return c
}

func feed(c *Collector, i int) {
	at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
	lat := time.Duration(1+(i*7919)%500) * time.Millisecond
	code := []int{200, 201, 503, 200, 409}[i%5]
	class := []outcome.Class{outcome.ClassOK, outcome.ClassOK, outcome.ClassProtocol, outcome.ClassBusiness, outcome.ClassProtocol}[i%5]
	l := &Logical{Class: class, Tries: 1, Code: code, Checked: class == outcome.ClassOK || class == outcome.ClassBusiness,
		ErrorCode: map[int]string{503: "500301", 409: "400101"}[code]}
	req := i % 2
	if class == outcome.ClassBusiness && req == 1 {
		l.Failed = []int{0}
	}
	tries := []Try{{Code: code, Timestamp: at, Latency: lat, BytesIn: 100, Group: []string{"db-01", "db-03"}[i%2], Class: class}}
	if i%10 == 7 { // a retried request
		tries = append([]Try{{Code: 503, Timestamp: at.Add(-time.Second), Latency: 5 * time.Millisecond, Class: outcome.ClassProtocol}}, tries...)
		l.Tries, l.RetryCauses, l.E2E = 2, []string{"503"}, lat+time.Second
	}
	c.Record(0, req, tries, l)
}

// TestMergeHalvesEqualsWhole splits 1000 requests between two shards,
// snapshots each, merges the snapshots and compares the report with the
// one of all requests in one run: counts exact, percentiles within the
// histogram's precision.
func TestMergeHalvesEqualsWhole(t *testing.T) {
	t.Parallel()
	whole, a, b := collector(t0), collector(t0), collector(t0.Add(3*time.Millisecond))
	for i := range 1000 {
		feed(whole, i)
		if i%2 == 0 {
			feed(a, i)
		} else {
			feed(b, i)
		}
	}
	end := t0.Add(10 * time.Second)
	for _, c := range []*Collector{whole, a, b} {
		c.StageEnded(0, end, false)
	}
	ths := []threshold.Expr{mustParse(t, "p95 < 400ms"), mustParse(t, "error_rate < 50%"), mustParse(t, "error_code{code=500301} < 10%")}
	in := Input{Scenario: ScenarioInfo{Name: "m"}, Thresholds: ths}
	snap := func(c *Collector) *Snapshot {
		in.Collector = c
		s, err := c.Snapshot(in, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Through JSON, as a run folder stores it.
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadSnapshot(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	sa, sb := snap(a), snap(b)
	sa.Stages[0].Rate, sb.Stages[0].Rate = 50, 50 // each shard ran half the rate
	sa.Stages[0].PlannedHits, sb.Stages[0].PlannedHits = 500, 500
	merged, err := MergeSnapshots([]*Snapshot{sa, sb})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := merged.Input(nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Collector = whole
	w, m := Build(in), Build(mi)
	wt, mt := w.Totals, m.Totals
	if wt.Requests != mt.Requests || wt.LogicalRequests != mt.LogicalRequests || wt.Successes != mt.Successes ||
		wt.Retries != mt.Retries || wt.BytesIn != mt.BytesIn || !sameMap(wt.StatusCodes, mt.StatusCodes) ||
		!sameMap(wt.ErrorCodes, mt.ErrorCodes) || !sameMap(wt.ErrorClasses, mt.ErrorClasses) || !sameMap(wt.RetryCauses, mt.RetryCauses) ||
		wt.Groups["db-03"].Errors != mt.Groups["db-03"].Errors {
		t.Errorf("counts differ:\nmerged %+v\nwhole  %+v", mt, wt)
	}
	if wt.ErrorRate != mt.ErrorRate || wt.Rate5xx != mt.Rate5xx || math.Abs(wt.RateRPS-mt.RateRPS) > 1e-9 {
		t.Errorf("rates differ: %v/%v %v/%v %v/%v", mt.ErrorRate, wt.ErrorRate, mt.Rate5xx, wt.Rate5xx, mt.RateRPS, wt.RateRPS)
	}
	if *mt.TargetRateRPS != 100 {
		t.Errorf("merged target rate %v, want the two halves' 100/s", *mt.TargetRateRPS)
	}
	within := func(name string, got, want float64) {
		if math.Abs(got-want) > want*0.001+0.001 {
			t.Errorf("%s: merged %v, whole %v", name, got, want)
		}
	}
	wl, ml := w.Latency, m.Latency
	within("p50", ml.P50, wl.P50)
	within("p95", ml.P95, wl.P95)
	within("p99", ml.P99, wl.P99)
	within("mean", ml.Mean, wl.Mean)
	within("stddev", ml.StdDev, wl.StdDev)
	if ml.Min != wl.Min || ml.Max != wl.Max {
		t.Errorf("min/max differ")
	}
	if m.E2ELatency == nil || math.Abs(m.E2ELatency.P99-w.E2ELatency.P99) > 1 {
		t.Errorf("end-to-end latency: %+v vs %+v", m.E2ELatency, w.E2ELatency)
	}
	if mc, wc := m.Requests["create"].Checks[0], w.Requests["create"].Checks[0]; mc != wc {
		t.Errorf("checks: %+v vs %+v", mc, wc)
	}
	for i := range w.Thresholds {
		if w.Thresholds[i].Pass != m.Thresholds[i].Pass || math.Abs(w.Thresholds[i].Actual-m.Thresholds[i].Actual) > 0.5 {
			t.Errorf("threshold %s: merged %v, whole %v", w.Thresholds[i].Expr, m.Thresholds[i].Actual, w.Thresholds[i].Actual)
		}
	}
	if !strings.Contains(strings.Join(m.Notes, ";"), "merged from 2 runs") {
		t.Errorf("notes %v", m.Notes)
	}
	if _, err := MergeSnapshots([]*Snapshot{sa, {Scenario: ScenarioInfo{Name: "other"}}}); err == nil {
		t.Error("merged runs of different scenarios")
	}
}

func mustParse(t *testing.T, s string) threshold.Expr {
	t.Helper()
	e, err := threshold.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sameMap(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestJUnit(t *testing.T) {
	t.Parallel()
	r := &Report{Scenario: ScenarioInfo{Name: "normal", Target: "http://x"}, Verdict: Fail, DurationS: 30,
		Thresholds: []ThresholdResult{
			{Expr: "p95 < 800ms", Op: "<", Pass: true, ActualText: "120ms", LimitText: "800ms"},
			{Expr: "error_rate < 0.5%", Op: "<", Pass: false, ActualText: "1.2%", LimitText: "0.5%", Detail: "<worst> & co"},
		}}
	r2 := &Report{Scenario: ScenarioInfo{Name: "abnormal"}, Verdict: Interrupted}
	var b bytes.Buffer
	if err := WriteJUnit(&b, []*Report{r, r2}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`<testsuites name="loadgate" tests="3" failures="1" errors="1"`,
		`<testsuite name="normal" tests="2" failures="1" errors="0" time="30.000"`,
		`<testcase name="p95 &lt; 800ms" classname="loadgate.normal" time="0"></testcase>`,
		`<failure message="error_rate &lt; 0.5%: actual 1.2% against limit &lt; 0.5%" type="threshold">`,
		`&lt;worst&gt; &amp; co`,
		`<error message="the run was interrupted before its end" type="interrupted">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("junit lacks %s\n%s", want, out)
		}
	}
}
