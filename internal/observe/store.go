package observe

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// store holds the scraped samples in memory and is the storage Prometheus'
// engine queries: no storage of Prometheus' own fits a few thousand
// samples held for one run (its TSDB wants a directory and a WAL).
type store struct {
	mu     sync.RWMutex
	series map[string]*memSeries
}

type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

func newStore() *store { return &store{series: map[string]*memSeries{}} }

// add appends a scrape's samples, labelled with job=target as Prometheus
// labels them.
func (s *store) add(job string, fams map[string]*dto.MetricFamily, now time.Time) {
	t := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	put := func(name string, m *dto.Metric, v float64, extra ...string) {
		b := labels.NewBuilder(labels.EmptyLabels())
		b.Set(labels.MetricName, name)
		b.Set("job", job)
		for _, l := range m.GetLabel() {
			b.Set(l.GetName(), l.GetValue())
		}
		for i := 0; i+1 < len(extra); i += 2 {
			b.Set(extra[i], extra[i+1])
		}
		ls := b.Labels()
		key := ls.String()
		ms, ok := s.series[key]
		if !ok {
			ms = &memSeries{lset: ls}
			s.series[key] = ms
		}
		if n := len(ms.samples); n > 0 && ms.samples[n-1].T() >= t {
			return // samples go forward in time
		}
		ms.samples = append(ms.samples, fsample{t: t, f: v})
	}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				put(name, m, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				put(name, m, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				put(name, m, m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					put(name, m, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				put(name+"_sum", m, sm.GetSampleSum())
				put(name+"_count", m, float64(sm.GetSampleCount()))
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					put(name+"_bucket", m, float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				put(name+"_bucket", m, float64(h.GetSampleCount()), "le", "+Inf")
				put(name+"_sum", m, h.GetSampleSum())
				put(name+"_count", m, float64(h.GetSampleCount()))
			}
		}
	}
}

// Querier returns the store as a storage.Querier over [mint, maxt].
func (s *store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

type querier struct {
	s          *store
	mint, maxt int64
}

func (q *querier) matching(ms []*labels.Matcher) []*memSeries {
	var out []*memSeries
	for _, m := range q.s.series {
		ok := true
		for _, mt := range ms {
			if !mt.Matches(m.lset.Get(mt.Name)) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func (q *querier) Select(_ context.Context, sortSeries bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	var out []storage.Series
	for _, m := range q.matching(ms) {
		var in []chunks.Sample
		for _, smp := range m.samples {
			if smp.T() >= q.mint && smp.T() <= q.maxt {
				in = append(in, smp)
			}
		}
		if len(in) > 0 {
			out = append(out, storage.NewListSeries(m.lset, in))
		}
	}
	if sortSeries {
		sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels(), out[j].Labels()) < 0 })
	}
	return &seriesSet{list: out, i: -1}
}

func (q *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	seen := map[string]bool{}
	for _, m := range q.matching(ms) {
		if v := m.lset.Get(name); v != "" {
			seen[v] = true
		}
	}
	return sortedKeys(seen), nil, nil
}

func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	seen := map[string]bool{}
	for _, m := range q.matching(ms) {
		m.lset.Range(func(l labels.Label) { seen[l.Name] = true })
	}
	return sortedKeys(seen), nil, nil
}

func (q *querier) Close() error { return nil }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *seriesSet) At() storage.Series                { return s.list[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// fsample is a float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }
