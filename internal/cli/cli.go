// Package cli is loadgate's command line: one file per subcommand, one place
// that prints errors and picks exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/dashboard"
	"github.com/loadgate/loadgate/internal/metric"
	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/redact"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/scenario"
)

// Exit codes, documented in README.md.
const (
	ExitPass    = 0 // the run passed every threshold
	ExitFail    = 1 // a threshold or comparison failed
	ExitUsage   = 2 // bad usage or invalid input
	ExitRunFail = 3 // the run itself failed or was interrupted
	// ExitInconclusive: loadgate itself was saturated, so the verdict does
	// not speak for the target.
	ExitInconclusive = 4
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	LookupEnv      func(string) (string, bool)
	Now            func() time.Time
	// CPU returns the CPU time the process has used so far, for the
	// generator's self-health; nil reads the process's own.
	CPU func() time.Duration
	// Secrets knows every secret of the scenarios loaded and the values
	// they learn while they run (OAuth2 tokens). Run masks them in
	// whatever the command prints, and files go out through Files.
	Secrets *redact.Redactor
	Files   *outfile.Writer
	// live serves the run as it goes (run --listen).
	live *dashboard.Server
	// noPlots leaves the plots out of what runs write (--no-plots).
	noPlots bool
}

// OSEnv is the Env of the running process.
func OSEnv(stdout, stderr io.Writer) *Env {
	return &Env{Stdout: stdout, Stderr: stderr, LookupEnv: os.LookupEnv, Now: time.Now}
}

type command struct {
	name    string
	summary string
	usage   string // the synopsis line(s)
	details string // what it does, then examples
	run     func(ctx context.Context, env *Env, args []string) error
	flags   func(fs *pflag.FlagSet) // registers flags for help output only
}

func commands() []*command {
	return []*command{runCommand(), validateCommand(), reportCommand(), compareCommand(), capacityCommand(), exportCommand(), probeCommand(), fixtureCommand(), versionCommand(), helpCommand()}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// masked returns env with what it prints masked: every secret it knows or
// learns, in every form.
func (env *Env) masked() *Env {
	m := *env
	if m.Secrets == nil {
		m.Secrets = redact.New(nil)
	}
	m.Files = &outfile.Writer{Redactor: m.Secrets}
	if env.Files != nil {
		m.Files.Write = env.Files.Write
	}
	m.Stdout, m.Stderr = m.Secrets.Writer(env.Stdout), m.Secrets.Writer(env.Stderr)
	return &m
}

// learn registers a scenario's secrets, so that nothing the command prints
// or writes holds them.
func (env *Env) learn(sc *scenario.Scenario) {
	for _, s := range sc.Secrets() {
		env.Secrets.AddSecret(s)
	}
}

// engine is the part of env a run touches.
func (env *Env) engine() *run.Env {
	return &run.Env{Stdout: env.Stdout, Stderr: env.Stderr, CPU: env.CPU, Secrets: env.Secrets, Files: env.Files, Now: env.Now, Live: env.live, NoPlots: env.noPlots}
}

// learnURL registers the password of a URL's userinfo.
func (env *Env) learnURL(raw string) {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			env.Secrets.AddSecret(p)
		}
	}
}

// exitError carries an exit code and an optional hint.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is an error of exit code 2.
func usageErr(hint, format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...), hint: hint}
}

// withCode gives err an exit code.
func withCode(code int, err error, hint string) error {
	return &exitError{code: code, err: err, hint: hint}
}

// verdictErr is returned by commands that finish normally but whose
// verdict is not a pass; it prints nothing.
type verdictErr struct{ code int }

func (v verdictErr) Error() string { return fmt.Sprintf("exit %d", v.code) }

// Run runs loadgate with args (without the program name) and returns the
// exit code. It is the only place that prints errors.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		writeOverview(env.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help":
		writeOverview(env.Stdout)
		return ExitPass
	case "-v", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		return printErr(env, usageErr("run 'loadgate help' for the list of commands", "unknown command %q%s", name, suggestCommand(name)))
	}
	env = env.masked()
	err := c.run(ctx, env, args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		writeCommandHelp(env.Stdout, c)
		return ExitPass
	}
	return printErr(env, err)
}

func printErr(env *Env, err error) int {
	if err == nil {
		return ExitPass
	}
	var v verdictErr
	if errors.As(err, &v) {
		return v.code
	}
	code, hint := ExitRunFail, ""
	var e *exitError
	var ie *run.InputError
	var fe *run.FolderError
	switch {
	case errors.As(err, &e):
		code, hint = e.code, e.hint
	case errors.As(err, &ie):
		code, hint = ExitUsage, ie.Hint
	case errors.As(err, &fe):
		hint = "choose a writable folder with --out or --results-dir"
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			fmt.Fprintf(env.Stderr, "loadgate: error: %s\n", line)
		}
	}
	if hint != "" {
		fmt.Fprintf(env.Stderr, "loadgate: hint: %s\n", hint)
	}
	return code
}

func suggestCommand(name string) string {
	for _, c := range commands() {
		if strings.HasPrefix(c.name, name) || strings.HasPrefix(name, c.name) {
			return fmt.Sprintf(" (did you mean %q?)", c.name)
		}
	}
	return ""
}

// newFlagSet builds a command's flag set; parse errors become usage
// errors and -h prints the command's help.
func newFlagSet(c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

func parseFlags(c *command, fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageErr("run 'loadgate help "+c.name+"' for its flags", "%s: %v", c.name, err)
	}
	return nil
}

func writeOverview(w io.Writer) {
	var b strings.Builder
	b.WriteString("loadgate: load and connectivity tests for HTTP APIs, with a verdict CI can gate on.\n\nUsage:\n  loadgate <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nExit codes: 0 pass, 1 a threshold failed, 2 bad usage or input, 3 the run failed or was interrupted,\n4 inconclusive (loadgate itself was saturated).\n")
	b.WriteString("Run 'loadgate help <command>' or 'loadgate <command> -h' for a command's flags and examples,\n'loadgate help metrics' for the metrics thresholds take.\n")
	_, _ = io.WriteString(w, b.String()) // a closed stdout is not worth an error
}

func writeCommandHelp(w io.Writer, c *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUsage:\n", c.summary)
	for _, l := range strings.Split(strings.TrimSpace(c.usage), "\n") {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
	}
	if c.flags != nil {
		fs := newFlagSet(c)
		c.flags(fs)
		if fs.HasFlags() {
			b.WriteString("\nFlags:\n")
			b.WriteString(fs.FlagUsages())
		}
	}
	if c.details != "" {
		b.WriteString("\n" + strings.TrimSpace(c.details) + "\n")
	}
	_, _ = io.WriteString(w, b.String())
}

func helpCommand() *command {
	c := &command{
		name:    "help",
		summary: "Show help for loadgate or one of its commands",
		usage:   "loadgate help [command | metrics]",
		details: "'loadgate help metrics' lists every metric thresholds, compare and capacity read.\n\nExamples:\n  loadgate help\n  loadgate help run\n  loadgate help metrics",
	}
	c.run = func(_ context.Context, env *Env, args []string) error {
		fs := newFlagSet(c)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			writeOverview(env.Stdout)
			return nil
		}
		if fs.Arg(0) == "metrics" {
			_, _ = io.WriteString(env.Stdout, metric.Text())
			return nil
		}
		target := lookup(fs.Arg(0))
		if target == nil {
			return usageErr("run 'loadgate help' for the list of commands", "unknown command %q", fs.Arg(0))
		}
		writeCommandHelp(env.Stdout, target)
		return nil
	}
	return c
}
