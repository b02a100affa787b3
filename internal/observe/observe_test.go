package observe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A target whose gauge and counter take known values scrape by scrape:
// Prometheus' engine over the scraped samples must give them back, a
// failing target is counted, and a series that matches nothing says so.
func TestScrapeAndEvaluate(t *testing.T) {
	t.Parallel()
	gauges := []float64{1, 5, 3}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		fmt.Fprintf(w, "# TYPE queue gauge\nqueue{pool=\"a\"} %g\nqueue{pool=\"b\"} 0\n# TYPE done_total counter\ndone_total %d\n", gauges[i], 10*i)
		fmt.Fprint(w, "# TYPE wait_seconds histogram\nwait_seconds_bucket{le=\"0.1\"} 1\nwait_seconds_bucket{le=\"+Inf\"} 2\nwait_seconds_sum 0.3\nwait_seconds_count 2\n")
	}))
	defer srv.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer broken.Close()
	o := New(Config{
		Targets: []Target{{Name: "crm", URL: srv.URL}, {Name: "down", URL: broken.URL}},
		Series: []Series{
			{"queue", `max(queue)`}, {"done_rate", `irate(done_total[3s])`}, {"both", `queue`},
			{"nothing", `absent_metric`}, {"wait", `wait_seconds_sum / wait_seconds_count`},
		},
	})
	t0 := time.Unix(1_700_000_000, 0)
	for i := range gauges {
		o.Scrape(context.Background(), t0.Add(time.Duration(i)*time.Second))
	}
	res := o.Evaluate(context.Background(), t0, t0.Add(2*time.Second), time.Second)
	by := map[string]Result{}
	for _, r := range res {
		by[r.Name] = r
	}
	if got := values(by["queue"].Points); got != "1 5 3" {
		t.Errorf("max(queue) = %s, want 1 5 3", got)
	}
	if got := values(by["done_rate"].Points); got != "10 10" {
		t.Errorf("irate(done_total[3s]) = %s, want 10 10 (10 a second)", got)
	}
	if by["both"].Warning == "" || values(by["both"].Points) != "1 5 3" {
		t.Errorf("two series: %q %s; want the maximum and a warning", by["both"].Warning, values(by["both"].Points))
	}
	if len(by["nothing"].Points) != 0 || !strings.Contains(by["nothing"].Warning, "matched nothing") {
		t.Errorf("a query matching nothing: %+v", by["nothing"])
	}
	if by["wait"].Unit != "seconds" || values(by["wait"].Points) != "0.15 0.15 0.15" {
		t.Errorf("a histogram's count: %+v", by["wait"])
	}
	st := o.Scrapes()
	if st["crm"].Scrapes != 3 || st["crm"].Errors != 0 || st["down"].Errors != 3 || !strings.Contains(st["down"].LastError, "500") {
		t.Errorf("scrape counts: %+v", st)
	}
}

func values(ps []Point) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprint(p.V))
	}
	if len(out) > 1 && strings.HasPrefix(out[0], "NaN") {
		out = out[1:]
	}
	return strings.Join(out, " ")
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	if err := ParseQuery("sum(rate(x[1m]))"); err != nil {
		t.Error(err)
	}
	if err := ParseQuery("sum(rate(x[1m])"); err == nil {
		t.Error("an unclosed parenthesis parsed")
	}
}
