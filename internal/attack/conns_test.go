package attack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTimeoutOnReusedConnection: a connection's deadline moves only once in
// a hundredth of the timeout, yet a request sent on it later still gets its
// whole timeout, and not much more.
func TestTimeoutOnReusedConnection(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(hang)
	const timeout = 300 * time.Millisecond
	c := NewHTTPClient(Client{Timeout: timeout, KeepAlive: true})
	// POST: the transport would send a GET again on a new connection
	// after a reused one failed, hiding the first timeout.
	get := func(path string) error {
		res, err := c.Post(srv.URL+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		return res.Body.Close()
	}
	for range 3 { // the same connection, its deadline moved by the first
		if err := get("/ok"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(timeout / 2)
	start := time.Now()
	err := get("/hang")
	took := time.Since(start)
	// Its whole timeout, and not five times it on a busy machine.
	if err == nil || took < timeout || took > 5*timeout {
		t.Errorf("hanging request: %v after %v, want a timeout after %v", err, took, timeout)
	}
}
