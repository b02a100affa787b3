// Package check decides whether a response is what a request expected:
// its status, headers, body and JSON values, and reads the business error
// code and the group-by value from it.
package check

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/loadgate/loadgate/internal/scenario"
)

// Checker checks the responses of one request.
type Checker struct {
	status    []bool // acceptable codes, by code; nil: 2xx and 3xx
	headers   []headerCheck
	body      *regexp.Regexp
	json      []jsonCheck
	errorCode string // expected business error code; "" for none
	codePath  string
	groupHdr  string
	groupJSON string
	names     []string
	// NeedsSent reports whether checks compare with the request body sent.
	NeedsSent bool
}

type headerCheck struct {
	name string
	re   *regexp.Regexp
}

type jsonCheck struct {
	scenario.JSONCheck
	hidden bool // the field is redacted: failures do not quote its value
}

// Outcome is what Check found.
type Outcome struct {
	StatusOK bool
	// Failed lists the checks that failed, as indexes into Names; content
	// is checked only when the status was acceptable.
	Failed []int
	// Checked reports whether the content checks ran.
	Checked bool
	// ErrorCode is the business error code in the body, or "".
	ErrorCode string
	// Group is the group-by value of the response, or "".
	Group string
	// Why describes the first failure, for logs and examples.
	Why string
}

// New compiles the checks of request r of scenario s.
func New(s *scenario.Scenario, r *scenario.Request) *Checker {
	c := &Checker{codePath: s.CodePath(), groupHdr: s.GroupErrorsBy.Header, groupJSON: s.GroupErrorsBy.JSON}
	if len(r.Expect.Status) > 0 {
		c.status = make([]bool, 600)
		for _, code := range r.Expect.Status {
			c.status[code] = true
		}
	}
	for name, re := range r.Expect.Headers {
		c.headers = append(c.headers, headerCheck{name: http.CanonicalHeaderKey(name), re: re.Regexp})
	}
	// Map order is random: sort for stable check names.
	for i := 1; i < len(c.headers); i++ {
		for j := i; j > 0 && c.headers[j].name < c.headers[j-1].name; j-- {
			c.headers[j], c.headers[j-1] = c.headers[j-1], c.headers[j]
		}
	}
	for _, h := range c.headers {
		c.names = append(c.names, "header "+h.name)
	}
	if r.Expect.Body != nil {
		c.body = r.Expect.Body.Regexp
		c.names = append(c.names, "body")
	}
	if r.Expect.ErrorCode != nil {
		c.errorCode = strconv.FormatInt(*r.Expect.ErrorCode, 10)
		c.names = append(c.names, "error_code")
	}
	for _, j := range r.Expect.JSON {
		c.json = append(c.json, jsonCheck{JSONCheck: j})
		c.names = append(c.names, j.Label())
		if j.Sent != "" {
			c.NeedsSent = true
		}
	}
	return c
}

// Hide keeps the values of sensitive fields out of failure texts: a JSON
// check whose path ends in a field that sensitive names says only that it
// failed.
func (c *Checker) Hide(sensitive func(field string) bool) {
	for k := range c.json {
		p := c.json[k].Path
		if i := strings.LastIndexAny(p, ".|"); i >= 0 {
			p = p[i+1:]
		}
		c.json[k].hidden = sensitive(p)
	}
}

// Names returns the labels of the content checks, by index.
func (c *Checker) Names() []string { return c.names }

// StatusOK reports whether code is acceptable.
func (c *Checker) StatusOK(code int) bool {
	if c.status == nil {
		return code >= 200 && code < 400
	}
	return code > 0 && code < len(c.status) && c.status[code]
}

// Check checks one response. sent is the request body as sent, needed
// only when NeedsSent. out is reset and filled.
func (c *Checker) Check(code int, hdr http.Header, body, sent []byte, out *Outcome) {
	out.Failed, out.Checked, out.ErrorCode, out.Group, out.Why = out.Failed[:0], false, "", "", ""
	out.StatusOK = c.StatusOK(code)
	if code != 0 && c.codePath != "" && len(body) > 0 && (body[0] == '{' || body[0] == '[' || body[0] == ' ') {
		if v := gjson.GetBytes(body, c.codePath); v.Type == gjson.Number || v.Type == gjson.String {
			out.ErrorCode = v.String()
		}
	}
	switch {
	case c.groupHdr != "" && hdr != nil:
		out.Group = hdr.Get(c.groupHdr)
	case c.groupJSON != "" && len(body) > 0:
		out.Group = gjson.GetBytes(body, c.groupJSON).String()
	}
	if !out.StatusOK {
		if code != 0 {
			out.Why = fmt.Sprintf("status %d not expected", code)
		}
		return
	}
	out.Checked = true
	i := 0
	fail := func(format string, args ...any) {
		out.Failed = append(out.Failed, i)
		if out.Why == "" {
			out.Why = c.names[i] + ": " + fmt.Sprintf(format, args...)
		}
	}
	for _, h := range c.headers {
		if v := hdr.Get(h.name); !h.re.MatchString(v) {
			fail("%q does not match /%s/", v, h.re)
		}
		i++
	}
	if c.body != nil {
		if !c.body.Match(body) {
			fail("body does not match /%s/", c.body)
		}
		i++
	}
	if c.errorCode != "" {
		if out.ErrorCode != c.errorCode {
			fail("got %q, want %s", out.ErrorCode, c.errorCode)
		}
		i++
	}
	if len(c.json) > 0 {
		valid := gjson.ValidBytes(body)
		for k := range c.json {
			if !valid {
				fail("body is not valid JSON")
			} else if why := c.json[k].check(body, sent); why != "" {
				if c.json[k].hidden {
					why = "does not hold (the value is redacted)"
				}
				fail("%s", why)
			}
			i++
		}
	}
}

func (j *jsonCheck) check(body, sent []byte) string {
	v := gjson.GetBytes(body, j.Path)
	if j.Exists != nil {
		if v.Exists() != *j.Exists {
			if *j.Exists {
				return "missing"
			}
			return "present: " + short(v.Raw)
		}
		if !*j.Exists {
			return ""
		}
	}
	if !v.Exists() {
		return "missing"
	}
	if j.Equals != nil && !equals(v, j.Equals) {
		return fmt.Sprintf("%s, want %v", short(v.Raw), j.Equals)
	}
	if j.Regex != nil && !j.Regex.MatchString(v.String()) {
		return fmt.Sprintf("%s does not match /%s/", short(v.Raw), j.Regex)
	}
	if j.Type != "" && typeOf(v) != normType(j.Type) {
		return fmt.Sprintf("%s is %s, want %s", short(v.Raw), typeOf(v), j.Type)
	}
	if j.Min != nil || j.Max != nil {
		if v.Type != gjson.Number {
			return fmt.Sprintf("%s is not a number", short(v.Raw))
		}
		if j.Min != nil && v.Num < *j.Min {
			return fmt.Sprintf("%s is below %g", v.Raw, *j.Min)
		}
		if j.Max != nil && v.Num > *j.Max {
			return fmt.Sprintf("%s is above %g", v.Raw, *j.Max)
		}
	}
	if j.Length != nil || j.MinLength != nil || j.MaxLength != nil {
		n, ok := length(v)
		switch {
		case !ok:
			return fmt.Sprintf("%s has no length", short(v.Raw))
		case j.Length != nil && n != *j.Length:
			return fmt.Sprintf("length %d, want %d", n, *j.Length)
		case j.MinLength != nil && n < *j.MinLength:
			return fmt.Sprintf("length %d, want at least %d", n, *j.MinLength)
		case j.MaxLength != nil && n > *j.MaxLength:
			return fmt.Sprintf("length %d, want at most %d", n, *j.MaxLength)
		}
	}
	if j.Sent != "" {
		s := gjson.GetBytes(sent, j.Sent)
		if !s.Exists() {
			return fmt.Sprintf("the request sent no %s to compare with", j.Sent)
		}
		tol := 0.0
		if j.Tolerance != nil {
			tol = *j.Tolerance
		}
		if s.Type == gjson.Number || v.Type == gjson.Number {
			a, b := v.Float(), s.Float()
			if v.Type != gjson.Number || math.Abs(a-b) > tol+1e-9 {
				return fmt.Sprintf("%s, sent %s (tolerance %g)", short(v.Raw), s.Raw, tol)
			}
		} else if v.String() != s.String() {
			return fmt.Sprintf("%s, sent %s", short(v.Raw), short(s.Raw))
		}
	}
	return ""
}

func equals(v gjson.Result, want any) bool {
	switch w := want.(type) {
	case nil:
		return v.Type == gjson.Null
	case bool:
		return (v.Type == gjson.True && w) || (v.Type == gjson.False && !w)
	case int:
		return v.Type == gjson.Number && v.Num == float64(w)
	case int64:
		return v.Type == gjson.Number && v.Num == float64(w)
	case uint64:
		return v.Type == gjson.Number && v.Num == float64(w)
	case float64:
		return v.Type == gjson.Number && v.Num == w
	case string:
		return v.Type == gjson.String && v.Str == w
	}
	return v.Raw == fmt.Sprint(want)
}

func typeOf(v gjson.Result) string {
	switch {
	case v.IsArray():
		return "array"
	case v.IsObject():
		return "object"
	}
	switch v.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	case gjson.Null:
		return "null"
	}
	return "missing"
}

func normType(t string) string {
	if t == "bool" {
		return "boolean"
	}
	return t
}

func length(v gjson.Result) (int, bool) {
	switch {
	case v.IsArray():
		return len(v.Array()), true
	case v.IsObject():
		n := 0
		v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
		return n, true
	case v.Type == gjson.String:
		return utf8.RuneCountInString(v.Str), true
	}
	return 0, false
}

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
