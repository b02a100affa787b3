package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/scenario"
)

// processState is what a leak would show: goroutines, open files, heap.
type processState struct {
	goroutines, files int
	heap              uint64
}

func sampleProcess() processState {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	files := -1
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		files = len(fds)
	}
	return processState{goroutines: runtime.NumGoroutine(), files: files, heap: ms.HeapInuse}
}

// settle waits for goroutines and files to come back down to before (the
// transport's idle connections close, the fixture's server ends), up to
// a few seconds.
func settle(before processState) processState {
	var now processState
	for deadline := time.Now().Add(5 * time.Second); ; {
		now = sampleProcess()
		if now.goroutines <= before.goroutines && now.files <= before.files || time.Now().After(deadline) {
			return now
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakRun runs rate against the embedded fixture API for d in this
// process, sampling the heap every interval, and returns the process
// state before and after, and the heap samples.
func soakRun(t *testing.T, d time.Duration, rate string, every time.Duration) (before, after processState, heaps []uint64) {
	t.Helper()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: soak
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests:
  - {name: list, path: "/v1/customers?limit=10", weight: 3}
  - {name: get, path: /v1/customers/100000000000000001, weight: 1}
stages: [{duration: `+d.String()+`, rate: `+rate+`}]
thresholds: [error_rate == 0]
`)
	before = sampleProcess()
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", filepath.Join(dir, "run"), "-q"})
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			if code != ExitPass {
				t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
			}
			return before, settle(before), heaps
		case <-tick.C:
			s := sampleProcess()
			heaps = append(heaps, s.heap)
			t.Logf("%4.0fs  heap %5.1f MB  goroutines %4d  files %3d", float64(len(heaps))*every.Seconds(), float64(s.heap)/1e6, s.goroutines, s.files)
		}
	}
}

// checkNoLeak fails when goroutines or open files stayed above where they
// were before the run.
func checkNoLeak(t *testing.T, before, after processState) {
	t.Helper()
	t.Logf("before: %d goroutines, %d files; after: %d goroutines, %d files", before.goroutines, before.files, after.goroutines, after.files)
	if after.goroutines > before.goroutines {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutines: %d before the run, %d after\n%s", before.goroutines, after.goroutines, buf[:n])
	}
	if after.files > before.files {
		t.Errorf("open files: %d before the run, %d after: %s", before.files, after.files, openFiles())
	}
}

func openFiles() string {
	fds, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			out = append(out, fd.Name()+"->"+l)
		}
	}
	return strings.Join(out, " ")
}

// TestNoLeakAfterRun: a short run leaves no goroutine and no open file
// behind. It runs before the package's parallel tests, in a quiet process.
func TestNoLeakAfterRun(t *testing.T) {
	before, after, _ := soakRun(t, 3*time.Second, "200/s", time.Second)
	checkNoLeak(t, before, after)
}

// TestSoak is the long soak: LOADGATE_SOAK=5m (make soak) runs 5 minutes
// at 500/s (LOADGATE_SOAK_RATE to change it) and checks that the heap
// stays flat (the last sample at most 1.2 times the one after the first
// minute) and that nothing leaks.
func TestSoak(t *testing.T) {
	v, ok := os.LookupEnv("LOADGATE_SOAK")
	if !ok {
		t.Skip("set LOADGATE_SOAK=5m to soak (make soak)")
	}
	d, err := scenario.ParseDuration(v)
	if err != nil || d < 2*time.Minute {
		t.Fatalf("LOADGATE_SOAK=%q: want a duration of at least 2m", v)
	}
	rate := "500/s"
	if r, ok := os.LookupEnv("LOADGATE_SOAK_RATE"); ok {
		rate = r
	}
	const every = 10 * time.Second
	before, after, heaps := soakRun(t, d, rate, every)
	checkNoLeak(t, before, after)
	minute := int(time.Minute/every) - 1
	if len(heaps) <= minute {
		t.Fatalf("%d heap samples", len(heaps))
	}
	first, last, peak := heaps[minute], heaps[len(heaps)-1], uint64(0)
	for _, h := range heaps {
		peak = max(peak, h)
	}
	ratio := float64(last) / float64(first)
	summary := fmt.Sprintf("soak %s at %s: heap %.1f MB at 1 min, %.1f MB at the end (%.2f), peak %.1f MB; goroutines %d -> %d, files %d -> %d",
		d, rate, float64(first)/1e6, float64(last)/1e6, ratio, float64(peak)/1e6, before.goroutines, after.goroutines, before.files, after.files)
	t.Log(summary)
	fmt.Println(summary)
	if ratio > 1.2 {
		t.Errorf("the heap grew by %.2f times from the first minute to the end", ratio)
	}
}
