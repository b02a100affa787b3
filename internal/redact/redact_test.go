package redact

import (
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
