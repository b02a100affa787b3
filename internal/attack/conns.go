package attack

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/loadgate/loadgate/internal/outcome"
)

// conns tracks the connections of a run's transport so that an
// interrupted run can cut the requests still in flight instead of waiting
// for their timeouts. The cost is per connection, not per request.
type conns struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

func newConns() *conns {
	ctx, cancel := context.WithCancel(context.Background())
	return &conns{m: map[net.Conn]struct{}{}, ctx: ctx, cancel: cancel}
}

var errAborted = &outcome.Error{Kind: outcome.Aborted, Err: errors.New("aborted: the run was interrupted")}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (c *conns) dial(base dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
		defer cancel()
		conn, err := base(ctx, network, addr)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil, errAborted
			}
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ctx.Err() != nil {
			conn.Close()
			return nil, errAborted
		}
		tc := &trackedConn{Conn: conn, owner: c}
		c.m[tc] = struct{}{}
		return tc, nil
	}
}

// closeAll closes every connection and refuses new ones.
func (c *conns) closeAll() {
	c.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.m {
		conn.(*trackedConn).Conn.Close()
	}
	clear(c.m)
}

type trackedConn struct {
	net.Conn
	owner *conns
	once  sync.Once
	// read counts the bytes read since the last write: after a request
	// went out, the bytes of its answer so far. net/http reads and writes
	// a connection in two goroutines.
	read atomic.Int64
}

func (t *trackedConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	t.read.Add(int64(n))
	return n, err
}

func (t *trackedConn) Write(b []byte) (int, error) {
	t.read.Store(0)
	return t.Conn.Write(b)
}

// readSinceWrite returns the bytes read on conn, a connection the run's
// dialer made (TLS over one included), since a request was last written
// on it; -1 for another connection.
func readSinceWrite(conn net.Conn) int64 {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tc, ok := conn.(*trackedConn); ok {
		return tc.read.Load()
	}
	return -1
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.m, t)
		t.owner.mu.Unlock()
	})
	return t.Conn.Close()
}
