package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// softMemoryLimit is the heap size past which the garbage collector works
// harder, unless GOMEMLIMIT says otherwise.
const softMemoryLimit = 128 << 20

// Main runs loadgate as a process: the first SIGINT or SIGTERM stops the
// run gracefully (the report is still written), a second exits at once.
// It returns the exit code.
func Main() int {
	// Signals first: one that comes before this ends the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A load generator allocates briefly per request over a small live
	// heap: the default GC target collects several times a second and
	// takes a quarter of the throughput. Unless GOGC says otherwise, let
	// the heap grow four times the live data before collecting.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	// But not past a soft limit: when a hostile target keeps a thousand
	// long answers in flight, the live heap grows and four times it would
	// be too much. Runs whose live heap stays small never reach it.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintln(os.Stderr, "\nloadgate: stopping: finishing requests in flight and writing the report (interrupt again to quit at once)")
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "loadgate: quitting at once")
			os.Exit(ExitRunFail)
		}
	}()
	return Run(ctx, OSEnv(os.Stdout, os.Stderr), os.Args[1:])
}
