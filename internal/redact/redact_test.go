package redact

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	r := New([]string{"X-Customer-Key", "mobile"})
	r.AddSecret("s3cr3t-value")
	r.AddSecret("ab") // too short to be a secret
	tests := map[string]string{
		`{"access_token":"eyJhbGci.x.y","token_type":"Bearer"}`: `{"access_token":"[REDACTED]","token_type":"Bearer"}`,
		`{"Password" : "p\"w"}`:                                 `{"Password" : "[REDACTED]"}`,
		`{"mobile":"13800138000","name":"ab"}`:                  `{"mobile":"[REDACTED]","name":"ab"}`,
		`Get "http://h/x?api_key=abc&limit=5": EOF`:             `Get "http://h/x?api_key=[REDACTED]&limit=5": EOF`,
		`grant_type=client_credentials&client_secret=xyz`:       `grant_type=client_credentials&client_secret=[REDACTED]`,
		`the value s3cr3t-value leaked, twice: s3cr3t-value`:    `the value [REDACTED] leaked, twice: [REDACTED]`,
		`nothing to see`: `nothing to see`,
		`{"tokens":5}`:   `{"tokens":5}`,
		// Numbers and booleans are masked too, as strings (valid JSON).
		`{"mobile": 13800138000, "n": 1}`:         `{"mobile": "[REDACTED]", "n": 1}`,
		`{"secret":true,"token":-1.5e3}`:          `{"secret":"[REDACTED]","token":"[REDACTED]"}`,
		`{"mobile":null,"mobiles":[13800138000]}`: `{"mobile":null,"mobiles":[13800138000]}`,
	}
	for in, want := range tests {
		if got := r.String(in); got != want {
			t.Errorf("String(%q)\n got %q\nwant %q", in, got, want)
		}
		if got := string(r.Bytes([]byte(in))); got != want {
			t.Errorf("Bytes(%q) = %q", in, got)
		}
	}
	if !r.SensitiveHeader("authorization") || !r.SensitiveHeader("x-customer-key") || r.SensitiveHeader("Accept") {
		t.Error("sensitive headers wrong")
	}
	if !r.SensitiveField("Mobile") || !r.SensitiveField("access_token") || r.SensitiveField("name") {
		t.Error("sensitive fields wrong")
	}
	if strings.Contains(r.String("ab"), Mask) {
		t.Error("a two-letter value was treated as a secret")
	}
}

// Field values are masked at any depth, in arrays and objects (their shape
// kept), and in JSON carried inside a JSON string.
func TestRedactFieldsAnywhere(t *testing.T) {
	t.Parallel()
	r := New([]string{"acct", "mobile"})
	for in, want := range map[string]string{
		`{"acct":["ACCT555","ACCT556"],"n":1}`:             `{"acct":["[REDACTED]","[REDACTED]"],"n":1}`,
		`{"a":{"b":[{"acct": 12}]}}`:                       `{"a":{"b":[{"acct": "[REDACTED]"}]}}`,
		`{"acct":{"no":"ACCT555","tags":["x",7]},"k":"v"}`: `{"acct":{"no":"[REDACTED]","tags":["[REDACTED]","[REDACTED]"]},"k":"v"}`,
		`{"data":"{\"mobile\":\"13912345678\",\"x\":1}"}`:  `{"data":"{\"mobile\":\"[REDACTED]\",\"x\":1}"}`,
		`{"data":"{\"mobile\":13912345678}"}`:              `{"data":"{\"mobile\":\"[REDACTED]\"}"}`,
		`{"data":"{\"acct\":[\"a\\\"b\",\"c\"],\"y\":2}"}`: `{"data":"{\"acct\":[\"[REDACTED]\",\"[REDACTED]\"],\"y\":2}"}`,
		`{"mobile":"a\"b","x":"y"}`:                        `{"mobile":"[REDACTED]","x":"y"}`,
		`not json: "acct": [unclosed`:                      `not json: "acct": [unclosed`,
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

// A secret is masked in every form loadgate may write it in: raw,
// JSON-escaped (with and without Go's escaping of < > &), HTML-escaped,
// in a JavaScript string, percent-encoded and as URL userinfo.
func TestRedactSecretForms(t *testing.T) {
	t.Parallel()
	const secret = `p&ss"w<o>rd' +/?x`
	r := New(nil)
	r.AddSecret(secret)
	forms := Forms(secret)
	for _, want := range []string{`p\u0026ss\"w\u003co\u003erd' +/?x`, `p&ss\"w<o>rd' +/?x`, `p&amp;ss&#34;w&lt;o&gt;rd&#39; +/?x`,
		`p&amp;ss&#34;w&lt;o&gt;rd&#39; &#43;/?x`, `p%26ss%22w%3Co%3Erd%27+%2B%2F%3Fx`, `p&ss%22w%3Co%3Erd%27%20+%2F%3Fx`} {
		found := false
		for _, f := range forms {
			found = found || f == want
		}
		if !found {
			t.Errorf("no form %q among %q", want, forms)
		}
	}
	u := url.URL{Scheme: "http", Host: "h", User: url.UserPassword("admin", secret), Path: "/x"}
	for _, f := range append(forms, u.String()) {
		if got := r.String("<" + f + ">"); strings.Contains(got, "ss") {
			t.Errorf("%q: masked to %q", f, got)
		}
	}
	var b strings.Builder
	fmt.Fprintf(r.Writer(&b), "a %s b", secret)
	if b.String() != "a "+Mask+" b" {
		t.Errorf("Writer wrote %q", b.String())
	}
	// A child's secrets are its parent's too.
	c := r.Child([]string{"acct"})
	c.AddSecret("child-only-secret")
	if r.String("child-only-secret") != Mask || c.String(secret) != Mask || !c.SensitiveField("acct") || r.SensitiveField("acct") {
		t.Error("parent and child do not share secrets as they should")
	}
}
