package faults

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Faults that start with the run are in force before Begin returns: the
// very first request through the proxy is delayed. Run does not add them
// a second time, and adds a later fault on its schedule.
func TestBeginBeforeFirstRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	p, err := Start(strings.TrimPrefix(srv.URL, "http://"), []Fault{
		{Type: Latency, Latency: 50 * time.Millisecond, Toxicity: 1},
		{Type: Latency, Latency: 10 * time.Millisecond, Toxicity: 1, Direction: "upstream", From: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Begin(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, time.Now()) }()
	start := time.Now()
	resp, err := http.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("the first request took %v through a 50ms latency fault", took)
	}
	// The second fault is due 100 ms in.
	waitFor(t, 10*time.Second, "the second fault was not applied", func() bool { return len(p.Applied()) >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if a := p.Applied(); len(a) != 2 || a[0].Latency != 50*time.Millisecond || a[1].From != 100*time.Millisecond {
		t.Fatalf("applied: %+v", a)
	}
}

// waitFor polls cond every few milliseconds until it holds, and fails the
// test when it still does not after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
