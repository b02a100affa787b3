package cli

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// kind, as network errors, on schedule.
func checkAllFailed(t *testing.T, r *report.Report, kind string) {
	t.Helper()
	tot := r.Totals
	if tot.Requests < 98 || tot.Requests > 100 || tot.Errors[kind] != tot.Requests || tot.ErrorClasses["network"] != tot.Requests {
		t.Errorf("%d requests (want 100 on schedule), errors %v, classes %v", tot.Requests, tot.Errors, tot.ErrorClasses)
	}
	if r.Verdict != report.Pass || r.Interrupted {
		t.Errorf("verdict %s: the run itself must go on and report", r.Verdict)
	}
}

// A target that accepts and never answers: each request times out after
// 500 ms, the schedule goes on, and the run ends on time.
func TestTargetHangs(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		io.Copy(io.Discard, c) // hold the connection until either side closes it
	})
	begin := time.Now()
	_, r, out := runScenario(t, failureScenario(srv.url()), nil)
	checkAllFailed(t, r, "timeout")
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("a 2 s run against a hung target took %v", took)
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
		time.Sleep(1 * time.Second)
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
