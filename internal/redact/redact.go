// Package redact keeps secrets out of everything loadgate writes: known
// secret values (tokens, client secrets, keys from the environment) and
// the values of sensitive JSON fields and query parameters.
package redact

import (
	"bytes"
	"encoding/json"
	htmlpkg "html"
	"html/template"
	"io"
	"net/url"
	"regexp"
	"slices"
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
	secrets atomic.Pointer[[]string] // every form of every secret, longest first
	values  map[string]bool          // the secrets as given
	parent  *Redactor                // learns every secret this one does
	extra   []string                 // the field names given to New
	fields  []string
	re      *regexp.Regexp // field values in query strings
	keys    *regexp.Regexp // sensitive keys in JSON
	headers map[string]bool
}

// New returns a redactor for the default fields plus extra names (header
// names, JSON fields or query parameters).
func New(extra []string) *Redactor {
	r := &Redactor{headers: map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true, "cookie": true}, extra: extra}
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
	// field=value in query strings and forms.
	r.re = regexp.MustCompile(`(?i)([?&;\s](?:` + alt + `)=)([^&\s"#]*)`)
	// "field": value in JSON, at any depth and in JSON held in strings.
	r.keys = jsonKeys(alt)
	empty := []string{}
	r.secrets.Store(&empty)
	return r
}

// AddSecret registers a value that must never appear in output, in any
// form loadgate may write it in (Forms).
func (r *Redactor) AddSecret(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecret {
		return
	}
	r.mu.Lock()
	if r.values[v] {
		r.mu.Unlock()
		return
	}
	if r.values == nil {
		r.values = map[string]bool{}
	}
	r.values[v] = true
	old := *r.secrets.Load()
	next := append(make([]string, 0, len(old)+8), old...)
	for _, f := range Forms(v) {
		if len(f) >= minSecret && !slices.Contains(old, f) {
			next = append(next, f)
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(next, func(i, j int) bool { return len(next[i]) > len(next[j]) })
	r.secrets.Store(&next)
	r.mu.Unlock()
	if r.parent != nil {
		r.parent.AddSecret(v)
	}
}

// Forms returns the ways a secret may be written in what loadgate writes:
// as it is; JSON-escaped, with and without Go's escaping of < > &;
// HTML-escaped, as html.EscapeString and html/template write it; inside a
// JavaScript string; percent-encoded, as a query, a path and URL userinfo
// encode it.
func Forms(v string) []string {
	out := []string{v}
	add := func(f string) {
		for _, o := range out {
			if o == f {
				return
			}
		}
		out = append(out, f)
	}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(v) // a string always encodes: "...", then a newline
		add(b.String()[1 : b.Len()-2])
	}
	add(htmlpkg.EscapeString(v))
	add(templateHTML.Replace(v))
	add(template.JSEscapeString(v))
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	u := url.URL{Scheme: "http", Host: "h", User: url.UserPassword("u", v)}
	if s := u.String(); strings.HasPrefix(s, "http://u:") {
		add(strings.TrimSuffix(strings.TrimPrefix(s, "http://u:"), "@h"))
	}
	return out
}

// templateHTML escapes as html/template does in text and attributes.
var templateHTML = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;", "\x00", "\uFFFD")

// Child returns a redactor for the fields of this one and extra, whose
// secrets are also this one's (a scenario's secrets reach the terminal's).
func (r *Redactor) Child(extra []string) *Redactor {
	c := New(append(append([]string(nil), r.extra...), extra...))
	r.mu.Lock()
	values := make([]string, 0, len(r.values))
	for v := range r.values {
		values = append(values, v)
	}
	r.mu.Unlock()
	for _, v := range values {
		c.AddSecret(v)
	}
	c.parent = r
	return c
}

// Writer returns a writer that masks every secret in each write before it
// passes it on to w: each write must hold whole texts (a rendered file, a
// log line, a line of the terminal).
func (r *Redactor) Writer(w io.Writer) io.Writer { return &maskWriter{r: r, w: w} }

type maskWriter struct {
	r *Redactor
	w io.Writer
}

func (m *maskWriter) Write(p []byte) (int, error) {
	if _, err := m.w.Write(m.r.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap returns the writer masked.
func (m *maskWriter) Unwrap() io.Writer { return m.w }

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
		s = r.re.ReplaceAllString(s, "${1}"+Mask)
		s = maskJSONFields(s, r.keys)
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
		b = r.re.ReplaceAll(b, []byte("${1}"+Mask))
		if m := maskJSONFields(string(b), r.keys); m != string(b) {
			b = []byte(m)
		}
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
		u = r.re.ReplaceAllString(u, "${1}"+Mask)
	}
	return u
}
