package attack

import (
	"context"
	"errors"
	"net"
	"sync"
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
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.m, t)
		t.owner.mu.Unlock()
	})
	return t.Conn.Close()
}
