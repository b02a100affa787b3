package run

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/reqlog"
	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/report"
)

// BenchmarkRecorderResult is everything loadgate does with one result on
// the consumer's side: checks, classes, figures, time series, the request
// log's sampling and the raw results file.
func BenchmarkRecorderResult(b *testing.B) {
	sc, err := scenario.Parse(strings.NewReader(`name: bench
target: {base_url: "http://127.0.0.1:1"}
requests:
  - name: ok
    path: /ok
    expect: {status: [200], json: [{path: code, equals: 0}]}
stages: [{duration: 1h, concurrency: 50}]
`), "bench.yaml", nil)
	if err != nil {
		b.Fatal(err)
	}
	pr := prepare(&Env{}, sc, "http://127.0.0.1:1", Sharding{Count: 1})
	w, err := results.NewWriter(io.Discard, results.Header{Requests: []results.Request{{Name: "ok", Method: "GET", URL: "http://127.0.0.1:1/ok"}}})
	if err != nil {
		b.Fatal(err)
	}
	var rec results.Result
	raw := func(req int, _ string, tries []report.Try, _ []string) error {
		for _, t := range tries {
			rec = results.Result{Request: req, Timestamp: t.Timestamp, Latency: t.Latency, Code: uint16(t.Code), BytesIn: t.BytesIn}
			if err := w.Write(&rec); err != nil {
				return err
			}
		}
		return nil
	}
	rr := newRecorder(pr, raw, reqlog.New(io.Discard, 1<<30, nil))
	rr.tl = report.NewTimeline(time.Second, rr.col.Names, nil, io.Discard, io.Discard)
	rr.StageStart(0, attack.Stage{}, time.Now())
	body := []byte(`{"code":0}`)
	hdr := http.Header{"Content-Length": {"10"}, "Content-Type": {"application/json"}}
	t := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := vegeta.Result{Attack: "ok", Code: 200, Timestamp: t.Add(time.Duration(i) * 20 * time.Microsecond),
			Latency: 600 * time.Microsecond, BytesIn: 10, Body: body, Headers: hdr, URL: "http://127.0.0.1:1/ok", Method: "GET"}
		if err := rr.Result(0, 0, &res, &attack.Extra{Hit: uint64(i + 1)}); err != nil {
			b.Fatal(err)
		}
	}
}
