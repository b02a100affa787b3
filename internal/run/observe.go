package run

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/observe"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/report"
)

// observer builds what watches the target's insides (observe:), with the
// embedded fixture's /metrics for url: embedded; nil when nothing is
// observed.
func (s *session) newObserver() *observe.Observer {
	o := s.sc.Observe
	if !o.On() {
		return nil
	}
	cfg := observe.Config{
		Prometheus: o.Prometheus,
		Client:     attack.NewHTTPClient(attack.Client{Timeout: 5 * time.Second, KeepAlive: true, InsecureTLS: s.sc.HTTP.InsecureTLS}).Client,
	}
	for _, t := range o.Scrape {
		u := t.URL
		if u == scenario.Embedded {
			u = strings.TrimRight(s.base, "/") + "/metrics"
		}
		h := http.Header{}
		for k, v := range t.Headers {
			h.Set(k, v)
		}
		cfg.Targets = append(cfg.Targets, observe.Target{Name: t.Name, URL: u, Header: h})
	}
	for name, q := range o.Series {
		cfg.Series = append(cfg.Series, observe.Series{Name: name, Query: q})
	}
	sort.Slice(cfg.Series, func(i, j int) bool { return cfg.Series[i].Name < cfg.Series[j].Name })
	return observe.New(cfg)
}

// observed evaluates the observed series over the sending window, on the
// report's intervals, and counts the scrapes; their URLs and errors are
// masked like the rest.
func (s *session) observed() (map[string]*report.Observed, map[string]report.ScrapeStats) {
	if s.observer == nil || s.sent[0].IsZero() {
		return nil, nil
	}
	red := s.pr.redactor
	scrapes := map[string]report.ScrapeStats{}
	failed := 0
	for name, st := range s.observer.Scrapes() {
		scrapes[name] = report.ScrapeStats{URL: red.URL(st.URL), Scrapes: st.Scrapes, Errors: st.Errors, LastError: red.String(st.LastError)}
		failed += st.Errors
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end := s.sent[1]
	if end.IsZero() {
		end = time.Now()
	}
	out := map[string]*report.Observed{}
	for _, r := range s.observer.Evaluate(ctx, s.sent[0], end, s.interval) {
		pts := make([]report.ObservedPoint, len(r.Points))
		for i, p := range r.Points {
			pts[i] = report.ObservedPoint{T: p.T, V: p.V}
		}
		out[r.Name] = report.NewObserved(r.Query, r.Unit, pts, s.sent[0], failed, red.String(r.Warning))
	}
	return out, scrapes
}
