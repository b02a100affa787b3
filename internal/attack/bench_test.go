package attack

import (
	"context"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

type nopHandler struct{ n int }

func (h *nopHandler) StageStart(int, Stage, time.Time)                  {}
func (h *nopHandler) StageEnd(int, time.Time, bool)                     {}
func (h *nopHandler) Result(_, _ int, _ *vegeta.Result, _ *Extra) error { h.n++; return nil }

// BenchmarkAttackHit measures requests per second at 50 workers, through
// loadgate's targeter and round tripper, against nginx when it listens on
// 127.0.0.1:18080 (make bench starts it): untraced and traced through
// loadgate's HTTP/1.1 transport (their ratio is the cost of phase tracing),
// and traced through net/http's Transport (the ratio to "traced" is what
// the transport gains).
func BenchmarkAttackHit(b *testing.B) {
	const url = "http://127.0.0.1:18080/ok"
	c := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true})
	if res, err := c.Get(url); err != nil {
		b.Skip("no target on 127.0.0.1:18080: ", err)
	} else {
		res.Body.Close()
	}
	for _, v := range []struct {
		name           string
		trace, netHTTP bool
	}{{"untraced", false, false}, {"traced", true, false}, {"traced-net-http", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			cl := NewHTTPClient(Client{Timeout: 5 * time.Second, KeepAlive: true})
			if v.netHTTP {
				cl.Client.Transport, cl.h1 = cl.net, nil
			}
			p := &Plan{
				Requests: []Request{{Name: "ok", Method: "GET", URL: url}},
				Client:   cl,
				MaxBody:  1 << 20, RequestID: true, NoTrace: !v.trace,
				Phases: func(int, time.Duration, time.Duration, time.Duration, time.Duration, bool) {},
			}
			h := &nopHandler{}
			b.ReportAllocs()
			b.ResetTimer()
			p.Stages = []Stage{{Name: "s", Duration: time.Hour, Concurrency: 50}}
			r, err := New(p)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			h2 := &stopAfter{nopHandler: h, n: b.N, cancel: cancel}
			_ = r.Run(ctx, h2)
			b.ReportMetric(float64(h.n)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

type stopAfter struct {
	*nopHandler
	n      int
	cancel context.CancelFunc
}

func (s *stopAfter) Result(a, b int, r *vegeta.Result, x *Extra) error {
	s.nopHandler.n++
	if s.nopHandler.n >= s.n {
		s.cancel()
	}
	return nil
}
