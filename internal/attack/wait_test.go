package attack

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond every few milliseconds until it holds, and fails the
// test when it still does not after d: tests wait on conditions, not on
// sleeps that guess how long a loaded machine takes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockedOnIO tells whether a goroutine that fn started is waiting on the
// network (a read on a connection with nothing to read).
func blockedOnIO(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, "created by "+fn+" in goroutine") {
			return true
		}
	}
	return false
}
