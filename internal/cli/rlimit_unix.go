//go:build unix

package cli

import "syscall"

// raiseFileLimit lifts the soft limit on open files to the hard limit, so
// that thousands of concurrent connections do not run out of descriptors.
// Failing to raise it is not fatal: the run goes on with the limit it has.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) // best effort, see above
	}
}
