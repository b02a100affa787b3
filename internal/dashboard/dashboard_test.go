package dashboard

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/loadgate/loadgate/report"
)

// scrape reads the server's /metrics with Prometheus' own parser.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// Intervals of known latencies and outcomes give the counters and the
// histogram's buckets that they must.
func TestMetricsCountIntervals(t *testing.T) {
	t.Parallel()
	s, err := Listen("127.0.0.1:0", "unit", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, us := range []int64{4_000, 20_000, 300_000} { // 4 ms, 20 ms, 300 ms
		_ = h.RecordValue(us)
	}
	rec := &report.IntervalRecord{Request: "list", Requests: 3, Logical: 3, Successes: 2, Protocol: 1, S2xx: 2, S5xx: 1, MeanMS: 108}
	rec.SetHist(h)
	s.RequestInterval(rec)
	s.RequestInterval(rec) // a second interval adds up
	fams := scrape(t, s)
	value := func(name string, labels ...string) float64 {
		for _, m := range fams[name].GetMetric() {
			ok := true
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				ok = ok && found
			}
			if ok {
				return m.GetCounter().GetValue()
			}
		}
		return -1
	}
	if v := value("loadgate_tries_total", "request", "list", "status_class", "5xx"); v != 2 {
		t.Errorf("5xx tries %v, want 2", v)
	}
	if v := value("loadgate_requests_total", "request", "list", "outcome", "protocol"); v != 2 {
		t.Errorf("protocol errors %v, want 2", v)
	}
	hist := fams["loadgate_try_duration_seconds"].GetMetric()[0].GetHistogram()
	want := map[float64]uint64{0.005: 2, 0.01: 2, 0.025: 4, 0.25: 4, 0.5: 6, 10: 6}
	for _, b := range hist.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if hist.GetSampleCount() != 6 || hist.GetSampleSum() < 0.64 || hist.GetSampleSum() > 0.66 {
		t.Errorf("count %d, sum %v; want 6 and 0.648", hist.GetSampleCount(), hist.GetSampleSum())
	}
}

// Every query of the shipped Grafana dashboard is PromQL that names only
// metrics loadgate's /metrics serves.
func TestGrafanaDashboardQueries(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/loadgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", "unit", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := &report.IntervalRecord{Request: "a", Requests: 1, Logical: 1, Successes: 1, S2xx: 1, LengthMS: 1000}
	rec.SetHist(hdrhistogram.New(1, 60_000_000, 3))
	s.RequestInterval(rec)
	s.observed.WithLabelValues("x").Set(1)
	served := map[string]bool{}
	for name, f := range scrape(t, s) {
		served[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			served[name+"_bucket"], served[name+"_sum"], served[name+"_count"] = true, true, true
		}
	}
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(tg.Expr)
			if err != nil {
				t.Errorf("%s: %q: %v", p.Title, tg.Expr, err)
				continue
			}
			n++
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok && !served[vs.Name] {
					t.Errorf("%s: %q names %s, which /metrics does not serve", p.Title, tg.Expr, vs.Name)
				}
				return nil
			})
		}
	}
	if n < 8 {
		t.Errorf("%d queries in the dashboard", n)
	}
}

// The page is served whole, with nothing fetched from elsewhere.
func TestPageIsSelfContained(t *testing.T) {
	t.Parallel()
	for _, ext := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(string(page), `src="`+ext) || strings.Contains(string(page), `href="`+ext) {
			t.Errorf("the page loads %s resources", ext)
		}
	}
	s, err := Listen("127.0.0.1:0", "unit", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
