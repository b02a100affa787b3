package attack

import (
	"io"
	"net/http"
)

// countEveryAttempt wraps an HTTP/1 transport so that each request is
// sent exactly once. Go's transport silently resends a GET (or any
// request without a body) when a reused keep-alive connection turns out
// to be closed, which hides a target that drops connections: the error
// never reaches the figures. A request whose body is set and cannot be
// rewound is never resent; an empty body with an "identity" transfer
// encoding puts no Content-Length or Transfer-Encoding header on the wire,
// so the request the target sees is unchanged.
type countEveryAttempt struct{ next http.RoundTripper }

type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

var identity = []string{"identity"}

func (c countEveryAttempt) RoundTrip(r *http.Request) (*http.Response, error) {
	// vegeta builds a new request for every hit, so changing it here is
	// safe.
	if r.Body == nil || r.Body == http.NoBody {
		r.Body, r.GetBody, r.TransferEncoding = emptyBody{}, nil, identity
	}
	return c.next.RoundTrip(r)
}
