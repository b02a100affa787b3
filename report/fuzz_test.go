package report

import (
	"bytes"
	"io"
	"testing"

	"github.com/loadgate/loadgate/internal/threshold"
)

// minimalSnapshot is the smallest stats.json ReadSnapshot accepts.
const minimalSnapshot = `{"schema_version":1,"scenario":{"name":"m"},"runs":1}`

// FuzzSnapshot checks that reading two stats.json files, merging them and
// building a report from the result never panics: each step either fails
// with an error or hands the next step something it can use.
func FuzzSnapshot(f *testing.F) {
	snap := func(c *Collector) []byte {
		s, err := c.Snapshot(Input{Scenario: ScenarioInfo{Name: "m"}, Thresholds: []threshold.Expr{{Source: "p95 < 400ms"}}}, 0)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := collector(t0), collector(t0)
	for i := range 40 {
		if i%2 == 0 {
			feed(a, i)
		} else {
			feed(b, i)
		}
	}
	f.Add(snap(a), snap(b))
	f.Add([]byte(minimalSnapshot), []byte(minimalSnapshot))
	f.Add([]byte(minimalSnapshot), snap(a))
	f.Add([]byte(`{"schema_version":1,"scenario":{"name":"m"},"requests":[{"name":"a","stats":{"status":{"-1":1,"700":2}}}]}`), []byte(minimalSnapshot))
	f.Add([]byte(`{"schema_version":2}`), []byte(`{`))

	f.Fuzz(func(t *testing.T, a, b []byte) {
		sa, errA := ReadSnapshot(bytes.NewReader(a))
		sb, errB := ReadSnapshot(bytes.NewReader(b))
		for _, s := range []*Snapshot{sa, sb} {
			if s != nil {
				build(t, s)
			}
		}
		if errA != nil || errB != nil {
			return
		}
		m, err := MergeSnapshots([]*Snapshot{sa, sb})
		if err != nil {
			return
		}
		if m == nil {
			t.Fatal("MergeSnapshots returned neither a snapshot nor an error")
		}
		build(t, m)
		_ = m.WriteJSON(io.Discard)
	})
}

// build builds the report of s, when s turns into an input.
func build(t *testing.T, s *Snapshot) {
	in, err := s.Input(nil)
	if err != nil {
		return
	}
	if Build(in) == nil {
		t.Fatal("Build returned no report")
	}
}

// FuzzSeries checks that reading a time series (timeseries.jsonl and
// latency.hlog), merging it and evaluating windowed thresholds on it never
// panics.
func FuzzSeries(f *testing.F) {
	f.Add([]byte(`{"t":1795522782000,"len_ms":1000,"request":"all","requests":3,"logical":3,"successes":2,"protocol":1,"s2xx":2,"s5xx":1,"mean_ms":40,"m2_ns2":1e14,"min_ms":30,"max_ms":50,"p50_ms":40,"p90_ms":50,"p95_ms":50,"p99_ms":50}`+"\n"),
		[]byte("#[Histogram log format version 1.3]\n"))
	f.Add([]byte("{}\n\n{\"t\":-1,\"len_ms\":-1}\n"), []byte(""))
	f.Add([]byte("not json\n"), []byte("Tag=all,1.0,1.0,1.0,HISTFAAAAA==\n"))

	exprs := []string{
		"error_rate > 1% in any 2s window",
		"p95 > 40ms in any 3s window",
		"2 consecutive intervals of mean > 1ms",
		"3 consecutive intervals of rate_5xx{request=list} > 0",
		"throughput < 1 in any 1s window",
	}
	var ths []threshold.Expr
	for _, s := range exprs {
		e, err := threshold.Parse(s)
		if err != nil {
			f.Fatal(err)
		}
		ths = append(ths, e)
	}

	f.Fuzz(func(t *testing.T, jsonl, hlog []byte) {
		s, err := ReadSeries(bytes.NewReader(jsonl), bytes.NewReader(hlog))
		if s == nil {
			t.Fatalf("ReadSeries returned no series (error %v)", err)
		}
		// The same lines without histograms, as a second run to merge.
		plain, _ := ReadSeries(bytes.NewReader(jsonl), nil)
		m := MergeSeries(s, plain, nil)
		for _, series := range []*Series{s, m} {
			for _, e := range ths {
				EvaluateWindowed(e, series)
			}
		}
	})
}
