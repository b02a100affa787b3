package attack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Auth is how requests authenticate.
type Auth struct {
	// Kind is "", "oauth2", "bearer" or "api_key".
	Kind         string
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	Token        string // bearer and api_key
	Header       string // api_key header
}

// AuthStats counts token requests, kept apart from the target's figures.
type AuthStats struct {
	Requests  int64         // token requests made
	Failures  int64         // token requests that failed
	Forced    int64         // refreshes forced by a 401
	Latency   time.Duration // total time spent on token requests
	MaxLat    time.Duration
	LastError string
}

// tokenSource keeps a current OAuth2 token: fetched before the run, renewed
// in the background before it expires, and renewed at once when the
// target answers 401. Requests never wait for a token unless a 401 forced
// a refresh.
type tokenSource struct {
	cfg    *clientcredentials.Config
	client *http.Client

	cur atomic.Pointer[token]
	mu  sync.Mutex // serialises fetches

	statsMu sync.Mutex
	stats   AuthStats

	secrets func(string) // registers each new token with the redactor
}

type token struct {
	header string // "Bearer ..."
	value  string
	gen    uint64
	expiry time.Time
	issued time.Time
}

func newTokenSource(a Auth, client *http.Client, secrets func(string)) *tokenSource {
	return &tokenSource{
		cfg: &clientcredentials.Config{
			ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: a.Scopes,
		},
		client:  client,
		secrets: secrets,
	}
}

// fetch gets a new token and makes it current.
func (ts *tokenSource) fetch(ctx context.Context) (*token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, ts.client)
	start := time.Now()
	t, err := ts.cfg.Token(ctx)
	took := time.Since(start)
	ts.statsMu.Lock()
	ts.stats.Requests++
	ts.stats.Latency += took
	ts.stats.MaxLat = max(ts.stats.MaxLat, took)
	if err != nil {
		ts.stats.Failures++
		ts.stats.LastError = describeTokenError(err)
	}
	ts.statsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("get a token from %s: %s", ts.cfg.TokenURL, describeTokenError(err))
	}
	if ts.secrets != nil {
		ts.secrets(t.AccessToken)
		ts.secrets(t.RefreshToken)
	}
	old := ts.cur.Load()
	var gen uint64
	if old != nil {
		gen = old.gen + 1
	}
	nt := &token{header: "Bearer " + t.AccessToken, value: t.AccessToken, gen: gen, expiry: t.Expiry, issued: start}
	ts.cur.Store(nt)
	return nt, nil
}

// describeTokenError says plainly why a token request failed, without the
// response body, which may echo credentials.
func describeTokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := re.Response.Status
		if re.ErrorCode != "" {
			msg += " " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		return msg
	}
	return err.Error()
}

// start fetches the first token and renews it in the background until
// ctx is done.
func (ts *tokenSource) start(ctx context.Context) error {
	ts.mu.Lock()
	_, err := ts.fetch(ctx)
	ts.mu.Unlock()
	if err != nil {
		return err
	}
	go ts.renew(ctx)
	return nil
}

func (ts *tokenSource) renew(ctx context.Context) {
	for {
		t := ts.cur.Load()
		wait := time.Minute
		if !t.expiry.IsZero() {
			life := t.expiry.Sub(t.issued)
			// Renew when a fifth of the lifetime is left.
			wait = time.Until(t.expiry) - life/5
		}
		wait = max(wait, 50*time.Millisecond)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		ts.mu.Lock()
		if cur := ts.cur.Load(); cur.gen == t.gen {
			if _, err := ts.fetch(ctx); err != nil {
				ts.mu.Unlock()
				// Keep the old token; try again shortly.
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
		}
		ts.mu.Unlock()
	}
}

// forceRefresh renews the token after a 401 with the token of generation
// gen, unless another request already did.
func (ts *tokenSource) forceRefresh(ctx context.Context, gen uint64) (*token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if cur := ts.cur.Load(); cur.gen != gen {
		return cur, nil
	}
	ts.statsMu.Lock()
	ts.stats.Forced++
	ts.statsMu.Unlock()
	return ts.fetch(ctx)
}

// Stats returns the token request counts so far.
func (ts *tokenSource) Stats() AuthStats {
	ts.statsMu.Lock()
	defer ts.statsMu.Unlock()
	return ts.stats
}

// HeaderFor returns the header a request carries under auth a: for
// OAuth2, with a token fetched once through client. Empty for no auth.
func HeaderFor(ctx context.Context, a Auth, client *http.Client, secrets func(string)) (name, value string, err error) {
	switch a.Kind {
	case "":
		return "", "", nil
	case "oauth2":
		t, err := newTokenSource(a, client, secrets).fetch(ctx)
		if err != nil {
			return "", "", err
		}
		return "Authorization", t.header, nil
	}
	st := newStaticAuth(a)
	return st.header, st.value, nil
}

// staticAuth sets a fixed header.
type staticAuth struct {
	header, value string
}

func newStaticAuth(a Auth) *staticAuth {
	if a.Kind == "api_key" {
		h := a.Header
		if h == "" {
			h = "X-API-Key"
		}
		return &staticAuth{header: http.CanonicalHeaderKey(h), value: a.Token}
	}
	v := a.Token
	if !strings.HasPrefix(strings.ToLower(v), "bearer ") {
		v = "Bearer " + v
	}
	return &staticAuth{header: "Authorization", value: v}
}
