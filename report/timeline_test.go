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

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

type event struct {
	req   int
	at    time.Duration // completion, from t0
	lat   time.Duration
	code  int
	class outcome.Class
}

// record feeds events through a Timeline and reads the series back.
func recordEvents(t *testing.T, names []string, target func(time.Time) float64, evs []event) *Series {
	t.Helper()
	var js, hl bytes.Buffer
	tl := NewTimeline(time.Second, names, target, &js, &hl)
	for _, e := range evs {
		end := t0.Add(e.at)
		tries := []Try{{Code: e.code, Timestamp: end.Add(-e.lat), Latency: e.lat}}
		tl.Record(e.req, end, tries, &Logical{Class: e.class, Tries: 1, Code: e.code})
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSeries(&js, &hl)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	return s
}

func TestTimelineBuckets(t *testing.T) {
	t.Parallel()
	var evs []event
	// Second 0: 10 fast OKs; second 1: a late one for second 0 and 5 500s;
	// seconds 2 to 4: nothing (an outage); second 5: 4 slow OKs.
	for i := range 10 {
		evs = append(evs, event{req: i % 2, at: time.Duration(i) * 90 * time.Millisecond, lat: 10 * time.Millisecond, code: 200})
	}
	for i := range 5 {
		evs = append(evs, event{req: 1, at: 1100*time.Millisecond + time.Duration(i)*time.Millisecond, lat: 20 * time.Millisecond, code: 500, class: outcome.ClassProtocol})
	}
	evs = append(evs, event{req: 0, at: 950 * time.Millisecond, lat: 10 * time.Millisecond, code: 200}) // late, still open
	for i := range 4 {
		evs = append(evs, event{req: 0, at: 5*time.Second + time.Duration(i)*time.Millisecond, lat: 300 * time.Millisecond, code: 200})
	}
	s := recordEvents(t, []string{"a", "b"}, func(time.Time) float64 { return 7 }, evs)
	all := s.All()
	if len(all) != 6 {
		t.Fatalf("%d intervals, want 6 (0 to 5, with the outage written empty)", len(all))
	}
	want := []uint64{11, 5, 0, 0, 0, 4}
	for i, r := range all {
		if r.Requests != want[i] || !r.Time().Equal(t0.Add(time.Duration(i)*time.Second)) || r.TargetRate != 7 {
			t.Errorf("interval %d: %d requests at %v target %v, want %d at %v", i, r.Requests, r.Time(), r.TargetRate, want[i], t0.Add(time.Duration(i)*time.Second))
		}
	}
	if all[1].Protocol != 5 || all[1].S5xx != 5 || all[1].Successes != 0 {
		t.Errorf("second 1: %+v", all[1])
	}
	if math.Abs(all[5].P50MS-300) > 3 || math.Abs(all[5].MeanMS-300) > 0.01 || all[0].Hist().TotalCount() != 11 {
		t.Errorf("latency: p50 %v mean %v count %d", all[5].P50MS, all[5].MeanMS, all[0].Hist().TotalCount())
	}
	if len(s.ByRequest["a"]) != 2 || len(s.ByRequest["b"]) != 2 || s.ByRequest["b"][1].Requests != 5 {
		t.Errorf("per request: a %d intervals, b %d", len(s.ByRequest["a"]), len(s.ByRequest["b"]))
	}
}

// TestAdvanceClosesEndedIntervals: an interval is handed on LateResults
// after its end, with no later result needed; a result for it that comes
// after that counts in the next interval, and no interval is written twice.
func TestAdvanceClosesEndedIntervals(t *testing.T) {
	t.Parallel()
	var js, hl bytes.Buffer
	tl := NewTimeline(time.Second, []string{"a"}, nil, &js, &hl)
	var got []int64 // requests of each interval handed on, in order
	tl.OnInterval = func(r *IntervalRecord) { got = append(got, int64(r.Requests)) }
	rec := func(at time.Duration) {
		end := t0.Add(at)
		tl.Record(0, end, []Try{{Code: 200, Timestamp: end.Add(-time.Millisecond), Latency: time.Millisecond}}, &Logical{Tries: 1, Code: 200})
	}
	for i := range 3 {
		rec(time.Duration(i) * 300 * time.Millisecond)
	}
	tl.Advance(t0.Add(time.Second + LateResults - time.Millisecond))
	if len(got) != 0 {
		t.Fatalf("interval 0 handed on %v after its end, want it open for late results", LateResults-time.Millisecond)
	}
	rec(990 * time.Millisecond) // late, still counted in interval 0
	tl.Advance(t0.Add(time.Second + LateResults))
	if len(got) != 1 || got[0] != 4 {
		t.Fatalf("after %v: intervals %v, want [4]", LateResults, got)
	}
	rec(995 * time.Millisecond) // too late: counts in interval 1
	rec(1500 * time.Millisecond)
	tl.Advance(t0.Add(3*time.Second + LateResults)) // interval 2 is empty
	if len(got) != 3 || got[1] != 2 || got[2] != 0 {
		t.Fatalf("intervals %v, want [4 2 0]", got)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSeries(&js, &hl)
	if err != nil {
		t.Fatal(err)
	}
	all := s.All()
	if len(all) != 3 || all[0].Requests != 4 || all[1].Requests != 2 || all[2].Requests != 0 {
		t.Errorf("written: %d intervals %+v", len(all), all)
	}
}

func TestMergeSeriesEqualsWhole(t *testing.T) {
	t.Parallel()
	var evs []event
	for i := range 3000 {
		evs = append(evs, event{req: i % 3, at: time.Duration(i) * 3 * time.Millisecond, lat: time.Duration(1+i%97) * time.Millisecond, code: []int{200, 200, 503}[i%3]})
	}
	names := []string{"x", "y", "z"}
	whole := recordEvents(t, names, nil, evs)
	var a, b []event
	for i, e := range evs {
		if i%2 == 0 {
			a = append(a, e)
		} else {
			b = append(b, e)
		}
	}
	merged := MergeSeries(recordEvents(t, names, nil, a), recordEvents(t, names, nil, b))
	for _, name := range append(names, AllRequests) {
		w, m := whole.ByRequest[name], merged.ByRequest[name]
		if len(w) != len(m) {
			t.Fatalf("%s: %d intervals merged, %d whole", name, len(m), len(w))
		}
		for i := range w {
			if w[i].Requests != m[i].Requests || w[i].S5xx != m[i].S5xx || !w[i].Hist().Equals(m[i].Hist()) ||
				math.Abs(w[i].MeanMS-m[i].MeanMS) > 1e-6 || math.Abs(w[i].StdDevMS()-m[i].StdDevMS()) > 1e-6 || w[i].P99MS != m[i].P99MS {
				t.Errorf("%s interval %d: merged %+v, whole %+v", name, i, m[i], w[i])
			}
		}
	}
	// Written out and read back, the merge is the same.
	var js, hl bytes.Buffer
	if err := WriteSeries(merged, &js, &hl); err != nil {
		t.Fatal(err)
	}
	again, err := ReadSeries(&js, &hl)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.All()) != len(merged.All()) || !again.All()[1].Hist().Equals(merged.All()[1].Hist()) {
		t.Error("a written merge does not read back the same")
	}
}

func TestReadSeriesDamaged(t *testing.T) {
	t.Parallel()
	in := `{"t":1764000000000,"len_ms":1000,"request":"all","requests":5}
{"t":1764000001000,"len_ms":1000,"request":"all","requests":7}
{"t":1764000002000,"len_ms":10`
	s, err := ReadSeries(strings.NewReader(in), nil)
	if err == nil || !strings.Contains(err.Error(), "timeseries.jsonl:3") {
		t.Errorf("err = %v, want one naming line 3", err)
	}
	if len(s.All()) != 2 || s.All()[1].Requests != 7 {
		t.Errorf("read %d intervals before the damage", len(s.All()))
	}
}

func windowed(t *testing.T, src string, s *Series) ThresholdResult {
	t.Helper()
	e, err := threshold.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Windowed() {
		t.Fatalf("%q is not windowed", src)
	}
	return EvaluateWindowed(e, s)
}

func TestWindowedThresholds(t *testing.T) {
	t.Parallel()
	// 600 seconds at 100 requests a second; errors at 3% during seconds
	// 300 to 359 (one minute), 0.5% elsewhere; mean 900 ms during seconds
	// 100 to 102 and 200 to 201, 50 ms elsewhere.
	var evs []event
	for sec := range 600 {
		for i := range 100 {
			e := event{req: 0, at: time.Duration(sec)*time.Second + time.Duration(i)*9*time.Millisecond, lat: 50 * time.Millisecond, code: 200}
			bad := i < 1 && sec%2 == 0 // 0.5%
			if sec >= 300 && sec < 360 {
				bad = i < 3
			}
			if bad {
				e.code, e.class = 503, outcome.ClassProtocol
			}
			if sec >= 100 && sec <= 102 || sec >= 200 && sec <= 201 {
				e.lat = 900 * time.Millisecond
			}
			evs = append(evs, e)
		}
	}
	s := recordEvents(t, []string{"only"}, nil, evs)
	tests := []struct {
		src    string
		pass   bool
		detail string
	}{
		// Over 5 minutes the burst averages out to 1% at worst ...
		{"error_rate > 0.9% in any 5m window", false, "first window where it happened"},
		{"error_rate > 1% in any 5m window", true, "worst window: 10:01:00 to 10:06:00"},
		// ... over one minute it shows: the first window with more than
		// 49 s of it starts at 10:04:49.
		{"error_rate > 2.5% in any 1m window", false, "first window where it happened: 10:04:49 to 10:05:49"},
		{"error_rate{request=only} > 5% in any 1m window", true, ""},
		{"3 consecutive intervals of mean > 800ms", false, "from 10:01:40 to 10:01:43"},
		{"4 consecutive intervals of mean > 800ms", true, "longest streak 3"},
		{"2 consecutive samples of p99 > 800ms", false, ""},
		{"p95 > 1s in any 30s window", true, ""},
	}
	for _, tc := range tests {
		r := windowed(t, tc.src, s)
		if r.Pass != tc.pass || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%q: pass %v (actual %s), detail %q; want pass %v, detail with %q", tc.src, r.Pass, r.ActualText, r.Detail, tc.pass, tc.detail)
		}
	}
	// Over 5 minutes the worst window holds the whole burst: 60 s at 3% and
	// 240 s at 0.5% is 1%.
	r := windowed(t, "error_rate > 1.1% in any 5m window", s)
	if !r.Pass || math.Abs(r.Actual-0.01) > 0.0006 {
		t.Errorf("worst 5m window error rate %v, want 1%%", r.Actual)
	}
	// A run shorter than the window is one window.
	short := recordEvents(t, []string{"only"}, nil, evs[:1000])
	if r := windowed(t, "error_rate > 0.1% in any 5m window", short); r.Pass {
		t.Errorf("short run: %+v", r)
	}
}
