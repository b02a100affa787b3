// Command loadgate runs load and connectivity tests against HTTP APIs and
// returns a verdict that CI can gate on. See README.md.
package main

import (
	"os"

	"github.com/loadgate/loadgate/internal/cli"
)

func main() { os.Exit(cli.Main()) }
