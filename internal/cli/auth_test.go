package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestForcedRefreshOn401: the target stops taking the first token (as if
// it were revoked): each request that meets the 401 gets one forced
// refresh, shared by every request that held the same token, and one
// retry with the new token; the run ends with every request answered.
// A target that refuses every token gets exactly two tries per request.
func TestForcedRefreshOn401(t *testing.T) {
	t.Parallel()
	for _, always := range []bool{false, true} {
		t.Run(fmt.Sprint("always401=", always), func(t *testing.T) {
			t.Parallel()
			var issued, tries, refused atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					n := issued.Add(1)
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
					return
				}
				tries.Add(1)
				if always || r.Header.Get("Authorization") == "Bearer tok-1" {
					refused.Add(1)
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			_, r, out := runScenario(t, `name: revoked
target: {base_url: "`+srv.URL+`"}
auth: {type: oauth2_client_credentials, token_url: /oauth/token, client_id: c, client_secret: s3cret-value}
requests: [{name: x, path: /x}]
stages: [{duration: 1s, rate: 20/s}]
`, nil)
			// Figures count HTTP tries; logical requests are apart.
			a, n := r.Auth, int64(r.Totals.LogicalRequests)
			if a == nil || n != 20 || int64(r.Totals.Requests) != tries.Load() {
				t.Fatalf("%d requests, %d tries (the target saw %d), auth %+v\n%s", n, r.Totals.Requests, tries.Load(), a, out)
			}
			if always {
				// Every request: a try, a refresh (each with a token not
				// yet refused), one retry; no more.
				if tries.Load() != 2*n || r.Totals.StatusCodes["401"] != uint64(2*n) || r.Totals.SuccessRate != 0 ||
					a.ForcedRefreshes < 1 || a.TokenRequests != a.ForcedRefreshes+1 {
					t.Errorf("always 401: %d tries for %d requests, 401s %d, forced %d of %d token requests",
						tries.Load(), n, r.Totals.StatusCodes["401"], a.ForcedRefreshes, a.TokenRequests)
				}
				return
			}
			// Only tok-1 was refused: one forced refresh (tok-2), shared,
			// and each refused request tried once more, with success.
			if a.ForcedRefreshes != 1 || issued.Load() != 2 || a.TokenRequests != 2 {
				t.Errorf("forced %d, tokens issued %d, token requests %d; want 1, 2, 2", a.ForcedRefreshes, issued.Load(), a.TokenRequests)
			}
			if r.Totals.SuccessRate != 1 || tries.Load() != n+refused.Load() || refused.Load() < 1 ||
				r.Totals.StatusCodes["401"] != uint64(refused.Load()) {
				t.Errorf("success %v, statuses %v; %d tries, %d refused, for %d requests", r.Totals.SuccessRate, r.Totals.StatusCodes, tries.Load(), refused.Load(), n)
			}
		})
	}
}

// TestAPIKeyAuth: the key goes in the named header (X-API-Key by
// default) of every request that does not set that header itself, and no
// Authorization header is sent.
func TestAPIKeyAuth(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"", "X-Key"} {
		t.Run("header="+header, func(t *testing.T) {
			t.Parallel()
			want := header
			if want == "" {
				want = "X-API-Key"
			}
			var mu sync.Mutex
			seen := map[string]map[string]int{} // path: key value: count
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if seen[r.URL.Path] == nil {
					seen[r.URL.Path] = map[string]int{}
				}
				seen[r.URL.Path][r.Header.Get(want)]++
				if r.Header.Get("Authorization") != "" {
					seen[r.URL.Path]["authorization"]++
				}
			}))
			defer srv.Close()
			auth := "{type: api_key, token: ak-0123456789}"
			if header != "" {
				auth = "{type: api_key, token: ak-0123456789, header: " + header + "}"
			}
			code, r, out := runScenario(t, `name: key
target: {base_url: "`+srv.URL+`"}
auth: `+auth+`
requests:
  - {name: plain, path: /plain}
  - {name: own, path: /own, headers: {`+want+`: wrong-on-purpose}}
stages: [{duration: 1s, rate: 20/s}]
`, nil)
			if code != ExitPass || r.Totals.Requests != 20 {
				t.Fatalf("exit %d, %d requests\n%s", code, r.Totals.Requests, out)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen["/plain"]) != 1 || seen["/plain"]["ak-0123456789"] != 10 || len(seen["/own"]) != 1 || seen["/own"]["wrong-on-purpose"] != 10 {
				t.Errorf("%s values seen: %v", want, seen)
			}
		})
	}
}
