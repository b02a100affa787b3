//go:build unix

package attack

import (
	"net"
	"syscall"
)

// peekIdle reports whether an idle connection is still open with nothing
// to read, by a read that peeks and does not wait: it finds the end of
// the stream (the server closed it), a reset, or bytes no request asked
// for.
func peekIdle(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}
