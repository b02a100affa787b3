// Package fuzzcheck holds what the fuzz tests share.
package fuzzcheck

import (
	"testing"
	"time"
)

// Within runs fn and fails the test if it takes longer than d, so that an
// input that makes the code hang is reported and kept like a crash. The
// bound is for hangs, not speed: d is far above what any input needs.
func Within(t testing.TB, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("still running after %v", d)
	}
}
