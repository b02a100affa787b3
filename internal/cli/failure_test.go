package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/report"
)

// rawServer accepts loopback connections and hands each, with the request
// read, to answer.
type rawServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newRawServer(t *testing.T, answer func(c net.Conn, r *http.Request)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						c.Close()
						return
					}
					answer(c, r)
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// failureScenario is 2 s at 50/s with a 500 ms timeout.
func failureScenario(url string) string {
	return `name: failure
target: {base_url: "` + url + `"}
http: {timeout: 500ms, max_body: 64KiB}
requests: [{name: x, path: /x}]
stages: [{duration: 2s, rate: 50/s}]
`
}

// checkAllFailed checks that every one of the run's requests failed with
// kind, in its class (network, or protocol for a broken answer), on
// schedule.
func checkAllFailed(t *testing.T, r *report.Report, kind string) {
	t.Helper()
	tot := r.Totals
	k, _ := outcome.KindNamed(kind)
	class := outcome.ClassOf(k).String()
	if tot.Requests < 98 || tot.Requests > 100 || tot.Errors[kind] != tot.Requests || tot.ErrorClasses[class] != tot.Requests {
		t.Errorf("%d requests (want 100 on schedule), errors %v, classes %v", tot.Requests, tot.Errors, tot.ErrorClasses)
	}
	// The run itself goes on and reports; with nothing succeeded, it fails.
	if r.Verdict != report.Fail || r.VerdictReason != "no request succeeded" || r.Interrupted {
		t.Errorf("verdict %s (%s): the run must go on, report, and fail", r.Verdict, r.VerdictReason)
	}
}

// A target that accepts and never answers: each request times out after
// 500 ms, the schedule goes on, and the run ends on time.
func TestTargetHangs(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		io.Copy(io.Discard, c) // hold the connection until either side closes it
	})
	_, r, out := runScenario(t, failureScenario(srv.url()), nil)
	checkAllFailed(t, r, "timeout")
	// The run's own span: 2 s of sends plus the last request's 500 ms
	// timeout; the report rendering after it is not the run's.
	if r.DurationS > 3.5 {
		t.Errorf("a 2 s run against a hung target took %.2fs", r.DurationS)
	}
	if r.Latency.Max > 700 {
		t.Errorf("latency max %vms: the 500 ms timeout did not hold\n%s", r.Latency.Max, out)
	}
}

// A target that answers with something that is not HTTP.
func TestTargetAnswersGarbage(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.6 this is no web server\r\n\r\n"))
		c.Close()
	})
	_, r, _ := runScenario(t, failureScenario(srv.url()), nil)
	checkAllFailed(t, r, "malformed")
}

// A target that resets every connection as soon as the request arrives.
func TestTargetResets(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		c.(*net.TCPConn).SetLinger(0) // close with RST
		c.Close()
	})
	_, r, _ := runScenario(t, failureScenario(srv.url()), nil)
	// A reset can reach the client as a reset or, when the request was
	// still being written, as a closed connection.
	tot := r.Totals
	if tot.Errors["reset"]+tot.Errors["closed"] != tot.Requests || tot.Errors["reset"] == 0 || tot.ErrorClasses["network"] != tot.Requests {
		t.Errorf("%d requests, errors %v", tot.Requests, tot.Errors)
	}
}

// A target that sends headers and then a body that never ends: loadgate
// reads at most max_body of it, discards the rest as it comes, and the
// timeout ends each request; memory stays bounded though the target sends
// far more than the cap.
func TestTargetEndlessBody(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"))
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 16<<10, strings.Repeat("x", 16<<10))
		for {
			if _, err := c.Write([]byte(chunk)); err != nil {
				return
			}
			sent.Add(16 << 10)
			time.Sleep(5 * time.Millisecond)
		}
	})
	_, r, _ := runScenario(t, failureScenario(srv.url()), nil)
	checkAllFailed(t, r, "timeout")
	// About 1.6 MB per request before its timeout: 100 requests' bodies
	// held whole would be well over 100 MB.
	if sent.Load() < 50<<20 {
		t.Errorf("the target sent only %d bytes", sent.Load())
	}
}

// A target that dies mid-run (its listener and connections closed) and
// comes back a second later on the same port: the run goes on, requests
// while it is down are refused, and those after it is back succeed.
func TestTargetDiesAndComesBack(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte(`{"code":0}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	first := &http.Server{Handler: h}
	go first.Serve(ln)
	var second *http.Server
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A second into the run (a hundred answered), the target dies for
		// a second.
		if !eventually(10*time.Second, func() bool { return served.Load() >= 100 }) {
			t.Errorf("the run had %d answers after 10 s", served.Load())
		}
		first.Close() // listener and every connection
		time.Sleep(1 * time.Second)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		second = &http.Server{Handler: h}
		go second.Serve(ln2)
	}()
	_, r, out := runScenario(t, `name: comeback
target: {base_url: "http://`+addr+`"}
http: {timeout: 500ms}
requests: [{name: x, path: /x}]
stages: [{duration: 3s, rate: 100/s}]
`, nil)
	<-done
	if second != nil {
		second.Close()
	}
	tot := r.Totals
	if tot.Requests < 294 || tot.Requests > 300 {
		t.Errorf("%d requests, want 300 on schedule", tot.Requests)
	}
	// Successes are exactly the requests the server answered (give or
	// take the few it was answering when it was closed).
	if d := int64(tot.Successes) - served.Load(); d > 0 || d < -5 {
		t.Errorf("%d successes, the server answered %d", tot.Successes, served.Load())
	}
	// About a third of the run was down: about 100 refused.
	if n := tot.Errors["refused"]; n < 70 || n > 130 || tot.Successes < 150 {
		t.Errorf("refused %d, successes %d; errors %v\n%s", n, tot.Successes, tot.Errors, out)
	}
}

// A full disk mid-run: the raw results file is /dev/full, which fails every
// write with "no space left on device". The run stops at the first failed
// block rather than send on with nothing recorded, still writes its report
// (marked interrupted, saying why) from the figures gathered, and exits 3.
func TestFullDiskStopsTheRun(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this machine")
	}
	srv := newMixServer(0)
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(out, "results.lgr")); err != nil {
		t.Fatal(err)
	}
	// Each result keeps its own URL (about 60 bytes): the first 64 KiB
	// block fills after about a thousand results.
	sc := writeScenario(t, dir, "s.yaml", `name: full
target: {base_url: "`+srv.URL+`"}
requests: [{name: ok, path: "/ok?id={{ uuid }}"}]
stages: [{duration: 10s, rate: 1000/s}]
`)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out, "-q"})
	if code != ExitRunFail || !strings.Contains(stderr.String(), "no space left on device") {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	r := readReport(t, out)
	if r.Verdict != report.Interrupted || !strings.Contains(r.Stopped, "write raw results") || r.Totals.Requests < 500 || r.Totals.Requests > 6000 {
		t.Errorf("verdict %s, stopped %q, %d requests (want a stop well before 10000)", r.Verdict, r.Stopped, r.Totals.Requests)
	}
	if r.DurationS > 8 {
		t.Errorf("ran %.1fs: the run went on after the disk filled", r.DurationS)
	}
	// What was written is intact: the run folder renders again to the
	// same figures.
	stdout.Reset()
	if code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"report", out, "--format", "json"}); code != ExitRunFail {
		t.Errorf("report: exit %d", code)
	}
	var again report.Report
	if err := json.Unmarshal(stdout.Bytes(), &again); err != nil || again.Totals.Requests != r.Totals.Requests || again.Verdict != report.Interrupted {
		t.Errorf("rendered again: %v, %d requests, verdict %s", err, again.Totals.Requests, again.Verdict)
	}
}

// A thousand workers at once, each holding a connection for 200 ms:
// no descriptor runs out, every request succeeds, and the target sees the
// thousand together. It runs alone: a thousand connections opened at once
// slow every other test's connects on a 2-core machine.
func TestThousandWorkers(t *testing.T) {
	if limit := raiseFileLimit(); limit != 0 && limit < 2*1000+2*run.FileHeadroom {
		t.Skipf("the open-file limit here is %d; 1000 loopback connections need about 2200 (client and server)", limit)
	}
	// The first requests wait until a thousand are in at once (or 8 s
	// pass), however slowly a loaded machine opens the connections; then
	// each takes 200 ms.
	var now, peak atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n >= 1000 {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(8 * time.Second):
		}
		time.Sleep(200 * time.Millisecond)
		now.Add(-1)
	}))
	defer srv.Close()
	_, r, out := runScenario(t, `name: thousand
target: {base_url: "`+srv.URL+`"}
http: {timeout: 10s}
requests: [{name: x, path: /}]
stages: [{duration: 2s, concurrency: 1000}]
`, nil)
	tot := r.Totals
	// How many rounds the workers make depends on the machine (under -race
	// with other tests beside it, a round takes three times the 200 ms);
	// what matters is that each worker got through and none failed.
	if tot.Failures != 0 || tot.Requests < 1000 || peak.Load() != 1000 {
		t.Errorf("%d requests, %d failed (%v), the target saw at most %d at once\n%s", tot.Requests, tot.Failures, tot.Errors, peak.Load(), out)
	}
}

// TLS certificates are checked unless the scenario turns checks off, and
// then every report says so.
func TestTLSVerifiedByDefault(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	base := `name: tls
target: {base_url: "` + srv.URL + `"}
requests: [{name: x, path: /}]
stages: [{duration: 1s, rate: 20/s}]
`
	_, strict, _ := runScenario(t, base, nil)
	if tot := strict.Totals; tot.Requests == 0 || tot.Errors["tls"] != tot.Requests {
		t.Errorf("a self-signed certificate was not refused: errors %v of %d", tot.Errors, tot.Requests)
	}
	const note = "TLS certificate checks were off"
	for _, n := range strict.Notes {
		if strings.Contains(n, note) {
			t.Errorf("strict run notes %q", n)
		}
	}
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", strings.Replace(base, "requests:", "http: {insecure_tls: true}\nrequests:", 1))
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "run")
	if code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out, "-q"}); code != ExitPass {
		t.Fatalf("insecure run: exit %d\n%s", code, stderr.String())
	}
	loose := readReport(t, out)
	if loose.Totals.Failures != 0 {
		t.Errorf("insecure run: %d failures (%v)", loose.Totals.Failures, loose.Totals.Errors)
	}
	for _, f := range []string{"report.json", "report.html", "summary.txt", "summary.md"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !strings.Contains(string(b), note) {
			t.Errorf("%s does not say %q (%v)", f, note, err)
		}
	}
	if !strings.Contains(stdout.String(), note) {
		t.Errorf("the terminal summary does not say %q", note)
	}
}

// TestReportFromTruncatedResults: a run's results.lgr cut short is
// reported up to the damage, with a warning that names the byte where the
// whole blocks end, and the figures of exactly the results before it.
func TestReportFromTruncatedResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: cut
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests: [{name: ping, path: "/v1/ping?id={{ uuid }}"}]
stages: [{duration: 1s, rate: 3000/s}]
`)
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out, "-q"}); code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	r := readReport(t, out)
	if r.Totals.Requests < 2000 {
		t.Fatalf("%d requests: too few to fill several blocks", r.Totals.Requests)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.lgr"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.lgr")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	// Ground truth: what a reader gets from the file cut there.
	n, rd := countResults(t, cut)
	if rd.Damage == nil || n == 0 || n >= r.Totals.Requests {
		t.Fatalf("reader: %d of %d results, damage %v", n, r.Totals.Requests, rd.Damage)
	}
	stdout.Reset()
	stderr.Reset()
	code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"report", cut, "--format", "json"})
	var got report.Report
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, stderr.String())
	}
	if got.Totals.Requests != n || !strings.Contains(stderr.String(), rd.Damage.Error()) {
		t.Errorf("exit %d: %d requests reported, %d before the damage; stderr:\n%s\nwant the warning %q", code, got.Totals.Requests, n, stderr.String(), rd.Damage)
	}
}

// countResults reads a results file to its end or its damage, handing
// each result to each when it is not nil.
func countResults(t *testing.T, path string, each ...func(*results.Result)) (uint64, *results.Reader) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := results.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	var res results.Result
	for {
		if err := rd.Next(&res); err != nil {
			if !errors.Is(err, io.EOF) && rd.Damage == nil {
				t.Fatal(err)
			}
			return n, rd
		}
		n++
		for _, f := range each {
			f(&res)
		}
	}
}
