package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loadgate/loadgate/internal/redact"
)

// TestSecretsEveryRoute plants unique secrets through every route a secret
// can come in by (environment variables of secret-like names used in URL
// userinfo, headers, the query, the body and the description; a literal
// value under redact:; a target that echoes them in its body, headers,
// status text and group key, and returns sensitive fields in arrays and in
// JSON held in strings; a bad value quoted by validation), and looks for
// every form of each (raw, JSON- and HTML-escaped, percent-encoded,
// userinfo) in every file of the run folders and in everything printed by
// run, report, compare, capacity, probe and validate.
func TestSecretsEveryRoute(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"DB_PASSWORD":     `pw-db.Qx71~`,            // in base_url's userinfo (as a URL allows it)
		"API_TOKEN":       `tok"<&>en-Zr42`,         // Authorization header, description
		"SESSION_KEY":     `sess-Kk93<q>&"`,         // in the query string
		"LOGIN_SECRET":    `login&"<Mm55>`,          // in the body
		"MY_SECRET":       `not-a-duration-Yy18"<&`, // quoted by a validation error
		"SCRAPE_PASSWORD": `scr-Pp61.x`,             // in a scrape URL's userinfo
		"METRICS_TOKEN":   `met"<&>Tt33`,            // a scrape's Authorization header
	}
	const literal = `lit"<eral>&Ww06` // a literal value under redact:
	// Values the target returns under sensitive field names only.
	const acct, mobile = "ACCT-Vv27-555", "13912345678"
	srv := newRawServer(t, func(c net.Conn, r *http.Request) {
		echo := r.Header.Get("Authorization") + " " + r.Header.Get("X-Customer-Key") + " " + r.URL.RawQuery
		echo = strings.NewReplacer("\r", "", "\n", "").Replace(echo)
		body := fmt.Sprintf(`{"error_code":500301,"echo":%q,"acct":[%q],"data":"{\"mobile\":\"%s\"}"}`, echo, acct, mobile)
		fmt.Fprintf(c, "HTTP/1.1 500 %s\r\nX-Node: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			echo, echo, len(body), body)
	})
	dir := t.TempDir()
	base := strings.Replace(srv.url(), "http://", "http://admin:${DB_PASSWORD}@", 1)
	sc := writeScenario(t, dir, "s.yaml", `name: planted
description: "calls with ${API_TOKEN}"
target: {base_url: "`+base+`"}
redact: [X-Customer-Key, acct, mobile]
group_errors_by: {header: X-Node}
requests:
  - name: echo
    method: POST
    path: /v1/x?session=${SESSION_KEY}&limit=5
    headers: {Authorization: "Bearer ${API_TOKEN}", X-Customer-Key: '`+literal+`'}
    body: {name: x, password: "${LOGIN_SECRET}"}
    expect: {status: [200], json: [{path: acct, exists: true}]}
stages: [{duration: 500ms, rate: 20/s}]
thresholds: [error_rate < 50%]
observe:
  scrape: [{name: m, url: "`+strings.Replace(srv.url(), "http://", "http://scraper:${SCRAPE_PASSWORD}@", 1)+`/metrics", headers: {Authorization: "Bearer ${METRICS_TOKEN}"}}]
  series: {up: up}
`)
	bad := writeScenario(t, dir, "bad.yaml", `name: bad
target: {base_url: "`+srv.url()+`"}
http: {timeout: "${MY_SECRET}"}
requests: [{name: a, path: /}]
stages: [{duration: 1s, rate: 1}]
`)
	var printed bytes.Buffer
	run := func(args ...string) int {
		t.Helper()
		var out, errw bytes.Buffer
		code := Run(context.Background(), plotsEnv(&out, &errw, secrets), args)
		printed.Write(out.Bytes())
		printed.Write(errw.Bytes())
		return code
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if code := run("run", sc, "--out", a); code != ExitFail {
		t.Fatalf("run: exit %d\n%s", code, printed.String())
	}
	run("run", sc, "--out", b, "--raw", "vegeta")
	// Each rendering draws the plots, which the race detector makes slow:
	// the formats report prints come from one rendering (--out writes them
	// all), and the capacity search has one step.
	run("report", a, b, "--out", filepath.Join(dir, "merged"))
	run("report", filepath.Join(a, "results.lgr"), "--format", "json")
	for _, f := range []string{"text", "md", "json", "junit"} {
		run("compare", a, b, "--format", f)
	}
	run("export", a, "--format", "json", "--out", filepath.Join(dir, "export.json"))
	run("capacity", sc, "--slo", "error_rate <= 100%", "--start", "1/s", "--max", "1/s", "--step-duration", "1s", "--pause", "0s", "--out", filepath.Join(dir, "cap"))
	run("probe", sc, "--count", "2", "--interval", "10ms")
	run("probe", strings.Replace(base, "${DB_PASSWORD}", secrets["DB_PASSWORD"], 1)+"/v1/x", "--count", "2", "--interval", "10ms")
	if code := run("validate", bad); code != ExitUsage || !strings.Contains(printed.String(), "${MY_SECRET}") {
		t.Errorf("validate: exit %d; the error should name ${MY_SECRET} instead of its value", code)
	}

	// The places a secret would be are there, masked: the run saw the echo.
	rep := readReport(t, a)
	if rep.Totals.StatusCodes["500"] == 0 || len(rep.Totals.Groups) == 0 || rep.Scenario.Description == "" {
		t.Fatalf("the run did not get the echoing answers: %+v", rep.Totals)
	}
	if st := rep.Scrapes["m"]; st.Scrapes == 0 || st.Errors == 0 || !strings.Contains(st.URL, "scraper:") {
		t.Fatalf("the scrape with the planted password and token did not happen: %+v", st)
	}
	var forms []string
	plant := func(v string) {
		for _, f := range redact.Forms(v) {
			if len(f) >= 4 {
				forms = append(forms, f)
			}
		}
	}
	for _, v := range secrets {
		plant(v)
	}
	plant(literal)
	forms = append(forms, acct, mobile)
	check := func(where string, b []byte) {
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				t.Errorf("%s holds a secret, as %q", where, f)
			}
		}
	}
	check("what was printed", printed.Bytes())
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".yaml") {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		check(p, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 40 {
		t.Errorf("searched only %d files", files)
	}
	// The request log holds what the target echoed, masked.
	f, err := os.Open(filepath.Join(a, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc2 := bufio.NewScanner(f)
	if !sc2.Scan() || !strings.Contains(sc2.Text(), redact.Mask) {
		t.Errorf("the request log's first line masks nothing: %s", sc2.Text())
	}
}

// The production guard checks every redirect: a test host that redirects
// to a host listed as production does not get its requests through
// (TestGuardAllowsWhatItMay: unless production is allowed).
func TestGuardChecksRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	prod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer prod.Close()
	test := httptest.NewServer(http.RedirectHandler(prod.URL+"/landed", http.StatusTemporaryRedirect))
	defer test.Close()
	vars := map[string]string{"LOADGATE_PRODUCTION_HOSTS": prod.Listener.Addr().String()}
	scenario := `name: hop
target: {base_url: "` + test.URL + `", environment: test}
requests: [{name: x, path: /}]
stages: [{duration: 300ms, rate: 20/s}]
`
	code, r, out := runScenario(t, scenario, vars)
	if hits.Load() != 0 || code != ExitInconclusive || r.Totals.Errors["system"] != r.Totals.LogicalRequests || r.Totals.StatusCodes["307"] == 0 {
		t.Errorf("production got %d requests; exit %d, errors %v, status %v\n%s", hits.Load(), code, r.Totals.Errors, r.Totals.StatusCodes, out)
	}
	if ex := r.Requests["x"].Examples; len(ex) == 0 || !strings.Contains(ex[0].Error, "refused a redirect to production") {
		t.Errorf("no word of the refused redirect in the examples: %+v", ex)
	}
}
