//go:build unix

package cli

import "syscall"

// raiseFileLimit lifts the soft limit on open files to the hard limit, so
// that thousands of concurrent connections do not run out of descriptors,
// and returns the limit in force (0 when unknown). Failing to raise it is
// not fatal: the run goes on with the limit it has.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		old := l.Cur
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return old
		}
	}
	return l.Cur
}
