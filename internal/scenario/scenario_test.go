package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const valid = `name: demo
description: a valid scenario
target:
  base_url: http://127.0.0.1:8080
  environment: staging
http:
  timeout: 5s
  keepalive: false
  max_connections: 100
requests:
  - name: list
    method: get
    path: /v1/customers?limit=100
    headers:
      Authorization: Bearer abc
    weight: 65
  - name: create
    method: POST
    path: /v1/customers
    body:
      name: Zhang Xiaoming
      mobile: "13800138000"
    weight: 20
stages:
  - name: warmup
    duration: 10s
    rate: 10/s
    ramp_to: 12000/m
  - duration: 1m
    concurrency: 50
thresholds:
  - p95 < 800ms
  - error_rate{request=create} < 0.5%
`

func mustParse(t *testing.T, src string, env map[string]string) *Scenario {
	t.Helper()
	sc, err := Parse(strings.NewReader(src), "s.yaml", mapEnv(env))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return sc
}

func mapEnv(m map[string]string) Env {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	sc := mustParse(t, valid, nil)
	if sc.Name != "demo" || sc.Target.Environment != "staging" {
		t.Errorf("name/env = %q/%q", sc.Name, sc.Target.Environment)
	}
	if sc.HTTP.Timeout.D() != 5*time.Second || *sc.HTTP.KeepAlive || sc.HTTP.MaxConnections != 100 {
		t.Errorf("http = %+v", sc.HTTP)
	}
	if got := sc.Requests[0].Method; got != "GET" {
		t.Errorf("method not upper-cased: %q", got)
	}
	if got := sc.Requests[1].Body; !got.JSON || got.Text != `{"name":"Zhang Xiaoming","mobile":"13800138000"}` {
		t.Errorf("body = %+v", got)
	}
	st := sc.Stages[0]
	if st.Rate.PerSecond != 10 || st.RampTo.PerSecond != 200 || !st.Open() {
		t.Errorf("stage 0 = %+v", st)
	}
	if sc.Stages[1].Name != "stage-2" || sc.Stages[1].Concurrency != 50 || sc.Stages[1].Open() {
		t.Errorf("stage 1 = %+v", sc.Stages[1])
	}
	if sc.TotalDuration() != 70*time.Second {
		t.Errorf("total = %v", sc.TotalDuration())
	}
	if e := sc.Thresholds[1].Expr; e.Request() != "create" || e.Value != 0.005 || sc.Thresholds[1].Line != 33 {
		t.Errorf("threshold = %+v line %d", e, sc.Thresholds[1].Line)
	}
	if sc.Line("stages[1].concurrency") != 30 {
		t.Errorf("line of stages[1].concurrency = %d", sc.Line("stages[1].concurrency"))
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	sc := mustParse(t, "name: d\ntarget: {base_url: embedded}\nrequests: [{name: a, path: /}]\nstages: [{duration: 1s, rate: 1}]\n", nil)
	if sc.HTTP.Timeout.D() != DefaultTimeout || !*sc.HTTP.KeepAlive || sc.Target.Environment != "test" || sc.Requests[0].Method != "GET" {
		t.Errorf("defaults not applied: %+v %+v", sc.HTTP, sc.Target)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error text
	}{
		{"unknown top field", "name: x\ntargett: {}\n", []string{`s.yaml:2: targett: unknown field (did you mean "target"?)`}},
		{"unknown nested field", strings.Replace(valid, "  keepalive: false", "  keep_alive: false", 1),
			[]string{`s.yaml:8: http.keep_alive: unknown field (did you mean "keepalive"?)`}},
		{"wrong type", strings.Replace(valid, "max_connections: 100", "max_connections: lots", 1),
			[]string{`s.yaml:9: http.max_connections: want a whole number, got "lots"`}},
		{"bad duration", strings.Replace(valid, "duration: 10s", "duration: 10", 1),
			[]string{`s.yaml:26: stages[0].duration: duration "10" needs a unit, such as 10s`}},
		{"negative duration", strings.Replace(valid, "duration: 10s", "duration: -5s", 1),
			[]string{`s.yaml:26: stages[0].duration: duration "-5s" is negative`}},
		{"zero rate", strings.Replace(strings.Replace(valid, "rate: 10/s", "rate: 0", 1), "    ramp_to: 12000/m\n", "", 1),
			[]string{`s.yaml:27: stages[0].rate: must be above zero`}},
		{"bad rate unit", strings.Replace(valid, "rate: 10/s", "rate: 10/week", 1),
			[]string{`s.yaml:27: stages[0].rate: rate "10/week": unknown unit "week"`}},
		{"rate and concurrency", strings.Replace(valid, "concurrency: 50", "concurrency: 50\n    rate: 5", 1),
			[]string{`s.yaml:29: stages[1]: give either rate`}},
		{"no load", strings.Replace(valid, "    concurrency: 50\n", "", 1),
			[]string{`s.yaml:29: stages[1]: give rate`}},
		{"fault on no connection", valid + "faults: [{type: reset, toxicity: 0%}]\n",
			[]string{`: faults[0].toxicity: must be above 0% and at most 100% of connections`}},
		{"fault under a millisecond", valid + "faults: [{type: timeout, after: 500us}]\n",
			[]string{`: faults[0].after: 500µs: faults take whole milliseconds`}},
		{"duplicate request", strings.Replace(valid, "name: create", "name: list", 1),
			[]string{`s.yaml:17: requests[1].name: "list" is already the name of requests[0]`}},
		{"bad method", strings.Replace(valid, "method: POST", "method: FETCH", 1),
			[]string{`s.yaml:18: requests[1].method: "FETCH" is not an HTTP method`}},
		{"path without slash", strings.Replace(valid, "path: /v1/customers\n", "path: v1/customers\n", 1),
			[]string{`s.yaml:19: requests[1].path: "v1/customers" must start with /`}},
		{"misspelled metric", strings.Replace(valid, "p95 < 800ms", "p59 < 800ms", 1),
			[]string{`s.yaml:32: thresholds[0]: "p59 < 800ms": unknown metric "p59" (did you mean "p50"?)`}},
		{"unknown request in threshold", strings.Replace(valid, "{request=create}", "{request=craete}", 1),
			[]string{`s.yaml:33: thresholds[1]: "error_rate{request=craete} < 0.5%": no request is named "craete" (requests: list, create)`}},
		{"abort on a whole-run metric", strings.Replace(valid, "  - p95 < 800ms\n", "  - {expr: retry_amplification < 1.1, abort: true}\n", 1),
			[]string{`s.yaml:32: thresholds[0].abort: "retry_amplification < 1.1": retry_amplification is known only at the end of a run`}},
		{"abort on one request", strings.Replace(valid, "  - error_rate{request=create} < 0.5%\n", "  - expr: error_rate{request=create} < 0.5%\n    abort: true\n", 1),
			[]string{`s.yaml:33: thresholds[1].abort: "error_rate{request=create} < 0.5%": abort works on thresholds over all requests`}},
		{"after without abort", strings.Replace(valid, "  - p95 < 800ms\n", "  - {expr: p95 < 800ms, after: 30s}\n", 1),
			[]string{`s.yaml:32: thresholds[0].after: "p95 < 800ms": after is the grace period of abort: true`}},
		{"bad base url", strings.Replace(valid, "http://127.0.0.1:8080", "ftp://x", 1),
			[]string{`s.yaml:4: target.base_url: "ftp://x": scheme must be http or https`}},
		{"zero weight", strings.Replace(valid, "weight: 20", "weight: 0", 1),
			[]string{`s.yaml:23: requests[1].weight: must be at least 1`}},
		{"several at once", strings.Replace(strings.Replace(valid, "method: POST", "method: FETCH", 1), "p95 < 800ms", "p59 < 1s", 1),
			[]string{`requests[1].method`, `thresholds[0]`}},
		{"missing required", "description: nothing\n", []string{
			`s.yaml: name: is required`, `target.base_url: is required`, `requests: at least one request`, `stages: at least one stage`}},
		{"syntax", "name: [unclosed\n", []string{`s.yaml:1: YAML syntax:`}},
		{"not a mapping", "- a\n- b\n", []string{`s.yaml:1: want a mapping of fields, got a list`}},
		{"empty", "", []string{`s.yaml: file is empty`}},
		{"invalid utf8", "name: a\ndescription: \xff\xfe\n", []string{`s.yaml:2: file is not valid UTF-8`}},
		{"duplicate key", "name: a\nname: b\n", []string{`s.yaml:2: name: given twice (first at line 1)`}},
		{"missing env", strings.Replace(valid, "Bearer abc", "Bearer ${CRM_TOKEN}", 1),
			[]string{`s.yaml:15: environment variable CRM_TOKEN is not set`}},
		{"expect status out of range", strings.Replace(valid, "weight: 20", "weight: 20\n    expect: {status: [42]}", 1),
			[]string{`s.yaml:24: requests[1].expect.status[0]: 42 is not an HTTP status code`}},
		{"fixture rate", strings.Replace(valid, "thresholds:", "fixture:\n  error_500_rate: 5\nthresholds:", 1),
			[]string{`s.yaml:32: fixture.error_500_rate: must be a fraction from 0 to 1`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tc.src), "s.yaml", mapEnv(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	src := "name: x\ndescription: " + strings.Repeat("a", MaxFileSize) + "\n"
	_, err := Parse(strings.NewReader(src), "big.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "big.yaml: file is larger than 4 MiB") {
		t.Fatalf("err = %v", err)
	}
}

// aliasBomb returns a YAML block of levels lists, each holding ten aliases
// of the one before: a few hundred bytes that expand to 10^levels values.
func aliasBomb(indent string, levels int) string {
	var b strings.Builder
	b.WriteString(indent + "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "%sl%d: &l%d [%s]\n", indent, i, i, repeat(fmt.Sprintf("*l%d", i-1), 10))
	}
	return b.String()
}

// repeat returns n copies of s separated by commas.
func repeat(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ")
}

// Aliases repeating aliases are refused with an error, not decoded into
// millions of values, whether they reach a typed field or a JSON body.
func TestParseAliasBomb(t *testing.T) {
	t.Parallel()
	head := "name: x\ntarget: {base_url: embedded}\nstages: [{duration: 1s, rate: 1}]\n"
	for _, tc := range []struct{ name, src, want string }{
		{"requests", head + "check: &c {path: a, exists: true}\nr: &r {name: a, path: /, expect: {json: [" + repeat("*c", 200) + "]}}\nrequests: [" + repeat("*r", 200) + "]\n", "bomb.yaml:4: requests[14].expect.json[40].path: YAML aliases repeat too much"},
		{"body", head + "requests:\n  - name: a\n    path: /\n    body:\n" + aliasBomb("      ", 10), "bomb.yaml:8: requests[0].body: YAML aliases repeat too much"},
	} {
		_, err := Parse(strings.NewReader(tc.src), "bomb.yaml", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	src := strings.NewReplacer(
		"Bearer abc", "Bearer ${CRM_TOKEN}",
		"max_connections: 100", "max_connections: ${MAXC:-7}",
		"description: a valid scenario", "description: costs $$5 in ${REGION:-eu}",
	).Replace(valid)
	sc := mustParse(t, src, map[string]string{"CRM_TOKEN": "s3cret", "REGION": ""})
	if got := sc.Requests[0].Headers["Authorization"]; got != "Bearer s3cret" {
		t.Errorf("header = %q", got)
	}
	if sc.HTTP.MaxConnections != 7 {
		t.Errorf("max_connections = %d, want the default 7", sc.HTTP.MaxConnections)
	}
	if sc.Description != "costs $5 in eu" {
		t.Errorf("description = %q", sc.Description)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"200": 200, "200/s": 200, "12000/m": 200, "3600/h": 1, "5/ms": 5000, "0.5/s": 0.5} {
		r, err := ParseRate(in)
		if err != nil || r.PerSecond != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, r.PerSecond, err, want)
		}
	}
	for _, in := range []string{"", "fast", "10/d", "-5/s", "NaN"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}
