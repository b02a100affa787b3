package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/feeder"
)

// Expect is what a response must be to count as a success. A response
// that has the right status but fails another check is a business error.
type Expect struct {
	// Status lists the acceptable status codes; empty means any 2xx or 3xx.
	Status []int `yaml:"status"`
	// Headers must match their regular expressions.
	Headers map[string]*Regexp `yaml:"headers"`
	// Body must match this regular expression.
	Body *Regexp `yaml:"body"`
	// JSON checks values of the response body found by JSON paths.
	JSON []JSONCheck `yaml:"json"`
	// ErrorCode is the business error code the body must carry, at
	// errors.code_path (the abnormal cases' expected answer).
	ErrorCode *int64 `yaml:"error_code"`
}

// Empty reports whether nothing beyond the status is checked.
func (e *Expect) Empty() bool {
	return len(e.Headers) == 0 && e.Body == nil && len(e.JSON) == 0 && e.ErrorCode == nil
}

// JSONCheck checks one value of a JSON response body. Path is a gjson
// path (https://github.com/tidwall/gjson/blob/master/SYNTAX.md).
type JSONCheck struct {
	Name   string  `yaml:"name"` // how reports name the check; default: path and test
	Path   string  `yaml:"path"`
	Equals any     `yaml:"equals"`
	Regex  *Regexp `yaml:"regex"`
	// Type is string, number, boolean, object, array or null.
	Type      string   `yaml:"type"`
	Min       *float64 `yaml:"min"`
	Max       *float64 `yaml:"max"`
	Length    *int     `yaml:"length"` // of a string, array or object
	MinLength *int     `yaml:"min_length"`
	MaxLength *int     `yaml:"max_length"`
	Exists    *bool    `yaml:"exists"`
	// Sent is a JSON path into the request body as sent: the value found
	// by Path must equal it, to within Tolerance for numbers.
	Sent      string   `yaml:"sent"`
	Tolerance *float64 `yaml:"tolerance"`
}

// Label returns the check's name for reports.
func (c *JSONCheck) Label() string {
	if c.Name != "" {
		return c.Name
	}
	var parts []string
	if c.Exists != nil {
		parts = append(parts, "exists="+strconv.FormatBool(*c.Exists))
	}
	if c.Equals != nil {
		parts = append(parts, fmt.Sprintf("equals %v", c.Equals))
	}
	if c.Regex != nil {
		parts = append(parts, "~ /"+c.Regex.String()+"/")
	}
	if c.Type != "" {
		parts = append(parts, "type "+c.Type)
	}
	if c.Min != nil {
		parts = append(parts, fmt.Sprintf(">= %g", *c.Min))
	}
	if c.Max != nil {
		parts = append(parts, fmt.Sprintf("<= %g", *c.Max))
	}
	if c.Length != nil {
		parts = append(parts, fmt.Sprintf("length %d", *c.Length))
	}
	if c.MinLength != nil {
		parts = append(parts, fmt.Sprintf("length >= %d", *c.MinLength))
	}
	if c.MaxLength != nil {
		parts = append(parts, fmt.Sprintf("length <= %d", *c.MaxLength))
	}
	if c.Sent != "" {
		tol := 0.0
		if c.Tolerance != nil {
			tol = *c.Tolerance
		}
		parts = append(parts, fmt.Sprintf("= sent %s ± %g", c.Sent, tol))
	}
	return c.Path + " " + strings.Join(parts, ", ")
}

// Regexp is a regular expression, compiled when the scenario is read.
type Regexp struct{ *regexp.Regexp }

// UnmarshalYAML compiles the expression.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a regular expression")
	}
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return fmt.Errorf("regular expression %q: %v", n.Value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	r.Regexp = re
	return nil
}

// MarshalYAML writes the expression back.
func (r Regexp) MarshalYAML() (any, error) { return r.String(), nil }

// Data is a data feeder: a CSV or JSON lines file whose rows requests
// read in their templates as row.FIELD.
type Data struct {
	// File is the data file, relative to the scenario file.
	File string `yaml:"file"`
	// Mode is sequential (default), random or unique (each row once).
	Mode string `yaml:"mode"`
	// OnExhausted says what a unique feeder does when its rows run out:
	// stop (end the run, the default) or recycle (start over).
	OnExhausted string `yaml:"on_exhausted"`

	Feeder *feeder.Feeder `yaml:"-"`
}

// Auth types.
const (
	AuthOAuth2 = "oauth2_client_credentials"
	AuthBearer = "bearer"
	AuthAPIKey = "api_key"
)

// Auth says how requests authenticate.
type Auth struct {
	// Type is oauth2_client_credentials, bearer or api_key.
	Type string `yaml:"type"`
	// TokenURL is the OAuth2 token endpoint: absolute, or a path on the
	// target.
	TokenURL     string   `yaml:"token_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Token is the static token of bearer and api_key.
	Token string `yaml:"token"`
	// Header carries an api_key (default X-API-Key).
	Header string `yaml:"header"`
}

// Retry is a retry policy. A request is retried only for the classes of
// outcome listed; a 400 or other 4xx is never retried. With oauth2 auth a
// 401 always gets one token refresh and one retry.
type Retry struct {
	On429     *RetryRule `yaml:"on_429"`
	On5xx     *RetryRule `yaml:"on_5xx"`
	OnNetwork *RetryRule `yaml:"on_network"`
}

// RetryRule bounds and spaces the retries of one class of outcome.
type RetryRule struct {
	// Max is the number of retries after the first try (at most 10).
	Max int `yaml:"max"`
	// Delay is the wait before the first retry (default 1s).
	Delay Duration `yaml:"delay"`
	// Backoff is fixed (every wait is Delay) or exponential (Delay,
	// 2×Delay, 4×Delay...). Default: exponential.
	Backoff string `yaml:"backoff"`
	// Cap bounds every wait (default 30s).
	Cap Duration `yaml:"cap"`
	// RetryAfter honours the response's Retry-After header, within Cap
	// (default true).
	RetryAfter *bool `yaml:"retry_after"`
}

// Errors says where business error codes are read.
type Errors struct {
	// CodePath is the JSON path of the business error code in response
	// bodies (default error_code; "-" turns it off).
	CodePath string `yaml:"code_path"`
}

// GroupBy names one response header or one JSON path.
type GroupBy struct {
	Header string `yaml:"header"`
	JSON   string `yaml:"json"`
}

// Log configures the request log, requests.jsonl.
type Log struct {
	// Sample logs one success in Sample (default 100; 0 logs none).
	// Every failure is logged.
	Sample *int `yaml:"sample"`
	// MaxSize caps the log file (default 50 MiB); past it lines are
	// counted, not written.
	MaxSize *ByteSize `yaml:"max_size"`
	// Examples is the number of failing response bodies kept per request
	// in the report (default 5).
	Examples *int `yaml:"examples"`
}

// ByteSize is a size written as 512, 64KB, 1MiB, 2GB.
type ByteSize int64

// UnmarshalYAML parses a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses a size with an optional unit (B, KB, KiB, MB, MiB,
// GB, GiB).
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	v, err := strconv.ParseInt(num, 10, 64)
	mult, ok := map[string]int64{"": 1, "B": 1, "KB": 1000, "KIB": 1 << 10, "MB": 1000 * 1000, "MIB": 1 << 20, "GB": 1000 * 1000 * 1000, "GIB": 1 << 30}[unit]
	if err != nil || !ok || v < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 512, 64KiB, 1MiB)", s)
	}
	return v * mult, nil
}

// Fault is a network fault injected between loadgate and the target by an
// in-process toxiproxy.
type Fault struct {
	// Type is latency, bandwidth, reset, timeout (a stall) or slow_close.
	Type    string   `yaml:"type"`
	Latency Duration `yaml:"latency"`
	Jitter  Duration `yaml:"jitter"`
	// Rate is a bandwidth in KB/s: 100, 100KB/s, 2MB/s.
	Rate string `yaml:"rate"`
	// After is when a reset happens, or when a stalled connection closes.
	After Duration `yaml:"after"`
	Delay Duration `yaml:"delay"`
	// Toxicity is the share of connections affected: 0.1 or 10% (default all).
	Toxicity *Share `yaml:"toxicity"`
	// Direction is downstream (responses, the default), upstream or both.
	Direction string `yaml:"direction"`
	// From and To put the fault in force for a window of the run.
	From Duration `yaml:"from"`
	To   Duration `yaml:"to"`
}

// Share is a fraction written as 0.1 or 10%.
type Share float64

// UnmarshalYAML reads a fraction or a percentage.
func (s *Share) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return fmt.Errorf("%q is not a fraction (0.1) or a percentage (10%%)", n.Value)
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return fmt.Errorf("%q is not between 0 and 100%%", n.Value)
	}
	*s = Share(f)
	return nil
}

// ParseKBps parses a bandwidth in KB/s: "100", "100KB/s", "2MB/s".
func ParseKBps(s string) (int64, error) {
	v := strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "MB"):
		mult, v = 1000, strings.TrimSuffix(v, "MB")
	case strings.HasSuffix(v, "KB"):
		v = strings.TrimSuffix(v, "KB")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a bandwidth (examples: 100KB/s, 2MB/s)", s)
	}
	return n * mult, nil
}
