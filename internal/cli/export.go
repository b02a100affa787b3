package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/run"
)

type exportOptions struct {
	format string
	out    string
}

func (o *exportOptions) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", results.FormatGob, "gob (vegeta's default), csv or json")
	fs.StringVarP(&o.out, "out", "o", "", "write to this file instead of standard output")
}

func exportCommand() *command {
	c := &command{
		name:    "export",
		summary: "Write a run's raw results in a format the vegeta CLI reads",
		usage:   "loadgate export RUN_DIR|results.lgr [--format gob|csv|json] [--out FILE]",
		details: `A run stores every result in results.lgr, a compact format (about a dozen
bytes a result). export writes them in vegeta's gob, CSV or JSON format, for
'vegeta report', 'vegeta plot' and other tools that read vegeta results. A
damaged file is exported up to the damage, with a warning naming the byte
offset.

Examples:
  loadgate export results/20261124T081537Z-normal > results.gob
  loadgate export results/20261124T081537Z-normal | vegeta report
  loadgate export run/results.lgr --format csv --out results.csv`,
	}
	var o exportOptions
	c.flags = o.register
	c.run = func(_ context.Context, env *Env, args []string) error {
		o = exportOptions{}
		fs := newFlagSet(c)
		o.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("give one run folder or results.lgr file", "export: want one argument, got %d", fs.NArg())
		}
		path := fs.Arg(0)
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			path = filepath.Join(path, run.FileRaw)
		}
		src := &results.File{Path: path}
		defer src.Close()
		if _, err := src.Open(); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return usageErr("a run folder holds results.lgr unless it ran with --raw vegeta or none", "%v", cleanPathErr(err))
			}
			return usageErr("", "%s: %v", path, err)
		}
		var w io.Writer = env.Stdout
		var out *os.File
		if o.out != "" {
			var err error
			if out, err = os.Create(o.out); err != nil {
				return withCode(ExitRunFail, fmt.Errorf("create %s: %v", o.out, cleanPathErr(err)), "")
			}
			w = out
		}
		bw := bufio.NewWriterSize(w, 256<<10)
		n, err := results.Export(src.Open, bw, o.format)
		if err != nil && n == 0 && !errors.Is(err, io.EOF) {
			if out != nil {
				out.Close()
			}
			return usageErr("", "%v", err)
		}
		err = errors.Join(err, bw.Flush())
		if out != nil {
			err = errors.Join(err, out.Close())
		}
		if err != nil {
			return withCode(ExitRunFail, err, "")
		}
		if d := src.Damage(); d != nil {
			fmt.Fprintf(env.Stderr, "loadgate: warning: %s: %v (%d results exported)\n", path, d, n)
		}
		return nil
	}
	return c
}
