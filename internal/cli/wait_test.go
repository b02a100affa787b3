package cli

import (
	"testing"
	"time"
)

// eventually polls cond every few milliseconds until it holds or d has
// passed, and tells whether it held. Unlike waitFor, it may be called from
// any goroutine.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// waitFor waits until cond holds, and fails the test when it still does
// not after d: tests wait on conditions, not on sleeps that guess how long
// a loaded machine takes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !eventually(d, cond) {
		t.Fatalf("after %v: %s", d, what)
	}
}
