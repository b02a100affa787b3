//go:build !linux

package attack

import "time"

// sleepPrecise sleeps for d; here in the runtime's timers.
func sleepPrecise(d time.Duration) { time.Sleep(d) }
