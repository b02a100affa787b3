//go:build unix

package cli

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outfile"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/report"
)

// TestKilledRunRenders kills the binary (SIGKILL) at a random moment of a
// 10 s run at 1000/s, once before its first checkpoint and once after:
// 'loadgate report' renders the folder, marked interrupted, counting at
// least every request the target saw up to 2 s before the kill, and
// 'loadgate export' agrees with it.
func TestKilledRunRenders(t *testing.T) {
	t.Parallel()
	bin := loadgateBinary(t)
	for _, window := range [][2]time.Duration{{3 * time.Second, 4500 * time.Millisecond}, {5500 * time.Millisecond, 9 * time.Second}} {
		at := window[0] + rand.N(window[1]-window[0])
		t.Run(at.Round(time.Millisecond).String(), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seen []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, time.Now())
				mu.Unlock()
			}))
			defer srv.Close()
			dir := t.TempDir()
			sc := writeScenario(t, dir, "s.yaml", `name: killed
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 10s, rate: 1000/s}]
thresholds: [error_rate < 1%]
`)
			run := filepath.Join(dir, "run")
			cmd := exec.Command(bin, "run", sc, "--out", run, "--quiet")
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The moment is counted from the run's first request, however
			// long a busy machine takes to start the process.
			if !eventually(10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) > 0 }) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the run sent nothing in 10 s")
			}
			time.Sleep(at)
			killed := time.Now()
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			mu.Lock()
			before := 0
			for _, s := range seen {
				if s.Before(killed.Add(-2 * time.Second)) {
					before++
				}
			}
			mu.Unlock()

			var out, errw bytes.Buffer
			code := Run(context.Background(), testEnv(&out, &errw, nil), []string{"report", run, "--format", "json"})
			r, err := report.ReadJSON(&out)
			if err != nil {
				t.Fatalf("report of the killed run (exit %d): %v\n%s", code, err, errw.String())
			}
			if code != ExitRunFail || r.Verdict != report.Interrupted {
				t.Errorf("exit %d, verdict %s: a killed run is interrupted", code, r.Verdict)
			}
			if r.Totals.Requests < uint64(before) || before < 100 {
				t.Errorf("killed at %v: the report counts %d requests; the target saw %d up to 2 s before the kill", at, r.Totals.Requests, before)
			}
			out.Reset()
			Run(context.Background(), testEnv(&out, &errw, nil), []string{"export", run, "--format", "json"})
			if n := uint64(len(regexp.MustCompile(`(?m)^\{"attack"`).FindAll(out.Bytes(), -1))); n != r.Totals.Requests {
				t.Errorf("export holds %d results, the report %d\n%s", n, r.Totals.Requests, errw.String())
			}
			t.Logf("killed at %v: %d requests reported, %d seen 2 s before the kill; %s", at, r.Totals.Requests, before, strconv.Quote(r.Stopped))
		})
	}
}

// A signal at any moment, from the first milliseconds of the process to
// the last write of its report, exits 3 with a folder whose report.json
// says interrupted, or, when nothing was sent yet, with no folder and a
// one-line message.
func TestSignalAtAnyMoment(t *testing.T) {
	t.Parallel()
	bin := loadgateBinary(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: sig
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 1s, rate: 200/s}]
`)
	// After 'loadgate: running' (sending), after the stage's end (the
	// report being written), and at once.
	for i, when := range []string{"now", "sending", "writing"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, "run-"+strconv.Itoa(i))
			cmd := exec.Command(bin, "run", sc, "--out", out, "--quiet")
			stderr := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = io.Discard, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill() // when a wait fails
			running := func() bool { return strings.Contains(stderr.String(), "loadgate: running") }
			switch when {
			case "now":
				// Soon after the start: before its first statement a Go
				// program exits on SIGINT, as any program without a handler.
				time.Sleep(150 * time.Millisecond)
			case "sending":
				waitFor(t, 10*time.Second, "no 'loadgate: running'", running)
				time.Sleep(300 * time.Millisecond)
			case "writing":
				waitFor(t, 10*time.Second, "no 'loadgate: running'", running)
				time.Sleep(1030 * time.Millisecond) // the stage is over: the report is being written
			}
			cmd.Process.Signal(syscall.SIGINT)
			err := cmd.Wait()
			if code := exitCodeOf(err); code != ExitRunFail {
				t.Fatalf("exit %d, want 3\n%s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "report.json")); err != nil {
				if _, derr := os.Stat(out); derr == nil || !strings.Contains(stderr.String(), "interrupted before anything was sent") {
					t.Errorf("no report.json, but a folder or no word why:\n%s", stderr)
				}
				return
			}
			r := readReport(t, out)
			if r.Verdict != report.Interrupted {
				t.Errorf("signal while %s: verdict %s, want interrupted\n%s", when, r.Verdict, stderr)
			}
		})
	}
}

// When the disk fills as the report is written: the summary and verdict
// print whatever the disk does; report.json is written first, whole or not
// at all; no file is left empty; and the exit code is report.json's
// verdict's (a file it could not write after report.json is a warning).
func TestFullDiskAtTheEnd(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: full
target: {base_url: "`+srv.URL+`"}
requests: [{name: x, path: /}]
stages: [{duration: 500ms, rate: 600/s}]
thresholds: [error_rate < 1%]
`)
	for _, c := range []struct {
		name string
		full func(path string) bool // the files the disk has no room for
		code int
	}{
		{"full from the first file", func(string) bool { return true }, ExitRunFail},
		{"full from the plots on", func(p string) bool {
			return filepath.Base(filepath.Dir(p)) == run.DirPlots || strings.HasSuffix(p, ".html")
		}, ExitPass},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		var stdout, stderr bytes.Buffer
		env := plotsEnv(&stdout, &stderr, nil)
		var wrote []string
		env.Files = &outfile.Writer{Write: func(path string, data []byte) error {
			if c.full(path) {
				return syscall.ENOSPC
			}
			wrote = append(wrote, filepath.Base(path))
			return os.WriteFile(path, data, 0o644)
		}}
		code := Run(context.Background(), env, []string{"run", sc, "--out", out, "-q"})
		if code != c.code || !strings.Contains(stdout.String(), "verdict   PASS") {
			t.Errorf("%s: exit %d, want %d; the summary:\n%s\n%s", c.name, code, c.code, stdout.String(), stderr.String())
		}
		if len(wrote) > 0 && wrote[0] != run.FileReport {
			t.Errorf("%s: wrote %v: report.json first", c.name, wrote)
		}
		if _, err := os.Stat(filepath.Join(out, run.FileReport)); (err == nil) != (c.code == ExitPass) {
			t.Errorf("%s: report.json there: %v", c.name, err == nil)
		}
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && !e.IsDir() && fi.Size() == 0 {
				t.Errorf("%s: %s is empty", c.name, e.Name())
			}
		}
		if c.code == ExitPass && !strings.Contains(stderr.String(), "warning") {
			t.Errorf("%s: no warning of the files not written:\n%s", c.name, stderr.String())
		}
	}
}
