package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/loadgate/loadgate/internal/buildinfo"
)

func versionCommand() *command {
	c := &command{
		name:    "version",
		summary: "Print loadgate's version",
		usage:   "loadgate version",
		details: "Example:\n  loadgate version",
	}
	c.run = func(_ context.Context, env *Env, args []string) error {
		fs := newFlagSet(c)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "loadgate %s (%s, %s/%s)\n", buildinfo.Version, buildinfo.GoVersion(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	return c
}
