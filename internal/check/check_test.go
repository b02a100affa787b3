package check

import (
	"net/http"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/internal/scenario"
)

func checker(t *testing.T, expect string) *Checker {
	t.Helper()
	src := `name: c
target: {base_url: "http://127.0.0.1:1"}
requests:
  - name: r
    method: POST
    path: /x
    body: {amount: 199.99, sku: SKU-1}
    expect:
` + expect + `
stages: [{duration: 1s, rate: 1}]
`
	sc, err := scenario.Parse(strings.NewReader(src), "c.yaml", nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return New(sc, &sc.Requests[0])
}

func TestChecks(t *testing.T) {
	t.Parallel()
	sent := []byte(`{"amount":199.99,"sku":"SKU-1"}`)
	tests := []struct {
		name   string
		expect string
		code   int
		hdr    http.Header
		body   string
		ok     bool // status acceptable
		failed []string
	}{
		{"default status 200", "      {}", 200, nil, `{}`, true, nil},
		{"default status 302", "      {}", 302, nil, ``, true, nil},
		{"default status 404", "      {}", 404, nil, ``, false, nil},
		{"status set hit", "      status: [401, 403]", 403, nil, ``, true, nil},
		{"status set miss", "      status: [401, 403]", 200, nil, ``, false, nil},
		{"header pass", "      headers: {Content-Type: '^application/json'}", 200, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, `{}`, true, nil},
		{"header fail", "      headers: {content-type: '^application/json'}", 200, http.Header{"Content-Type": {"text/html"}}, `{}`, true, []string{"header Content-Type"}},
		{"body regex pass", "      body: '\"code\":0'", 200, nil, `{"code":0}`, true, nil},
		{"body regex fail", "      body: '\"code\":0'", 200, nil, `{"code":1}`, true, []string{"body"}},
		{"error code pass", "      {status: [400], error_code: 400100}", 400, nil, `{"error_code":400100,"message":"x"}`, true, nil},
		{"error code fail", "      {status: [400], error_code: 400100}", 400, nil, `{"error_code":400101}`, true, []string{"error_code"}},
		{"equals number", "      json: [{path: code, equals: 0}]", 200, nil, `{"code":0}`, true, nil},
		{"equals number fail", "      json: [{path: code, equals: 0}]", 200, nil, `{"code":"0"}`, true, []string{"code equals 0"}},
		{"equals string", "      json: [{path: data.status, equals: unpaid}]", 200, nil, `{"data":{"status":"unpaid"}}`, true, nil},
		{"equals string fail", "      json: [{path: data.status, equals: unpaid}]", 200, nil, `{"data":{"status":"canceled"}}`, true, []string{"data.status equals unpaid"}},
		{"equals bool", "      json: [{path: ok, equals: true}]", 200, nil, `{"ok":true}`, true, nil},
		{"regex 18 digits", `      json: [{name: id, path: data.customer_id, regex: '^\d{18}$'}]`, 201, nil, `{"data":{"customer_id":"100000000000000001"}}`, true, nil},
		{"regex 17 digits", `      json: [{name: id, path: data.customer_id, regex: '^\d{18}$'}]`, 201, nil, `{"data":{"customer_id":"10000000000000001"}}`, true, []string{"id"}},
		{"regex letters", `      json: [{name: id, path: data.customer_id, regex: '^\d{18}$'}]`, 201, nil, `{"data":{"customer_id":"10000000000000000A"}}`, true, []string{"id"}},
		{"type array", "      json: [{path: data, type: array}]", 200, nil, `{"data":[]}`, true, nil},
		{"type array fail", "      json: [{path: data, type: array}]", 200, nil, `{"data":{}}`, true, []string{"data type array"}},
		{"type number", "      json: [{path: amount, type: number}]", 200, nil, `{"amount":"1"}`, true, []string{"amount type number"}},
		{"min max pass", "      json: [{path: amount, min: 0, max: 99999}]", 200, nil, `{"amount":99999}`, true, nil},
		{"min fail", "      json: [{path: amount, min: 0}]", 200, nil, `{"amount":-0.01}`, true, []string{"amount >= 0"}},
		{"max fail", "      json: [{path: amount, max: 99999}]", 200, nil, `{"amount":100000}`, true, []string{"amount <= 99999"}},
		{"length array", "      json: [{path: data, length: 2}]", 200, nil, `{"data":[1,2]}`, true, nil},
		{"length string in characters", "      json: [{path: name, length: 3}]", 200, nil, `{"name":"王大明"}`, true, nil},
		{"length fail", "      json: [{path: data, length: 2}]", 200, nil, `{"data":[1]}`, true, []string{"data length 2"}},
		{"min length", "      json: [{path: data, min_length: 1, max_length: 3}]", 200, nil, `{"data":[1,2,3,4]}`, true, []string{"data length >= 1, length <= 3"}},
		{"exists", "      json: [{path: meta.total, exists: true}]", 200, nil, `{"meta":{"total":5}}`, true, nil},
		{"exists fail", "      json: [{path: meta.total, exists: true}]", 200, nil, `{"meta":{}}`, true, []string{"meta.total exists=true"}},
		{"absent", "      json: [{path: error, exists: false}]", 200, nil, `{"error":"x"}`, true, []string{"error exists=false"}},
		{"tolerance pass", "      json: [{name: amount, path: data.amount, sent: amount, tolerance: 0.01}]", 201, nil, `{"data":{"amount":200.00}}`, true, nil},
		{"tolerance fail", "      json: [{name: amount, path: data.amount, sent: amount, tolerance: 0.01}]", 201, nil, `{"data":{"amount":200.05}}`, true, []string{"amount"}},
		{"sent string", "      json: [{name: sku, path: data.sku, sent: sku}]", 201, nil, `{"data":{"sku":"SKU-2"}}`, true, []string{"sku"}},
		{"not json", "      json: [{path: code, equals: 0}]", 200, nil, `<html>`, true, []string{"code equals 0"}},
		{"content not checked on a bad status", "      json: [{path: code, equals: 0}]", 500, nil, `{"code":1}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := checker(t, tc.expect)
			var out Outcome
			c.Check(tc.code, tc.hdr, []byte(tc.body), sent, &out)
			if out.StatusOK != tc.ok {
				t.Fatalf("status ok = %v, want %v", out.StatusOK, tc.ok)
			}
			var got []string
			for _, f := range out.Failed {
				got = append(got, c.Names()[f])
			}
			if strings.Join(got, "|") != strings.Join(tc.failed, "|") {
				t.Errorf("failed = %q, want %q (why %q)", got, tc.failed, out.Why)
			}
			if len(tc.failed) > 0 && out.Why == "" {
				t.Error("a failure without a reason")
			}
		})
	}
}

func TestErrorCodeAndGroup(t *testing.T) {
	t.Parallel()
	src := `name: c
target: {base_url: "http://127.0.0.1:1"}
errors: {code_path: err.code}
group_errors_by: {header: X-Backend-Node}
requests: [{name: r, path: /x}]
stages: [{duration: 1s, rate: 1}]
`
	sc, err := scenario.Parse(strings.NewReader(src), "c.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(sc, &sc.Requests[0])
	var out Outcome
	c.Check(500, http.Header{"X-Backend-Node": {"db-03"}}, []byte(`{"err":{"code":500301}}`), nil, &out)
	if out.ErrorCode != "500301" || out.Group != "db-03" || out.StatusOK {
		t.Errorf("got %+v", out)
	}
}

// BenchmarkCheck checks a typical response: status, a JSON path equality
// and a regular expression.
func BenchmarkCheck(b *testing.B) {
	c := checker(&testing.T{}, `      status: [201]
      json:
        - {path: code, equals: 0}
        - {name: id, path: data.customer_id, regex: '^\d{18}$'}`)
	body := []byte(`{"code":0,"data":{"customer_id":"100000000000000001","name":"Wang Daming","mobile":"13800138000"}}`)
	var out Outcome
	b.ReportAllocs()
	for b.Loop() {
		c.Check(201, nil, body, nil, &out)
	}
}

// TestHiddenValues: a failing check on a redacted field says that it failed
// but not what the value was; other fields still quote theirs.
func TestHiddenValues(t *testing.T) {
	t.Parallel()
	c := checker(t, `      json: [{path: data.mobile, regex: '^1[3-9]\d{9}$'}, {path: data.name, equals: x}]`)
	c.Hide(func(f string) bool { return f == "mobile" })
	var out Outcome
	c.Check(200, nil, []byte(`{"data":{"mobile":99900138000,"name":"y"}}`), nil, &out)
	if len(out.Failed) != 2 || strings.Contains(out.Why, "99900138000") || !strings.Contains(out.Why, "redacted") {
		t.Errorf("failed %v, why %q", out.Failed, out.Why)
	}
	c.Check(200, nil, []byte(`{"data":{"mobile":"13800138000","name":"y"}}`), nil, &out)
	if len(out.Failed) != 1 || !strings.Contains(out.Why, `"y"`) {
		t.Errorf("failed %v, why %q", out.Failed, out.Why)
	}
}
