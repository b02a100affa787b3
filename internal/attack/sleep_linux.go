package attack

import (
	"syscall"
	"time"
)

// sleepPrecise sleeps for d in a nanosleep of its own, which the kernel
// ends within its timer slack (50µs by default), not in the runtime's
// timers.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
