// Package redact keeps secrets out of everything loadgate writes: known
// secret values (tokens, client secrets, keys from the environment) and
// the values of sensitive JSON fields and query parameters.
package redact

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// DefaultFields are always redacted, as JSON fields and query parameters.
var DefaultFields = []string{
	"access_token", "refresh_token", "id_token", "client_secret", "password", "passwd",
	"secret", "token", "api_key", "apikey", "authorization",
}

// minSecret is the shortest value treated as a secret: shorter ones would
// mask ordinary text.
const minSecret = 4

// Redactor masks secrets in text. It is safe for concurrent use; secrets
// may be added while a run goes on (a new OAuth2 token, say).
type Redactor struct {
	mu      sync.Mutex
	secrets atomic.Pointer[[]string]
	fields  []string
	re      *regexp.Regexp // field values in JSON and in query strings
	num     *regexp.Regexp // numbers and booleans as JSON field values
	headers map[string]bool
}

// New returns a redactor for the default fields plus extra names (header
// names, JSON fields or query parameters).
func New(extra []string) *Redactor {
	r := &Redactor{headers: map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true, "cookie": true}}
	seen := map[string]bool{}
	for _, f := range append(append([]string(nil), DefaultFields...), extra...) {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != "" && !seen[f] {
			seen[f] = true
			r.fields = append(r.fields, f)
			r.headers[f] = true
		}
	}
	sort.Strings(r.fields)
	quoted := make([]string, len(r.fields))
	for i, f := range r.fields {
		quoted[i] = regexp.QuoteMeta(f)
	}
	alt := strings.Join(quoted, "|")
	// "field": "value" in JSON, and field=value in query strings and forms.
	r.re = regexp.MustCompile(`(?i)("(?:` + alt + `)"\s*:\s*")((?:[^"\\]|\\.)*)(")|([?&;\s](?:` + alt + `)=)([^&\s"#]*)()`)
	// "field": 13800138000 (or true): masked as a string, so the JSON
	// stays valid.
	r.num = regexp.MustCompile(`(?i)("(?:` + alt + `)"\s*:\s*)(-?[0-9][0-9.eE+-]*|true|false)`)
	empty := []string{}
	r.secrets.Store(&empty)
	return r
}

// AddSecret registers a value that must never appear in output.
func (r *Redactor) AddSecret(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecret {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.secrets.Load()
	for _, s := range old {
		if s == v {
			return
		}
	}
	next := append(append(make([]string, 0, len(old)+1), old...), v)
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(next, func(i, j int) bool { return len(next[i]) > len(next[j]) })
	r.secrets.Store(&next)
}

// SensitiveField reports whether a JSON field or query parameter's value
// must be masked.
func (r *Redactor) SensitiveField(name string) bool {
	name = strings.ToLower(name)
	i := sort.SearchStrings(r.fields, name)
	return i < len(r.fields) && r.fields[i] == name
}

// Sent masks in s the values vals that one request sent (in headers
// rendered per request, unknown before it): they are that request's
// secrets only, so they are not kept as the run's.
func Sent(s string, vals []string) string {
	for _, v := range vals {
		if len(v) >= minSecret && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// SentBytes is Sent for bytes; it returns b itself when none is there.
func SentBytes(b []byte, vals []string) []byte {
	for _, v := range vals {
		if len(v) >= minSecret && bytes.Contains(b, []byte(v)) {
			b = bytes.ReplaceAll(b, []byte(v), []byte(Mask))
		}
	}
	return b
}

// SensitiveHeader reports whether a header's value must be masked.
func (r *Redactor) SensitiveHeader(name string) bool { return r.headers[strings.ToLower(name)] }

// String masks the secrets in s.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	for _, sec := range *r.secrets.Load() {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	if r.mayHoldField(s) {
		s = r.re.ReplaceAllString(s, "${1}${4}"+Mask+"${3}${6}")
		s = r.num.ReplaceAllString(s, `${1}"`+Mask+`"`)
	}
	return s
}

// Bytes masks the secrets in b, returning b itself when there are none.
func (r *Redactor) Bytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	for _, sec := range *r.secrets.Load() {
		if bytes.Contains(b, []byte(sec)) {
			b = bytes.ReplaceAll(b, []byte(sec), []byte(Mask))
		}
	}
	if r.mayHoldField(string(b)) {
		b = r.re.ReplaceAll(b, []byte("${1}${4}"+Mask+"${3}${6}"))
		b = r.num.ReplaceAll(b, []byte(`${1}"`+Mask+`"`))
	}
	return b
}

// mayHoldField is a cheap test before the regular expression.
func (r *Redactor) mayHoldField(s string) bool {
	ls := strings.ToLower(s)
	for _, f := range r.fields {
		if strings.Contains(ls, f) {
			return true
		}
	}
	return false
}

// URL masks the secrets in a URL: known values anywhere, field values in
// its query string only.
func (r *Redactor) URL(u string) string {
	for _, sec := range *r.secrets.Load() {
		if strings.Contains(u, sec) {
			u = strings.ReplaceAll(u, sec, Mask)
		}
	}
	if strings.IndexByte(u, '?') >= 0 && r.mayHoldField(u) {
		u = r.re.ReplaceAllString(u, "${1}${4}"+Mask+"${3}${6}")
	}
	return u
}
