//go:build !unix

package attack

import "net"

// peekIdle cannot look at a connection without waiting here: an idle
// connection the server closed shows when it is used (a request that is
// safe to repeat then goes again on another).
func peekIdle(net.Conn) bool { return true }
