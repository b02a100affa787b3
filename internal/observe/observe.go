// Package observe watches the target from the inside while a run goes on:
// it scrapes Prometheus text endpoints every report interval, or queries a
// Prometheus server over the run's span, and evaluates the scenario's
// series (PromQL, by Prometheus' own engine) on the report's intervals.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Target is a Prometheus text endpoint to scrape.
type Target struct {
	Name, URL string
	Header    http.Header
}

// Series is a named PromQL expression.
type Series struct {
	Name, Query string
}

// Config is what to observe and where.
type Config struct {
	Targets []Target
	// Prometheus, when set, is a Prometheus server's URL: the series are
	// queried there instead of evaluated over the scrapes.
	Prometheus string
	Series     []Series
	Client     *http.Client
}

// ScrapeStats count one target's scrapes.
type ScrapeStats struct {
	URL       string `json:"url"`
	Scrapes   int    `json:"scrapes"`
	Errors    int    `json:"scrape_errors"`
	LastError string `json:"last_error,omitempty"`
}

// Point is one value of a series.
type Point struct {
	T time.Time
	V float64
}

// Result is one series evaluated over the run.
type Result struct {
	Name, Query, Unit string
	Points            []Point
	// Warning says why the series has no points, or how several were
	// reduced to one.
	Warning string
}

// Observer scrapes the targets and evaluates the series.
type Observer struct {
	cfg   Config
	store *store
	mu    sync.Mutex
	stats map[string]*ScrapeStats
}

// ParseQuery checks a PromQL expression.
func ParseQuery(q string) error {
	_, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	return err
}

// New returns an observer of cfg.
func New(cfg Config) *Observer {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	o := &Observer{cfg: cfg, store: newStore(), stats: map[string]*ScrapeStats{}}
	for _, t := range cfg.Targets {
		o.stats[t.Name] = &ScrapeStats{URL: t.URL}
	}
	return o
}

// Start scrapes every target now and then every interval, until the
// returned stop is called, which scrapes once more and waits.
func (o *Observer) Start(ctx context.Context, every time.Duration) (stop func()) {
	if len(o.cfg.Targets) == 0 || o.cfg.Prometheus != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	o.Scrape(ctx, time.Now())
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				o.Scrape(ctx, now)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		o.Scrape(context.Background(), time.Now())
	}
}

// Scrape reads every target once, stamping its samples with now. A scrape
// that fails is counted; it never stops the run.
func (o *Observer) Scrape(ctx context.Context, now time.Time) {
	for _, t := range o.cfg.Targets {
		err := o.scrapeOne(ctx, t, now)
		o.mu.Lock()
		st := o.stats[t.Name]
		st.Scrapes++
		if err != nil {
			st.Errors++
			st.LastError = err.Error()
		}
		o.mu.Unlock()
	}
}

func (o *Observer) scrapeOne(ctx context.Context, t Target, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return err
	}
	for k, v := range t.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := o.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("not Prometheus' text format: %v", err)
	}
	o.store.add(t.Name, fams, now)
	return nil
}

// Scrapes returns each target's scrape counts.
func (o *Observer) Scrapes() map[string]ScrapeStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]ScrapeStats, len(o.stats))
	for k, v := range o.stats {
		out[k] = *v
	}
	return out
}

// Evaluate evaluates every series from start to end at each step: through
// the Prometheus server's query API when one is configured, else by
// Prometheus' engine over the scraped samples.
func (o *Observer) Evaluate(ctx context.Context, start, end time.Time, step time.Duration) []Result {
	out := make([]Result, 0, len(o.cfg.Series))
	for _, s := range o.cfg.Series {
		r := Result{Name: s.Name, Query: s.Query, Unit: unitOf(s.Query)}
		var m []points
		var err error
		if o.cfg.Prometheus != "" {
			m, err = o.queryServer(ctx, s.Query, start, end, step)
		} else {
			m, err = o.queryLocal(ctx, s.Query, start, end, step)
		}
		switch {
		case err != nil:
			r.Warning = "query failed: " + err.Error()
		case len(m) == 0:
			r.Warning = "the series matched nothing: its thresholds fail"
		default:
			r.Points = reduce(m)
			if len(m) > 1 {
				r.Warning = fmt.Sprintf("the query returned %d series; their maximum at each step is used (aggregate it, such as max(...), to choose)", len(m))
			}
		}
		out = append(out, r)
	}
	return out
}

// Now returns each series' value at now (its last within the lookback),
// for the live view; series without one are left out.
func (o *Observer) Now(ctx context.Context, now time.Time) map[string]float64 {
	out := map[string]float64{}
	for _, r := range o.Evaluate(ctx, now, now, time.Second) {
		if n := len(r.Points); n > 0 && !math.IsNaN(r.Points[n-1].V) {
			out[r.Name] = r.Points[n-1].V
		}
	}
	return out
}

// points are one returned series' values.
type points []Point

// reduce makes one series of several: the maximum at each time.
func reduce(ms []points) []Point {
	at := map[int64]float64{}
	for _, s := range ms {
		for _, p := range s {
			k := p.T.UnixMilli()
			if v, ok := at[k]; !ok || p.V > v || math.IsNaN(v) {
				at[k] = p.V
			}
		}
	}
	out := make([]Point, 0, len(at))
	for k, v := range at {
		out = append(out, Point{T: time.UnixMilli(k), V: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}

var engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})

func (o *Observer) queryLocal(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]points, error) {
	qry, err := engine.NewRangeQuery(ctx, o.store, nil, q, start, end, step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	m, err := res.Matrix()
	if err != nil {
		return nil, err
	}
	var out []points
	for _, s := range m {
		var pts points
		for _, p := range s.Floats {
			pts = append(pts, Point{T: time.UnixMilli(p.T), V: p.F})
		}
		if len(pts) > 0 {
			out = append(out, pts)
		}
	}
	return out, nil
}

func (o *Observer) queryServer(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]points, error) {
	c, err := promapi.NewClient(promapi.Config{Address: o.cfg.Prometheus, Client: o.cfg.Client})
	if err != nil {
		return nil, err
	}
	v, _, _, err := promv1.NewAPI(c).QueryRange(ctx, q, promv1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, errors.New("the query did not return a range of values")
	}
	var out []points
	for _, s := range m {
		var pts points
		for _, p := range s.Values {
			pts = append(pts, Point{T: p.Timestamp.Time(), V: float64(p.Value)})
		}
		if len(pts) > 0 {
			out = append(out, pts)
		}
	}
	return out, nil
}

// unitOf guesses a series' unit from the metric names in its query, by
// Prometheus' naming conventions; "" when it cannot tell.
func unitOf(q string) string {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return ""
	}
	units := map[string]bool{}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, u := range []string{"seconds", "bytes", "ratio"} {
				if strings.HasSuffix(vs.Name, "_"+u) || strings.HasSuffix(vs.Name, "_"+u+"_total") || strings.HasSuffix(vs.Name, "_"+u+"_sum") {
					units[u] = true
				}
			}
		}
		return nil
	})
	if len(units) == 1 {
		for u := range units {
			return u
		}
	}
	return ""
}
