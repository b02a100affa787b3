package attack

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/scenario"
)

// respWith is a response whose only header is Retry-After: v.
func respWith(v string) *http.Response {
	h := http.Header{}
	h.Set("Retry-After", v)
	return &http.Response{StatusCode: http.StatusTooManyRequests, Header: h}
}

// waits returns the waits before retries 0..n-1 of rule r for resp.
func waits(r *RetryRule, n int, resp *http.Response) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = r.wait(i, resp)
	}
	return out
}

func sameWaits(t *testing.T, what string, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d waits, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: waits %v, want %v (first difference at retry %d)", what, got, want, i)
			return
		}
	}
}

func secs(s ...int) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v) * time.Second
	}
	return out
}

func TestRetryWaitExponentialDoublesFromFirstDelay(t *testing.T) {
	r := &RetryRule{Max: 10, Delay: 2 * time.Second, Exponential: true, Cap: time.Hour}
	sameWaits(t, "2s exponential, no effective cap", waits(r, 6, nil), secs(2, 4, 8, 16, 32, 64))

	r = &RetryRule{Max: 10, Delay: 1500 * time.Millisecond, Exponential: true, Cap: time.Hour}
	want := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second}
	sameWaits(t, "1.5s exponential", waits(r, 4, nil), want)
}

func TestRetryWaitExponentialCapped(t *testing.T) {
	r := &RetryRule{Max: 10, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second}
	sameWaits(t, "2s exponential, cap 30s", waits(r, 7, nil), secs(2, 4, 8, 16, 30, 30, 30))

	// Far past the cap the wait stays at the cap: no overflow of the
	// doubling into a negative or zero wait.
	for _, n := range []int{10, 40, 63, 64, 100, 1000} {
		if got := r.wait(n, nil); got != 30*time.Second {
			t.Errorf("wait(%d) = %v, want the 30s cap", n, got)
		}
	}

	// A cap that is not a power-of-two multiple of the delay.
	r = &RetryRule{Max: 10, Delay: time.Second, Exponential: true, Cap: 5 * time.Second}
	sameWaits(t, "1s exponential, cap 5s", waits(r, 5, nil), secs(1, 2, 4, 5, 5))

	// No cap given: 30 s.
	r = &RetryRule{Max: 10, Delay: 2 * time.Second, Exponential: true}
	sameWaits(t, "2s exponential, cap unset", waits(r, 6, nil), secs(2, 4, 8, 16, 30, 30))
}

func TestRetryWaitFixed(t *testing.T) {
	r := &RetryRule{Max: 5, Delay: 2 * time.Second, Cap: 30 * time.Second}
	sameWaits(t, "2s fixed", waits(r, 5, nil), secs(2, 2, 2, 2, 2))

	// A fixed delay above the cap is bounded by it.
	r = &RetryRule{Max: 3, Delay: 45 * time.Second, Cap: 10 * time.Second}
	sameWaits(t, "45s fixed, cap 10s", waits(r, 3, nil), secs(10, 10, 10))

	// ... and by the 30 s default cap when none is given.
	r = &RetryRule{Max: 3, Delay: time.Minute}
	sameWaits(t, "1m fixed, cap unset", waits(r, 3, nil), secs(30, 30, 30))
}

func TestRetryWaitRetryAfterSeconds(t *testing.T) {
	r := &RetryRule{Max: 5, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second, RetryAfter: true}
	// Retry-After replaces the backoff, whatever the retry number.
	sameWaits(t, "Retry-After: 7", waits(r, 4, respWith("7")), secs(7, 7, 7, 7))
	sameWaits(t, "Retry-After: 0", waits(r, 3, respWith("0")), secs(0, 0, 0))
	sameWaits(t, "Retry-After: ' 5 '", waits(r, 2, respWith(" 5 ")), secs(5, 5))
	sameWaits(t, "Retry-After: 30 (the cap)", waits(r, 2, respWith("30")), secs(30, 30))

	// Larger than the cap: capped.
	sameWaits(t, "Retry-After: 120, cap 30s", waits(r, 3, respWith("120")), secs(30, 30, 30))
	small := &RetryRule{Max: 5, Delay: time.Second, Exponential: true, Cap: 4 * time.Second, RetryAfter: true}
	sameWaits(t, "Retry-After: 5, cap 4s", waits(small, 2, respWith("5")), secs(4, 4))
	unset := &RetryRule{Max: 5, Delay: time.Second, Exponential: true, RetryAfter: true}
	sameWaits(t, "Retry-After: 3600, cap unset", waits(unset, 2, respWith("3600")), secs(30, 30))
	// Large enough to overflow a Duration in nanoseconds: still the cap.
	sameWaits(t, "Retry-After: 10000000000", waits(r, 2, respWith("10000000000")), secs(30, 30))

	// Not honoured when the rule says so, nor without a response (a
	// network error): the backoff applies.
	off := &RetryRule{Max: 5, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second}
	sameWaits(t, "Retry-After: 7, not honoured", waits(off, 4, respWith("7")), secs(2, 4, 8, 16))
	sameWaits(t, "no response", waits(r, 4, nil), secs(2, 4, 8, 16))
	sameWaits(t, "no Retry-After header", waits(r, 4, &http.Response{Header: http.Header{}}), secs(2, 4, 8, 16))
}

func TestRetryWaitRetryAfterHTTPDate(t *testing.T) {
	r := &RetryRule{Max: 5, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second, RetryAfter: true}
	// An HTTP date has a resolution of a second: the wait for a date 10 s
	// from now is within (9 s, 10 s], less the time the test takes.
	const slack = 2 * time.Second
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	for n := range 3 {
		got := r.wait(n, respWith(date))
		if got > 10*time.Second || got < 10*time.Second-slack {
			t.Errorf("Retry-After: %s (10s from now), retry %d: wait %v, want about 10s", date, n, got)
		}
	}
	// The other date forms HTTP allows (RFC 850 and asctime).
	at := time.Now().Add(10 * time.Second).UTC()
	for _, v := range []string{at.Format("Monday, 02-Jan-06 15:04:05 GMT"), at.Format(time.ANSIC)} {
		got := r.wait(0, respWith(v))
		if got > 10*time.Second || got < 10*time.Second-slack {
			t.Errorf("Retry-After: %s (10s from now): wait %v, want about 10s", v, got)
		}
	}

	// A date past the cap: capped.
	far := time.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat)
	if got := r.wait(0, respWith(far)); got != 30*time.Second {
		t.Errorf("Retry-After: %s (5 min from now): wait %v, want the 30s cap", far, got)
	}
	// A date in the past: no wait at all (not the backoff, not negative).
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	if got := r.wait(2, respWith(past)); got != 0 {
		t.Errorf("Retry-After: %s (an hour ago): wait %v, want 0", past, got)
	}

	d, ok := retryAfter(date)
	if !ok || d > 10*time.Second || d < 10*time.Second-slack {
		t.Errorf("retryAfter(%q) = %v, %v; want about 10s, true", date, d, ok)
	}
}

func TestRetryAfterInvalidIgnored(t *testing.T) {
	r := &RetryRule{Max: 5, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second, RetryAfter: true}
	for _, v := range []string{"soon", "-5", "1.5", "5s", "0x10", "Mon, 32 Foo 2024 99:00:00 GMT", "2024-01-01T00:00:00Z", " "} {
		if d, ok := retryAfter(v); ok {
			t.Errorf("retryAfter(%q) = %v, true; want it ignored", v, d)
		}
		// Ignored: the backoff applies.
		sameWaits(t, "Retry-After: "+v, waits(r, 4, respWith(v)), secs(2, 4, 8, 16))
	}
	if d, ok := retryAfter(""); ok {
		t.Errorf(`retryAfter("") = %v, true; want false`, d)
	}
	for v, want := range map[string]time.Duration{"0": 0, "1": time.Second, "42": 42 * time.Second, " 3 ": 3 * time.Second} {
		if d, ok := retryAfter(v); !ok || d != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
		}
	}
}

// The seed (../shared/seed-crm-api-testing.txt) asks for: 429, exponential
// backoff after waiting 1-2 s, at most 30 s; 5xx, a 2 s interval; network
// errors, 2, 4, 8 s, at most 30 s. scenarios/README.md's retry section
// writes that table as on_429 {max 3, delay 1s, exponential, cap 30s},
// on_5xx {max 3, delay 2s, fixed}, on_network {max 3, delay 2s,
// exponential, cap 30s}; the shipped scenarios that retry use it. These are
// the rules the plan makes of it (internal/cli/plan.go retryPolicy: delay
// default 1s, cap default 30s, exponential unless "fixed", Retry-After
// honoured unless turned off).
var (
	seed429     = RetryRule{Max: 3, Delay: time.Second, Exponential: true, Cap: 30 * time.Second, RetryAfter: true}
	seed5xx     = RetryRule{Max: 3, Delay: 2 * time.Second, Exponential: false, Cap: 30 * time.Second, RetryAfter: true}
	seedNetwork = RetryRule{Max: 3, Delay: 2 * time.Second, Exponential: true, Cap: 30 * time.Second, RetryAfter: true}
)

func TestRetrySeedDefaultsWaits(t *testing.T) {
	sameWaits(t, "seed on_network", waits(&seedNetwork, seedNetwork.Max, nil), secs(2, 4, 8))
	sameWaits(t, "seed on_429", waits(&seed429, seed429.Max, nil), secs(1, 2, 4))
	sameWaits(t, "seed on_5xx", waits(&seed5xx, seed5xx.Max, nil), secs(2, 2, 2))
	// Were more retries allowed, the network rule would stop growing at 30 s.
	more := seedNetwork
	more.Max = 10
	sameWaits(t, "seed on_network, 6 retries", waits(&more, 6, nil), secs(2, 4, 8, 16, 30, 30))
	// A 429 with Retry-After waits what the server asks, within 30 s.
	sameWaits(t, "seed on_429, Retry-After: 12", waits(&seed429, 3, respWith("12")), secs(12, 12, 12))
	sameWaits(t, "seed on_429, Retry-After: 90", waits(&seed429, 3, respWith("90")), secs(30, 30, 30))
}

// The shipped scenarios that retry carry the seed's table, as
// scenarios/README.md writes it; the rules above are what the plan makes
// of it.
func TestRetrySeedTableInScenarios(t *testing.T) {
	type rule struct {
		max        int
		delay, cap time.Duration
		backoff    string
	}
	want := map[string]rule{
		"on_429":     {3, time.Second, 30 * time.Second, "exponential"},
		"on_5xx":     {3, 2 * time.Second, 0, "fixed"}, // cap left to the 30 s default
		"on_network": {3, 2 * time.Second, 30 * time.Second, "exponential"},
	}
	noEnv := func(string) (string, bool) { return "", false }
	for _, name := range []string{"normal.yaml", "extreme.yaml"} {
		sc, err := scenario.Load(filepath.Join("..", "..", "scenarios", name), noEnv)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := sc.Retry
		if r == nil {
			t.Fatalf("%s: no retry table", name)
		}
		for class, x := range map[string]*scenario.RetryRule{"on_429": r.On429, "on_5xx": r.On5xx, "on_network": r.OnNetwork} {
			if x == nil {
				t.Errorf("%s: retry.%s missing", name, class)
				continue
			}
			got := rule{x.Max, x.Delay.D(), x.Cap.D(), x.Backoff}
			if got != want[class] || x.RetryAfter != nil && !*x.RetryAfter {
				t.Errorf("%s: retry.%s = %+v (retry_after %v), want the seed's %+v", name, class, got, x.RetryAfter, want[class])
			}
		}
	}
}
