//go:build unix

package attack

import (
	"net"
	"syscall"
)

// idlePeek looks at an idle connection without waiting, by a read that
// peeks: it finds the end of the stream (the server closed it), a reset,
// or bytes no request asked for. It is made once per connection, so a
// look allocates nothing.
type idlePeek struct {
	raw  syscall.RawConn
	look func(fd uintptr)
	open bool
	buf  [1]byte
}

func newIdlePeek(c net.Conn) *idlePeek {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &idlePeek{raw: raw}
	p.look = func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	}
	return p
}

// alive reports whether the connection is open with nothing to read.
// Control, not Read: Read fails at once past the connection's deadline,
// which an idle connection may well be.
func (p *idlePeek) alive() bool {
	if p == nil {
		return true
	}
	p.open = false
	return p.raw.Control(p.look) == nil && p.open
}
