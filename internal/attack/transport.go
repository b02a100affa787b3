package attack

import (
	"context"
	"crypto/tls"
	"net"
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

// traceState is one try's connection trace. The transport may dial for a
// try in the background and hand it another connection that came free
// first; that dial's hooks then fire after RoundTrip returns. So the hooks
// and the reader take a lock, a state whose try started a dial is not
// pooled, and a dial that starts later still, into a state already reused,
// is not counted for a try that reused its connection.
type traceState struct {
	mu                          sync.Mutex
	trace                       httptrace.ClientTrace
	dnsStart, connStart, tlsStt time.Time
	dns, connect, tls           time.Duration
	firstByte                   time.Time
	conn                        net.Conn // the connection of the last GotConn
	gotConn                     int
	reused, dialed              bool
	// ctx carries trace over context.Background(), the context of the
	// requests vegeta makes: built once per state, not per try.
	ctx context.Context
}

func newTraceState() *traceState {
	st := &traceState{}
	st.trace = httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { st.set(func() { st.dialed, st.dnsStart = true, time.Now() }) },
		DNSDone:           func(httptrace.DNSDoneInfo) { st.set(func() { st.dns = time.Since(st.dnsStart) }) },
		ConnectStart:      func(string, string) { st.set(func() { st.dialed, st.connStart = true, time.Now() }) },
		ConnectDone:       func(string, string, error) { st.set(func() { st.connect = time.Since(st.connStart) }) },
		TLSHandshakeStart: func() { st.set(func() { st.tlsStt = time.Now() }) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { st.set(func() { st.tls = time.Since(st.tlsStt) }) },
		// A second GotConn in one try means the transport sent the
		// request again after a reused connection failed: loadgate
		// counts that failed try rather than hiding it.
		GotConn:              func(i httptrace.GotConnInfo) { st.set(func() { st.gotConn++; st.reused, st.conn = i.Reused, i.Conn }) },
		GotFirstResponseByte: func() { st.set(func() { st.firstByte = time.Now() }) },
	}
	st.ctx = httptrace.WithClientTrace(context.Background(), &st.trace)
	return st
}

// context returns parent with the state's trace.
func (st *traceState) context(parent context.Context) context.Context {
	if parent == context.Background() {
		return st.ctx
	}
	return httptrace.WithClientTrace(parent, &st.trace)
}

// answered reports whether a response byte arrived, and on which
// connection.
func (st *traceState) answered() (bool, net.Conn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return !st.firstByte.IsZero(), st.conn
}

func (st *traceState) set(f func()) {
	st.mu.Lock()
	f()
	st.mu.Unlock()
}

// tracer measures the phases of every try with net/http/httptrace and
// notices the transport's silent resends (its own or net/http's).
type tracer struct {
	pool   sync.Pool
	phases PhaseFunc
}

// begin starts tracing a try: it returns the try's state, the request
// carrying the trace, and when the try started.
func (t *tracer) begin(r *http.Request) (*traceState, *http.Request, time.Time) {
	st, _ := t.pool.Get().(*traceState)
	if st == nil {
		st = newTraceState()
	}
	st.mu.Lock()
	st.dns, st.connect, st.tls, st.gotConn, st.reused, st.dialed, st.firstByte, st.conn = 0, 0, 0, 0, false, false, time.Time{}, nil
	st.mu.Unlock()
	return st, r.WithContext(st.context(r.Context())), time.Now()
}

// end ends the trace of a try of request req (-1 for none), which failed
// with err or not. It returns how many times the transport sent the
// request again on its own.
func (t *tracer) end(st *traceState, start time.Time, req int, err error) int {
	st.mu.Lock()
	dns, connect, tlsDur, gotConn, reused, dialed, firstByte := st.dns, st.connect, st.tls, st.gotConn, st.reused, st.dialed, st.firstByte
	st.mu.Unlock()
	if reused {
		// A reused connection has no dial: a dial's timings here are
		// another try's (one that dialed in the background, then took a
		// connection that came free first, whose state this was).
		dns, connect, tlsDur = 0, 0, 0
	}
	if t.phases != nil && req >= 0 {
		var ttfb time.Duration
		if !firstByte.IsZero() {
			ttfb = firstByte.Sub(start)
		}
		if err == nil || gotConn > 0 {
			t.phases(req, dns, connect, tlsDur, ttfb, reused)
		}
	}
	if !dialed {
		t.pool.Put(st)
	}
	return max(gotConn-1, 0)
}
