package attack

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
)

// TestAccuracyTimeout: a timeout fires within max(1%, 2 ms) of its setting,
// on both transports, whatever phase the try is in: a silent target on a
// new connection and on a reused one, a slow TLS handshake, a trickling
// body. Timing only means something without the race detector; make test
// runs this test without it.
func TestAccuracyTimeout(t *testing.T) {
	if raceEnabled {
		t.Skip("timing: run without -race")
	}
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(silent.Close)
	slowTLS := httptest.NewUnstartedServer(http.NotFoundHandler())
	slowTLS.Listener = slowHandshakes{slowTLS.Listener, 500 * time.Millisecond}
	slowTLS.StartTLS()
	t.Cleanup(slowTLS.Close)
	trickle := hostile(t, endlessBody)

	const timeout = 100 * time.Millisecond
	tol := max(timeout/100, 2*time.Millisecond)
	for _, c := range []struct {
		name string
		urls []string // sent one after the other on one connection
	}{
		{"silent, new connection", []string{silent.URL + "/slow"}},
		{"silent, reused connection", []string{silent.URL + "/fast", silent.URL + "/slow"}},
		{"slow handshake", []string{slowTLS.URL}},
		{"endless body", []string{trickle}},
	} {
		for _, viaNet := range []bool{false, true} {
			// The cases wait on timers side by side; the machine stays idle.
			t.Run(fmt.Sprintf("%s, net/http %v", c.name, viaNet), func(t *testing.T) {
				t.Parallel()
				var lats []time.Duration
				for range 6 {
					var last sent
					for _, u := range c.urls {
						last = sendOne(t, viaNet, Client{Timeout: timeout, KeepAlive: true, InsecureTLS: true}, Request{Method: "GET", URL: u})
					}
					if last.kind != outcome.Timeout {
						t.Fatalf("kind %v, want timeout", last.kind)
					}
					lats = append(lats, last.latency)
				}
				slices.Sort(lats)
				// Never early; late by at most the tolerance, but for one
				// try in six that the machine may hold up.
				if lats[0] < timeout || lats[4] > timeout+tol {
					t.Errorf("timeout %v fired after %v", timeout, lats)
				}
			})
		}
	}
}
