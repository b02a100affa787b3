package attack

import (
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// PhaseFunc receives the phase timings of one HTTP try of request req:
// DNS lookup, TCP connect and TLS handshake (zero on a reused connection)
// and the time to the first response byte. It is called from many
// goroutines at once.
type PhaseFunc func(req int, dns, connect, tls, ttfb time.Duration, reused bool)

// traceState is one try's connection trace, pooled: the hooks it uses all
// fire before the transport returns the response, so it can be reused
// as soon as RoundTrip returns.
type traceState struct {
	trace                       httptrace.ClientTrace
	dnsStart, connStart, tlsStt time.Time
	dns, connect, tls           time.Duration
	firstByte                   time.Time
	gotConn                     int
	reused                      bool
}

func newTraceState() *traceState {
	st := &traceState{}
	st.trace = httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { st.dnsStart = time.Now() },
		DNSDone:           func(httptrace.DNSDoneInfo) { st.dns = time.Since(st.dnsStart) },
		ConnectStart:      func(string, string) { st.connStart = time.Now() },
		ConnectDone:       func(string, string, error) { st.connect = time.Since(st.connStart) },
		TLSHandshakeStart: func() { st.tlsStt = time.Now() },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { st.tls = time.Since(st.tlsStt) },
		// A second GotConn in one try means Go's transport sent the
		// request again after a reused connection failed: loadgate
		// counts that failed try rather than hiding it.
		GotConn:              func(i httptrace.GotConnInfo) { st.gotConn++; st.reused = i.Reused },
		GotFirstResponseByte: func() { st.firstByte = time.Now() },
	}
	return st
}

// tracer measures the phases of every try with net/http/httptrace and
// notices Go's silent resends.
type tracer struct {
	pool   sync.Pool
	phases PhaseFunc
}

// send makes one try through next, traced. It returns how many times the
// transport sent the request again on its own.
func (t *tracer) send(next http.RoundTripper, r *http.Request, req int) (*http.Response, int, error) {
	st, _ := t.pool.Get().(*traceState)
	if st == nil {
		st = newTraceState()
	}
	st.dns, st.connect, st.tls, st.gotConn, st.reused, st.firstByte = 0, 0, 0, 0, false, time.Time{}
	start := time.Now()
	resp, err := next.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), &st.trace)))
	resent := max(st.gotConn-1, 0)
	if t.phases != nil && req >= 0 {
		var ttfb time.Duration
		if !st.firstByte.IsZero() {
			ttfb = st.firstByte.Sub(start)
		}
		if err == nil || st.gotConn > 0 {
			t.phases(req, st.dns, st.connect, st.tls, ttfb, st.reused)
		}
	}
	t.pool.Put(st)
	return resp, resent, err
}
