package cli

import (
	"context"
	"fmt"
)

func validateCommand() *command {
	c := &command{
		name:    "validate",
		summary: "Check scenario files without sending a request",
		usage:   "loadgate validate FILE... | DIR",
		details: `Parses each scenario, expands environment references and checks every
field. Every problem is listed with its file, line and field; the exit code
is 2 when any is found, 0 otherwise.

Examples:
  loadgate validate scenarios/normal.yaml
  loadgate validate scenarios/`,
	}
	c.run = func(_ context.Context, env *Env, args []string) error {
		fs := newFlagSet(c)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return usageErr("give a scenario file, such as: loadgate validate scenarios/normal.yaml", "validate: no scenario given")
		}
		files, _, err := expandPaths(fs.Args())
		if err != nil {
			return err
		}
		scs, err := loadAll(env, files)
		if err != nil {
			return err
		}
		for _, sc := range scs {
			fmt.Fprintf(env.Stdout, "%s: ok (%s: %d requests, %d stages, %s, %d thresholds)\n",
				sc.File, sc.Name, len(sc.Requests), len(sc.Stages), sc.TotalDuration(), len(sc.Thresholds))
		}
		return nil
	}
	return c
}
