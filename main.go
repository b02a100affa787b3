// Command loadgate runs load and connectivity tests against HTTP APIs and
// returns a verdict that CI can gate on. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/loadgate/loadgate/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nloadgate: stopping: finishing requests in flight and writing the report (interrupt again to quit at once)")
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "loadgate: quitting at once")
		os.Exit(cli.ExitRunFail)
	}()
	code := cli.Run(ctx, cli.OSEnv(os.Stdout, os.Stderr), os.Args[1:])
	cancel()
	os.Exit(code)
}
