// Package run is loadgate's engine: it turns a scenario into a run (the
// plan, the attack, the recording of every result, the live view's
// figures) and a run's folder into its report, apart from the command line
// that calls it.
package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/loadgate/loadgate/internal/dashboard"
	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/redact"
)

// Env is what a run may touch of the outside world.
type Env struct {
	// Stdout takes the summary; Stderr progress, warnings and notes.
	Stdout, Stderr io.Writer
	// CPU returns the CPU time the process has used so far, for the
	// generator's self-health; nil reads the process's own.
	CPU func() time.Duration
	// Secrets knows the secrets to mask; a run's redactor is its child, so
	// what a run learns (OAuth2 tokens) reaches it too.
	Secrets *redact.Redactor
	// Files writes every output file.
	Files *outfile.Writer
	// Now is the clock of the run's timestamps; nil is time.Now.
	Now func() time.Time
	// Live, when set, serves the run as it goes (run --listen).
	Live *dashboard.Server
	// NoPlots leaves the plots out of the run folder and report.html
	// (--no-plots): a gate that reads report.json needs none, and drawing
	// them is most of the work of ending a short run.
	NoPlots bool
}

// Sharding is this process's part of a split run: part Index (from 0) of
// Count, starting at StartAt when set.
type Sharding struct {
	Index, Count int
	StartAt      time.Time
}

// InputError is input the engine cannot use (a file that holds no
// results): the caller's mistake, with a hint of what to give instead.
type InputError struct {
	Err  error
	Hint string
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(hint, format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...), Hint: hint}
}

// ErrNothingSent ends a run interrupted before it sent anything; it leaves
// no folder.
var ErrNothingSent = errors.New("interrupted before anything was sent")

// pathErr writes a file error as "path: reason".
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// PrepareDir creates a run folder and checks that it can be written,
// before anything is sent. exact means the caller named it: it may exist
// but must not hold an earlier run; otherwise a folder that exists gets a
// new name (dir-2, dir-3...).
func PrepareDir(dir string, exact bool) (string, error) {
	if !exact {
		if _, err := os.Stat(dir); err == nil {
			for i := 2; ; i++ {
				alt := fmt.Sprintf("%s-%d", dir, i)
				if _, err := os.Stat(alt); err != nil {
					dir = alt
					break
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, FileReport)); err == nil {
		return "", inputErr("choose another --out folder, or remove the earlier run", "%s already holds a run (report.json)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &FolderError{Err: fmt.Errorf("cannot create run folder: %v", pathErr(err))}
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return "", &FolderError{Err: fmt.Errorf("run folder %s is not writable: %v", dir, pathErr(err))}
	}
	return dir, os.Remove(probe)
}

// FolderError is a run folder that cannot be made or written.
type FolderError struct{ Err error }

func (e *FolderError) Error() string { return e.Err.Error() }
func (e *FolderError) Unwrap() error { return e.Err }
