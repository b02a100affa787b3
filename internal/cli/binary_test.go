package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/report"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// loadgateBinary builds the real loadgate binary once per test process.
func loadgateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadgate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "loadgate")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/loadgate/loadgate").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build loadgate: %v", buildErr)
	}
	return binPath
}

// startRun starts the binary on a scenario that keeps requests in flight
// (the target answers after 3 s) and waits until the run is under way: a
// second's worth (50) of /ok answered.
func startRun(t *testing.T, srv *mixServer) (*exec.Cmd, *syncBuffer, string) {
	t.Helper()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "slow.yaml", `name: slow
target: {base_url: "`+srv.URL+`"}
requests: [{name: slow, path: /slow}, {name: ok, path: /ok}]
stages: [{duration: 1m, rate: 100/s}]
`)
	out := filepath.Join(dir, "run")
	cmd := exec.Command(loadgateBinary(t), "run", sc, "--out", out)
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ok := srv.ok.Load()
	if !eventually(10*time.Second, func() bool { return srv.ok.Load()-ok >= 50 }) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("run not under way after 10 s: %d /ok answered; stderr:\n%s", srv.ok.Load()-ok, stderr.String())
	}
	return cmd, stderr, out
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func exitCodeOf(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSignalStopsRunAndKeepsData interrupts the real binary with SIGINT and
// SIGTERM: it stops within a second, writes the report marked
// interrupted, exits 3, and the raw results hold every request counted.
func TestSignalStopsRunAndKeepsData(t *testing.T) {
	t.Parallel()
	srv := newMixServer(0)
	defer srv.Close()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, stderr, out := startRun(t, srv)
			sent := time.Now()
			cmd.Process.Signal(sig)
			stoppedCh := make(chan time.Duration, 1)
			go func() {
				for !strings.Contains(stderr.String(), "loadgate: stopped after") && time.Since(sent) < 10*time.Second {
					time.Sleep(5 * time.Millisecond)
				}
				stoppedCh <- time.Since(sent)
			}()
			err := cmd.Wait()
			took := time.Since(sent)
			stopped := <-stoppedCh
			if code := exitCodeOf(err); code != ExitRunFail {
				t.Fatalf("exit code %d, want 3; stderr:\n%s", code, stderr)
			}
			// The attack stops after the 0.5 s requests in flight get, not
			// when the 3 s answers come: within five times the 0.5 s on a
			// busy machine. Writing the reports comes after.
			t.Logf("stopped %v after the signal, exited after %v", stopped, took)
			if stopped > 5*attack.DefaultGrace || took > 10*time.Second {
				t.Errorf("stopped %v after the signal, exited after %v", stopped, took)
			}
			r := readReport(t, out)
			if r.Verdict != report.Interrupted {
				t.Errorf("verdict %q", r.Verdict)
			}
			if r.Totals.Errors["aborted"] == 0 {
				t.Errorf("requests cut in flight not counted as aborted: %v", r.Totals.Errors)
			}
			if r.Requests["ok"].Totals.Successes < 30 {
				t.Errorf("ok successes = %d after the target answered 50", r.Requests["ok"].Totals.Successes)
			}
			n, rd := countResults(t, filepath.Join(out, "results.lgr"))
			if rd.Damage != nil {
				t.Errorf("raw results damaged: %v", rd.Damage)
			}
			if n != r.Totals.Requests {
				t.Errorf("raw results hold %d, report counts %d", n, r.Totals.Requests)
			}
			// The time series and the request log were flushed too: the
			// intervals add up to the run, and the log holds every line
			// the report counts, each aborted request among them.
			js, err1 := os.Open(filepath.Join(out, run.FileSeries))
			hl, err2 := os.Open(filepath.Join(out, run.FileHlog))
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			defer js.Close()
			defer hl.Close()
			series, err := report.ReadSeries(js, hl)
			if err != nil {
				t.Fatal(err)
			}
			var inSeries uint64
			for _, iv := range series.All() {
				inSeries += iv.Requests
			}
			if inSeries != r.Totals.Requests {
				t.Errorf("time series holds %d requests, report counts %d", inSeries, r.Totals.Requests)
			}
			log := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "requests.jsonl"))), "\n")
			aborted := 0
			for _, l := range log {
				if strings.Contains(l, `"error_kind":"aborted"`) {
					aborted++
				}
			}
			if r.RequestLog == nil || uint64(len(log)) != r.RequestLog.Lines || uint64(aborted) != r.Totals.Errors["aborted"] {
				t.Errorf("request log: %d lines, %d aborted; report: %+v, %d aborted", len(log), aborted, r.RequestLog, r.Totals.Errors["aborted"])
			}
		})
	}
}

// TestSecondSignalExitsAtOnce sends two interrupts in a row: the second
// quits without waiting for requests in flight.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	srv := newMixServer(0)
	defer srv.Close()
	cmd, stderr, out := startRun(t, srv)
	cmd.Process.Signal(syscall.SIGINT)
	// The second signal once the first was heard (two sent together may
	// arrive as one).
	waitFor(t, 10*time.Second, "the first signal was not heard", func() bool {
		return strings.Contains(stderr.String(), "loadgate: stopping")
	})
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if code := exitCodeOf(err); code != ExitRunFail {
		t.Fatalf("exit code %d, want 3", code)
	}
	if !strings.Contains(stderr.String(), "quitting at once") {
		t.Errorf("stderr: %s", stderr)
	}
	// At once: without the 0.5 s given to requests in flight (the attack
	// never said it stopped), nor the reports.
	if strings.Contains(stderr.String(), "stopped after") {
		t.Errorf("the attack ran out its grace before quitting: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, run.FileReport)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report was written before quitting: %v", err)
	}
}
