package cli

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"
)

// mixServer is a target whose answers the tests know in advance: on /mix,
// of every 100 requests in arrival order, 5 get a 500 and 3 a 429, each
// after a fixed delay; /ok always answers 200; /slow answers after 3 s; /delay?ms=N after N ms.
type mixServer struct {
	*httptest.Server
	delay time.Duration
	n     atomic.Int64
	ok    atomic.Int64 // answers to /ok
}

func newMixServer(delay time.Duration) *mixServer {
	m := &mixServer{delay: delay}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	return m
}

func (m *mixServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ok":
		w.Write([]byte(`{"code":0}`))
		m.ok.Add(1)
	case "/slow":
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	case "/delay": // ?ms=N: answer after N milliseconds
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Write([]byte(`{"code":0}`))
	case "/mix":
		time.Sleep(m.delay)
		i := (m.n.Add(1) - 1) % 100
		switch {
		case i < 5:
			w.WriteHeader(http.StatusInternalServerError)
		case i < 8:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
		w.Write([]byte(`{"code":0}`))
	default:
		http.NotFound(w, r)
	}
}
