//go:build linux

package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// peakRSS reads a running process's peak resident set so far, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM")
}

// TestHostileAnswersCostBoundedMemory runs the binary with 1000 requests in
// flight against a target whose answers never end (a body, or a head of
// 100,000 headers): its resident memory stays under 200 MB.
func TestHostileAnswersCostBoundedMemory(t *testing.T) {
	t.Parallel()
	bin := loadgateBinary(t)
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	for i := range 100_000 {
		fmt.Fprintf(&head, "X-Header-%06d: some value\r\n", i)
	}
	head.WriteString("Content-Length: 0\r\n\r\n")
	headers := func(c net.Conn) { c.Write(head.Bytes()) }
	body := func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := "4000\r\n" + strings.Repeat("x", 16<<10) + "\r\n"
		for {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, c := range []struct {
		name   string
		answer func(net.Conn)
		kind   string
	}{{"endless body", body, "timeout"}, {"100,000 headers", headers, "head_too_large"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := newRawServer(t, func(conn net.Conn, _ *http.Request) {
				c.answer(conn)
				conn.Close()
			})
			dir := t.TempDir()
			sc := writeScenario(t, dir, "s.yaml", `name: hostile
target: {base_url: "`+srv.url()+`"}
http: {timeout: 1500ms}
requests: [{name: x, path: /}]
stages: [{duration: 2s, concurrency: 1000}]
`)
			cmd := exec.Command(bin, "run", sc, "--out", filepath.Join(dir, "run"), "--quiet")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var peak int64
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
		wait:
			for {
				select {
				case <-done:
					break wait
				case <-tick.C:
					if p, err := peakRSS(cmd.Process.Pid); err == nil {
						peak = max(peak, p)
					}
				}
			}
			r := readReport(t, filepath.Join(dir, "run"))
			t.Logf("%s: peak RSS %d MB, %d requests, errors %v", c.name, peak>>20, r.Totals.Requests, r.Totals.Errors)
			if r.Totals.Errors[c.kind] == 0 || r.Totals.Requests < 1000 {
				t.Errorf("%d requests, errors %v; want at least 1000, failing as %s\n%s", r.Totals.Requests, r.Totals.Errors, c.kind, stderr.String())
			}
			if peak == 0 || peak > 200<<20 {
				t.Errorf("peak RSS %d MB, want under 200 MB", peak>>20)
			}
		})
	}
}
