package attack

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// conns tracks the connections of a run's transport so that an
// interrupted run can cut the requests still in flight instead of waiting
// for their timeouts. The cost is per connection, not per request.
type conns struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	ctx    context.Context
	cancel context.CancelFunc
	// timeout, when set, bounds each request on a connection: every write
	// (a request going out) pushes the connection's deadline timeout
	// ahead, so a response that takes longer fails as a timeout. It does
	// the work of http.Client.Timeout without a timer and a context per
	// request.
	timeout time.Duration
}

func newConns() *conns {
	ctx, cancel := context.WithCancel(context.Background())
	return &conns{m: map[net.Conn]struct{}{}, ctx: ctx, cancel: cancel}
}

var errAborted = errors.New("aborted: the run was interrupted")

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
		tc := &trackedConn{Conn: conn, owner: c, timeout: c.timeout}
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
	owner    *conns
	once     sync.Once
	timeout  time.Duration
	deadline time.Time // the deadline last set; writes come one at a time
}

// Write pushes the connection's deadline to at least timeout ahead. It sets
// it a hundredth of the timeout further, so that the many writes of a busy
// connection move it once in that while rather than each time (moving a
// deadline takes the runtime's timer locks): a request then times out
// between its timeout and one hundredth past it.
func (t *trackedConn) Write(b []byte) (int, error) {
	if t.timeout > 0 {
		if now := time.Now(); now.Add(t.timeout).After(t.deadline) {
			t.deadline = now.Add(t.timeout + t.timeout/100)
			_ = t.Conn.SetDeadline(t.deadline) // a closed conn fails the write below
		}
	}
	return t.Conn.Write(b)
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.m, t)
		t.owner.mu.Unlock()
	})
	return t.Conn.Close()
}
