package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/loadgate/loadgate/report"
)

// runScenario runs a scenario file through the CLI and returns the exit
// code, the report and what was printed.
func runScenario(t *testing.T, body string, vars map[string]string, args ...string) (int, *report.Report, string) {
	t.Helper()
	return runScenarioEnv(t, testEnv, body, vars, args...)
}

// runScenarioEnv is runScenario in the Env newEnv makes (plotsEnv to draw
// the plots).
func runScenarioEnv(t *testing.T, newEnv func(io.Writer, io.Writer, map[string]string) *Env, body string, vars map[string]string, args ...string) (int, *report.Report, string) {
	t.Helper()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", body)
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), newEnv(&stdout, &stderr, vars), append([]string{"run", sc, "--out", out}, args...))
	if _, err := os.Stat(filepath.Join(out, "report.json")); err != nil {
		t.Fatalf("no report (exit %d): %s", code, stderr.String())
	}
	return code, readReport(t, out), stdout.String() + stderr.String()
}

// TestOAuth2ShortTokens runs 10 s against the fixture with 2-second
// tokens: tokens are renewed before they expire, so no 401 reaches the
// figures, and token requests are counted apart.
func TestOAuth2ShortTokens(t *testing.T) {
	t.Parallel()
	code, r, out := runScenario(t, `name: oauth
target: {base_url: embedded}
fixture: {token_ttl: 2s, client_secret: "${SECRET}"}
auth:
  type: oauth2_client_credentials
  token_url: /oauth/token
  client_id: loadgate-demo
  client_secret: ${SECRET}
requests:
  - name: list
    path: /v1/customers?limit=5
    expect: {status: [200]}
stages: [{duration: 10s, rate: 50/s}]
thresholds: [rate_4xx == 0]
`, map[string]string{"SECRET": "s3cret-client"})
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if n := r.Totals.StatusCodes["401"]; n != 0 || r.Totals.Requests != 500 {
		t.Errorf("401s %d of %d requests", n, r.Totals.Requests)
	}
	if r.Auth == nil || r.Auth.TokenRequests < 5 || r.Auth.TokenFailures != 0 {
		t.Fatalf("auth = %+v, want at least 5 token requests in 10 s of 2 s tokens", r.Auth)
	}
	if r.Totals.Requests != r.Totals.LogicalRequests {
		t.Errorf("token requests leaked into the figures: %d requests, %d logical", r.Totals.Requests, r.Totals.LogicalRequests)
	}
}

func TestOAuth2TokenFailureIsClear(t *testing.T) {
	t.Parallel()
	code, r, out := runScenario(t, `name: badauth
target: {base_url: embedded}
auth: {type: oauth2_client_credentials, token_url: /oauth/token, client_id: loadgate-demo, client_secret: wrong-secret}
requests: [{name: list, path: /v1/customers}]
stages: [{duration: 1s, rate: 5/s}]
`, nil)
	if code != ExitRunFail || !strings.Contains(out, "auth: get a token from http://127.0.0.1:") || !strings.Contains(out, "401 Unauthorized invalid_client") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if r.Totals.Requests != 0 || r.Auth.TokenFailures != 1 {
		t.Errorf("requests %d, auth %+v", r.Totals.Requests, r.Auth)
	}
}

// attemptServer answers each request id with a scripted list of statuses,
// one per try, and records when each try came.
type attemptServer struct {
	*httptest.Server
	mu    sync.Mutex
	tries map[string][]time.Time
}

func newAttemptServer(t *testing.T, script func(path string, try int) (int, http.Header)) *attemptServer {
	s := &attemptServer{tries: map[string][]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			t.Error("request without X-Request-Id")
		}
		if seq := r.Header.Get("X-Vegeta-Seq"); seq != "" {
			t.Errorf("request sent with X-Vegeta-Seq %s", seq)
		}
		s.mu.Lock()
		s.tries[id] = append(s.tries[id], time.Now())
		n := len(s.tries[id])
		s.mu.Unlock()
		code, h := script(r.URL.Path, n)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRetries(t *testing.T) {
	t.Parallel()
	srv := newAttemptServer(t, func(path string, try int) (int, http.Header) {
		switch path {
		case "/flaky": // 503 twice, then fine
			if try <= 2 {
				return 503, nil
			}
			return 200, nil
		case "/down":
			return 500, nil
		case "/bad":
			return 400, nil
		case "/busy": // 429 asking for 5 s, which the cap cuts to 300 ms
			if try == 1 {
				return 429, http.Header{"Retry-After": {"5"}}
			}
			return 200, nil
		}
		return 404, nil
	})
	code, r, out := runScenario(t, `name: retries
target: {base_url: "`+srv.URL+`"}
retry:
  on_5xx: {max: 2, delay: 100ms, backoff: fixed}
  on_429: {max: 3, delay: 50ms, cap: 300ms}
requests:
  - {name: flaky, path: /flaky}
  - {name: down, path: /down}
  - {name: bad, path: /bad}
  - {name: busy, path: /busy}
stages: [{duration: 1s, rate: 40/s}]
thresholds: ["retry_amplification{request=flaky} == 3"]
`, nil)
	if code != ExitPass { // the one threshold holds, though down and bad fail
		t.Fatalf("exit %d\n%s", code, out)
	}
	flaky, down, bad, busy := r.Requests["flaky"].Totals, r.Requests["down"].Totals, r.Requests["bad"].Totals, r.Requests["busy"].Totals
	if flaky.LogicalRequests != 10 || flaky.Requests != 30 || flaky.RetryCauses["503"] != 20 || flaky.SucceededAfter != 10 || flaky.SuccessRate != 1 {
		t.Errorf("flaky: %+v", flaky)
	}
	if down.Requests != 3*down.LogicalRequests || down.SuccessRate != 0 || down.Rate5xx != 1 {
		t.Errorf("down: retries not bounded to 2: %d tries for %d requests", down.Requests, down.LogicalRequests)
	}
	if bad.Requests != bad.LogicalRequests || bad.Retries != 0 {
		t.Errorf("bad: a 400 was retried: %+v", bad)
	}
	if !r.Thresholds[0].Pass {
		t.Errorf("retry_amplification threshold: %+v", r.Thresholds[0])
	}
	// Latency stays per try; end to end includes the two 100 ms waits.
	fl := r.Requests["flaky"]
	if fl.Latency.P50 > 50 || fl.E2ELatency == nil || fl.E2ELatency.P50 < 200 || fl.E2ELatency.P50 > 400 {
		t.Errorf("flaky latency per try p50 %v, end to end %+v", fl.Latency.P50, fl.E2ELatency)
	}
	// Retry-After of 5 s is capped at 300 ms: the retry comes no sooner,
	// and (on a busy machine, within five times the cap) long before 5 s.
	srv.mu.Lock()
	defer srv.mu.Unlock()
	capped := 0
	for _, times := range srv.tries {
		if len(times) == 2 {
			gap := times[1].Sub(times[0])
			if gap < 290*time.Millisecond || gap > 5*300*time.Millisecond {
				t.Errorf("429 retry after %v, want the 300 ms cap", gap)
			}
			capped++
		}
	}
	if capped != 10 || busy.SuccessRate != 1 {
		t.Errorf("busy: %d requests retried once, success %v", capped, busy.SuccessRate)
	}
}

func TestNetworkRetriesAreBounded(t *testing.T) {
	t.Parallel()
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close() // a closed port: connection refused
	code, r, _ := runScenario(t, `name: dead
target: {base_url: "`+dead+`"}
retry: {on_network: {max: 2, delay: 20ms}}
requests: [{name: x, path: /}]
stages: [{duration: 500ms, rate: 20/s}]
thresholds: [network_error_rate < 1%]
`, nil)
	if code != ExitFail {
		t.Fatalf("exit %d", code)
	}
	tot := r.Totals
	if tot.LogicalRequests != 10 || tot.Requests != 30 || tot.Errors["refused"] != 30 || tot.NetworkRate != 1 || tot.RetryCauses["network"] != 20 {
		t.Errorf("totals: %+v", tot)
	}
}

// TestSecretsNeverWritten runs a scenario whose secrets could leak in
// every way: a client secret, a static key in a header, a key in a query
// string, a password in a body, and OAuth2 tokens. It then searches every
// file the run wrote, and what it printed, for any of them.
func TestSecretsNeverWritten(t *testing.T) {
	t.Parallel()
	const clientSecret, apiKey, password = "cl1ent-s3cret-value", "k3y-0123456789abcdef", "pa55w0rd-hunter2"
	var echoed atomic.Int64
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echoed.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(500) // failures: examples and the request log keep bodies
		w.Write([]byte(`{"error_code":500301,"seen":` + string(body) + `,"query":"` + r.URL.RawQuery + `","auth":"` + r.Header.Get("X-Api-Key") + `"}`))
	}))
	defer echo.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: secrets
target: {base_url: embedded}
fixture: {client_secret: "${CLIENT_SECRET}"}
auth: {type: oauth2_client_credentials, token_url: /oauth/token, client_id: loadgate-demo, client_secret: "${CLIENT_SECRET}"}
redact: [X-Api-Key]
requests:
  - name: list
    path: /v1/customers?limit=600&api_key=${API_KEY}
  - name: echo
    method: POST
    path: /v1/customers
    headers: {X-Api-Key: "${API_KEY}", Content-Type: application/json}
    body: {name: "x", password: "${LOGIN_PASSWORD}"}
stages: [{duration: 1s, rate: 20/s}]
`)
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"CLIENT_SECRET": clientSecret, "API_KEY": apiKey, "LOGIN_PASSWORD": password}
	out := filepath.Join(dir, "run")
	code := Run(context.Background(), testEnv(&stdout, &stderr, vars), []string{"run", sc, "--out", out})
	if code != ExitPass && code != ExitFail {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// The same scenario against the echo server, whose answers repeat
	// what was sent.
	code = Run(context.Background(), testEnv(&stdout, &stderr, vars), []string{"run", sc, "--out", filepath.Join(dir, "run2"), "--target", echo.URL})
	if code != ExitRunFail { // the echo server is no token endpoint
		t.Logf("exit %d", code)
	}
	sc2 := writeScenario(t, dir, "s2.yaml", strings.Replace(strings.Replace(readFile(t, sc), "auth:", "#auth:", 1), "name: secrets", "name: secrets2", 1))
	Run(context.Background(), testEnv(&stdout, &stderr, vars), []string{"run", sc2, "--out", filepath.Join(dir, "run3"), "--target", echo.URL})
	if echoed.Load() < 10 {
		t.Fatalf("the echo server saw %d requests", echoed.Load())
	}
	token := regexp.MustCompile(`at\.[0-9a-z]+\.[0-9a-f]{12}\.`)
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".yaml") {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range []string{clientSecret, apiKey, password} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the secret %q", p, s)
			}
		}
		if token.Match(b) {
			t.Errorf("%s holds an OAuth2 token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 9 {
		t.Errorf("searched only %d files", files)
	}
	for _, s := range []string{clientSecret, apiKey, password} {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Errorf("the terminal output holds %q", s)
		}
	}
	// The searched files really hold the places a secret would be.
	if !strings.Contains(readFile(t, filepath.Join(dir, "run3", "requests.jsonl")), `api_key=[REDACTED]`) {
		t.Error("the request log lacks the redacted query string")
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "run3", "report.json")), `\"password\":\"[REDACTED]\"`) {
		t.Error("the report's examples lack the redacted body")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRequestLog checks what the request log holds: every failure, one
// success in N, the fields, and its size cap.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	srv := newMixServer(0)
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: log
target: {base_url: "`+srv.URL+`"}
log: {sample: 10}
requests: [{name: mix, path: /mix}]
stages: [{duration: 1s, rate: 500/s}]
`)
	out := filepath.Join(dir, "run")
	Run(context.Background(), testEnv(io.Discard, io.Discard, nil), []string{"run", sc, "--out", out})
	f, err := os.Open(filepath.Join(out, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	failures, successes := 0, 0
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	sc2 := bufio.NewScanner(f)
	for sc2.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc2.Bytes(), &e); err != nil {
			t.Fatalf("not JSON: %s", sc2.Text())
		}
		for _, k := range []string{"time", "request_id", "request", "method", "url", "status", "error_type", "retry_count", "latency_ms"} {
			if _, ok := e[k]; !ok {
				t.Fatalf("line lacks %s: %s", k, sc2.Text())
			}
		}
		if !uuid.MatchString(e["request_id"].(string)) {
			t.Errorf("request_id %v is not a UUID", e["request_id"])
		}
		if e["error_type"] == "ok" {
			successes++
		} else {
			failures++
			if e["error_type"] != "protocol" || e["error_code"] != nil && e["error_code"] == "" {
				t.Errorf("failure line: %s", sc2.Text())
			}
		}
	}
	if failures != 40 || successes < 40 || successes > 50 {
		t.Errorf("logged %d failures (want all 40 of 500) and %d successes (want about 1 in 10 of 460)", failures, successes)
	}

	// A small cap: the log stops growing and says how much it dropped.
	code, r, _ := runScenario(t, strings.Replace(readFile(t, sc), "log: {sample: 10}", "log: {sample: 1, max_size: 2KB}", 1), nil)
	if code != ExitPass || r.RequestLog == nil || r.RequestLog.Dropped == 0 || r.RequestLog.Lines == 0 || r.RequestLog.Lines+r.RequestLog.Dropped != 500 {
		t.Errorf("capped log: exit %d, %+v", code, r.RequestLog)
	}
}

// TestFeederAndPools runs a unique feeder until it runs out, and a
// create-then-delete chain through a capture pool.
func TestFeederAndPools(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "people.csv"), []byte("name\nann\nbob\ncid\ndee\neve\n"), 0o644)
	sc := writeScenario(t, dir, "s.yaml", `name: feed
target: {base_url: "`+srv.URL+`"}
data: {people: {file: people.csv, mode: unique}}
requests: [{name: p, path: "/people/{{ row.name }}", data: people}]
stages: [{duration: 2s, rate: 50/s}]
`)
	out := filepath.Join(dir, "run")
	code := Run(context.Background(), testEnv(io.Discard, io.Discard, nil), []string{"run", sc, "--out", out})
	r := readReport(t, out)
	if code != ExitPass || r.Totals.Requests != 5 || len(seen) != 5 || !strings.Contains(r.Stopped, "people ran out of rows") {
		t.Errorf("exit %d, %d requests, seen %v, stopped %q", code, r.Totals.Requests, seen, r.Stopped)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times", p, n)
		}
	}

	code, r, out2 := runScenario(t, `name: chain
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
requests:
  - name: create
    method: POST
    path: /v1/customers
    body: {name: "Chain {{ unique }}", mobile: "13800138000", customer_type: vip}
    capture: {made: data.customer_id}
    weight: 2
  - name: remove
    method: DELETE
    path: /v1/customers/{{ take made }}
    expect: {status: [200], json: [{path: data.deleted, equals: true}]}
    weight: 1
stages: [{duration: 2s, concurrency: 4}]
thresholds: [error_rate == 0]
`, nil)
	rm := r.Requests["remove"].Totals
	if code != ExitPass || rm.Requests == 0 || rm.Requests > r.Requests["create"].Totals.Requests {
		t.Errorf("exit %d, removes %d, creates %d\n%s", code, rm.Requests, r.Requests["create"].Totals.Requests, out2)
	}
	share := float64(rm.Requests) / float64(r.Totals.Requests)
	if math.Abs(share-1.0/3) > 0.05 {
		t.Errorf("remove share %.3f, want about 1/3", share)
	}
}

// TestBusinessErrors: 200s with a wrong body are business errors; error
// codes are counted per code; group_by splits the breakdown.
func TestBusinessErrors(t *testing.T) {
	t.Parallel()
	code, r, out := runScenario(t, `name: business
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
fixture: {corrupt_rate: 0.1, error_500_rate: 0.05, fault_node: db-03, seed: 9}
group_errors_by: {header: X-Backend-Node}
requests:
  - name: get
    path: /v1/customers/100000000000000007
    expect:
      status: [200]
      json: [{name: mobile intact, path: data.mobile, equals: "13800000007"}]
stages: [{duration: 2s, rate: 500/s}]
thresholds:
  - business_error_rate < 1%
  - error_code{code=500301} < 10%
  - check_failure_rate{check=mobile intact} < 50%
  - check_failure_rate < 50%
`, nil)
	if code != ExitFail {
		t.Fatalf("exit %d\n%s", code, out)
	}
	tot := r.Totals
	n := float64(tot.LogicalRequests)
	biz, proto := float64(tot.ErrorClasses["business"])/n, float64(tot.ErrorClasses["protocol"])/n
	if math.Abs(proto-0.05) > 0.02 || math.Abs(biz-0.095) > 0.025 {
		t.Errorf("protocol %.3f (want 0.05), business %.3f (want 0.1 of the 95%% that pass)", proto, biz)
	}
	if tot.ErrorCodes["500301"] != tot.ErrorClasses["protocol"] {
		t.Errorf("error codes %v, protocol errors %d", tot.ErrorCodes, tot.ErrorClasses["protocol"])
	}
	if g := tot.Groups["db-03"]; g.StatusCodes["500"] < tot.StatusCodes["500"]*9/10 {
		t.Errorf("db-03 has %d of %d 500s", g.StatusCodes["500"], tot.StatusCodes["500"])
	}
	get := r.Requests["get"]
	if len(get.Examples) != 5 || get.Checks[0].Name != "mobile intact" || get.Checks[0].Failed != tot.ErrorClasses["business"] {
		t.Errorf("examples %d, checks %+v", len(get.Examples), get.Checks)
	}
	if r.Thresholds[0].Pass || !r.Thresholds[1].Pass {
		t.Errorf("thresholds %+v", r.Thresholds)
	}
	// The check's own failure rate: its failures over the responses it
	// checked (the 5% of 500s were not); with no check named, business
	// errors over the requests whose content was checked.
	c := get.Checks[0]
	if want := float64(c.Failed) / float64(c.Checked); c.Checked == 0 || c.Checked == tot.LogicalRequests ||
		math.Abs(r.Thresholds[2].Actual-want) > 1e-12 || math.Abs(r.Thresholds[3].Actual-want) > 1e-12 || !r.Thresholds[2].Pass {
		t.Errorf("check %+v: check_failure_rate %v and %v, want %v", c, r.Thresholds[2].Actual, r.Thresholds[3].Actual, want)
	}
}

// TestRedactListedFields: a header and a JSON field named under redact:,
// with literal values (no secret-sounding variable to give them away), a
// number among them, are in no file of the run and nowhere in its output,
// even where a failing check on the field would quote it.
func TestRedactListedFields(t *testing.T) {
	t.Parallel()
	const card, key = "4111111111111111", "ck-literal-7788"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte(`{"seen":` + string(body) + `,"echoed_key":"` + r.Header.Get("X-Customer-Key") + `"}`))
	}))
	defer echo.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "s.yaml", `name: listed
target: {base_url: "`+echo.URL+`"}
redact: [X-Customer-Key, card_number]
log: {sample: 1}
requests:
  - name: pay
    method: POST
    path: /pay
    headers: {X-Customer-Key: `+key+`, Content-Type: application/json}
    body: {name: x, card_number: `+card+`}
    expect:
      json: [{path: seen.card_number, equals: 1}]
stages: [{duration: 1s, rate: 20/s}]
thresholds: [error_rate == 0]
`)
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "run")
	if code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out}); code != ExitFail {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	r := readReport(t, out)
	if r.Totals.Requests != 20 || r.Totals.BusinessRate != 1 {
		t.Fatalf("%d requests, business error rate %v, want 20 failing their check", r.Totals.Requests, r.Totals.BusinessRate)
	}
	files := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		for _, s := range []string{card, key} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return err
	})
	if err != nil || files < 9 {
		t.Fatalf("searched %d files: %v", files, err)
	}
	for _, s := range []string{card, key} {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Errorf("the terminal shows %q", s)
		}
	}
	if log := readFile(t, filepath.Join(out, "requests.jsonl")); !strings.Contains(log, `"card_number":"[REDACTED]"`) && !strings.Contains(log, "redacted") {
		t.Errorf("the request log does not show the masking:\n%.500s", log)
	}
}

// TestExampleBodiesTruncated: failing bodies are kept as examples, cut to
// 2 KiB without cutting a character in two; a body that is not text keeps
// its 2 KiB.
func TestExampleBodiesTruncated(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a", 2047) + "é" + strings.Repeat("b", 8000) // é spans bytes 2047 and 2048
	binary := bytes.Repeat([]byte{0xff, 0xfe}, 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		if r.URL.Path == "/text" {
			w.Write([]byte(text))
		} else {
			w.Write(binary)
		}
	}))
	defer srv.Close()
	_, r, out := runScenario(t, `name: bodies
target: {base_url: "`+srv.URL+`"}
requests: [{name: text, path: /text}, {name: bin, path: /bin}]
stages: [{duration: 500ms, rate: 20/s}]
`, nil)
	ex, bin := r.Requests["text"].Examples, r.Requests["bin"].Examples
	if len(ex) == 0 || len(bin) == 0 {
		t.Fatalf("examples: %d text, %d binary\n%s", len(ex), len(bin), out)
	}
	if e := ex[0]; !e.Truncated || e.Body != strings.Repeat("a", 2047) {
		t.Errorf("text example: truncated %v, %d bytes, valid UTF-8 %v", e.Truncated, len(e.Body), utf8.ValidString(e.Body))
	}
	// Written to JSON, bytes that are not UTF-8 read back as U+FFFD, one
	// each: 2048 of them.
	if e := bin[0]; !e.Truncated || utf8.RuneCountInString(e.Body) != 2048 {
		t.Errorf("binary example: truncated %v, %d characters", e.Truncated, utf8.RuneCountInString(e.Body))
	}
}

// TestRedactTemplatedHeader: a header listed under redact whose value is a
// template is rendered per request, so its values are not known before the
// run; each request's value is masked wherever the target echoed it (body,
// headers, check messages, the group-by value), in every file and on the
// terminal, while the same value in a header not listed is written as it
// came (the echo reaches the outputs).
func TestRedactTemplatedHeader(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keys, plains []string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, plain := r.Header.Get("X-Customer-Key"), r.Header.Get("X-Plain")
		mu.Lock()
		keys, plains = append(keys, key), append(plains, plain)
		mu.Unlock()
		w.Header().Set("X-Echo", key)
		w.WriteHeader(500)
		w.Write([]byte(`{"key":"` + key + `","plain":"` + plain + `"}`))
	}))
	defer echo.Close()
	_, r, term := runScenario(t, `name: templated
target: {base_url: "`+echo.URL+`"}
redact: [X-Customer-Key]
log: {sample: 1}
group_errors_by: {header: X-Echo}
requests:
  - name: pay
    path: /pay
    headers: {X-Customer-Key: "ck-{{ uuid }}", X-Plain: "pl-{{ uuid }}"}
    expect:
      json: [{path: key, equals: "nothing"}]
stages: [{duration: 500ms, rate: 20/s}]
`, nil)
	if r.Totals.Requests != 10 {
		t.Fatalf("%d requests, want 10", r.Totals.Requests)
	}
	out := filepath.Join(filepath.Dir(r.Scenario.File), "run")
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 10 || len(plains) != 10 || keys[0] == keys[1] {
		t.Fatalf("the server saw keys %v", keys)
	}
	var all strings.Builder
	all.WriteString(term)
	for _, k := range keys {
		if strings.Contains(term, k) {
			t.Errorf("the terminal shows the key %q", k)
		}
	}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		for _, k := range keys {
			if bytes.Contains(b, []byte(k)) || bytes.Contains(b, []byte(strings.TrimPrefix(k, "ck-"))) {
				t.Errorf("%s holds the key %q", p, k)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, p := range plains {
		if strings.Contains(all.String(), p) {
			shown++
		}
	}
	if shown == 0 || !strings.Contains(all.String(), `key\":\"[REDACTED]`) {
		t.Fatalf("the outputs show %d of the plain values and no masked key: the echo did not reach them", shown)
	}
}

// TestGroupByJSONCountsEveryTry: group_errors_by a JSON field counts the
// tries that were retried too: every first try fails on node n1, every
// retry succeeds on n2, and the breakdown shows both.
func TestGroupByJSONCountsEveryTry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		mu.Lock()
		again := seen[id]
		seen[id] = true
		mu.Unlock()
		if !again {
			w.WriteHeader(503)
			w.Write([]byte(`{"node":"n1"}`))
			return
		}
		w.Write([]byte(`{"node":"n2"}`))
	}))
	defer srv.Close()
	_, r, out := runScenario(t, `name: groups
target: {base_url: "`+srv.URL+`"}
group_errors_by: {json: node}
retry: {on_5xx: {max: 1, delay: 10ms, backoff: fixed}}
requests: [{name: get, path: /x}]
stages: [{duration: 500ms, rate: 20/s}]
`, nil)
	g := r.Totals.Groups
	if len(seen) != 10 || g["n1"].Requests != 10 || g["n1"].Errors != 10 || g["n2"].Requests != 10 || g["n2"].Errors != 0 {
		t.Fatalf("%d requests; groups %+v\n%s", len(seen), g, out)
	}
}
