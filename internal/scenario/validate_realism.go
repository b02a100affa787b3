package scenario

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/feeder"
	"github.com/loadgate/loadgate/internal/template"
)

// Defaults of the realism settings.
const (
	DefaultMaxBody   = 1 << 20
	DefaultMaxHead   = 1 << 20
	DefaultRedirects = 10
	MaxRedirects     = 100
	DefaultCodePath  = "error_code"
	DefaultLogSample = 100
	DefaultLogMax    = 50 << 20
	DefaultExamples  = 5
	MaxRetries       = 10
)

var poolName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// MaxBodyBytes returns the response body cap.
func (s *Scenario) MaxBodyBytes() int64 {
	if s.HTTP.MaxBody == nil {
		return DefaultMaxBody
	}
	return int64(*s.HTTP.MaxBody)
}

// MaxHeaderBytes returns the response head cap.
func (s *Scenario) MaxHeaderBytes() int64 {
	if s.HTTP.MaxHeaderBytes == nil {
		return DefaultMaxHead
	}
	return int64(*s.HTTP.MaxHeaderBytes)
}

// RedirectsFor returns how many redirects request i follows.
func (s *Scenario) RedirectsFor(i int) int {
	switch {
	case s.Requests[i].Redirects != nil:
		return *s.Requests[i].Redirects
	case s.HTTP.Redirects != nil:
		return *s.HTTP.Redirects
	}
	return DefaultRedirects
}

// CodePath returns the JSON path of business error codes, or "" when off.
func (s *Scenario) CodePath() string {
	switch s.Errors.CodePath {
	case "":
		return DefaultCodePath
	case "-":
		return ""
	}
	return s.Errors.CodePath
}

// LogSample returns N of "one success in N is logged" (0: none).
func (s *Scenario) LogSample() int {
	if s.Log.Sample == nil {
		return DefaultLogSample
	}
	return *s.Log.Sample
}

// LogMaxSize returns the request log's size cap.
func (s *Scenario) LogMaxSize() int64 {
	if s.Log.MaxSize == nil {
		return DefaultLogMax
	}
	return int64(*s.Log.MaxSize)
}

// Examples returns how many failing bodies are kept per request.
func (s *Scenario) Examples() int {
	if s.Log.Examples == nil {
		return DefaultExamples
	}
	return *s.Log.Examples
}

// Pools lists the capture pools some request fills, sorted.
func (s *Scenario) Pools() []string {
	set := map[string]bool{}
	for _, r := range s.Requests {
		for p := range r.Capture {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// RetryFor returns the retry policy of request i, or nil.
func (s *Scenario) RetryFor(i int) *Retry {
	if r := s.Requests[i].Retry; r != nil {
		return r
	}
	return s.Retry
}

// data loads every data feeder, relative to the scenario file.
func (v *validator) data() {
	names := make([]string, 0, len(v.s.Data))
	for n := range v.s.Data {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		d := v.s.Data[name]
		p := "data." + name
		if !poolName.MatchString(name) {
			v.fail(p, "feeder names are letters, digits and '_'")
		}
		if d == nil {
			v.fail(p, "needs file: PATH")
			continue
		}
		switch d.Mode {
		case "", feeder.Sequential, feeder.Random, feeder.Unique:
		default:
			v.fail(p+".mode", "%q is not sequential, random or unique", d.Mode)
		}
		switch d.OnExhausted {
		case "", "stop", "recycle":
		default:
			v.fail(p+".on_exhausted", "%q is not stop or recycle", d.OnExhausted)
		}
		if d.OnExhausted != "" && d.Mode != feeder.Unique {
			v.fail(p+".on_exhausted", "applies to mode: unique only")
		}
		if d.File == "" {
			v.fail(p+".file", "is required: a .csv or .jsonl file, relative to the scenario")
			continue
		}
		path := d.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(v.s.File), path)
		}
		f, err := feeder.Load(name, path, feeder.Options{Mode: d.Mode, Recycle: d.OnExhausted == "recycle"})
		if err != nil {
			v.fail(p+".file", "%v", err)
			continue
		}
		d.Feeder = f
	}
}

// templates compiles the requests' paths, headers and bodies.
func (v *validator) templates() {
	pools := map[string]bool{}
	for _, p := range v.s.Pools() {
		pools[p] = true
	}
	for i := range v.s.Requests {
		r := &v.s.Requests[i]
		p := fmt.Sprintf("requests[%d]", i)
		env := template.Env{Pools: pools, TestTag: v.s.TestTag}
		if r.Data != "" {
			d, ok := v.s.Data[r.Data]
			switch {
			case !ok:
				v.fail(p+".data", "no feeder is named %q under data:", r.Data)
			case d != nil && d.Feeder != nil:
				env.Columns = d.Feeder.Columns
			default:
				env.Columns = map[string]int{} // the feeder failed to load; reported there
			}
		}
		var err error
		if r.PathT, err = template.Compile(r.Path, template.EscPath, env); err != nil {
			v.fail(p+".path", "%v", err)
		}
		r.HeadersT = map[string]*template.Template{}
		for k, val := range r.Headers {
			t, err := template.Compile(val, template.EscNone, env)
			if err != nil {
				v.fail(p+".headers."+k, "%v", err)
				continue
			}
			r.HeadersT[k] = t
		}
		esc := template.EscNone
		if r.Body.JSON {
			esc = template.EscJSONString
		}
		if r.BodyT, err = template.Compile(r.Body.Text, esc, env); err != nil {
			v.fail(p+".body", "%v", err)
		}
		for pool, path := range r.Capture {
			if !poolName.MatchString(pool) {
				v.fail(p+".capture."+pool, "pool names are letters, digits and '_'")
			}
			if strings.TrimSpace(path) == "" {
				v.fail(p+".capture."+pool, "needs a JSON path into the response, such as data.customer_id")
			}
		}
	}
}

var jsonTypes = map[string]bool{"string": true, "number": true, "boolean": true, "bool": true, "object": true, "array": true, "null": true}

func (v *validator) expectations() {
	needsBody := false
	for i, r := range v.s.Requests {
		p := fmt.Sprintf("requests[%d].expect", i)
		e := r.Expect
		if e.Body != nil || len(e.JSON) > 0 || e.ErrorCode != nil || len(r.Capture) > 0 {
			needsBody = true
		}
		if e.ErrorCode != nil && v.s.CodePath() == "" {
			v.fail(p+".error_code", "errors.code_path is off (\"-\"); set it to read error codes")
		}
		for j, c := range e.JSON {
			cp := fmt.Sprintf("%s.json[%d]", p, j)
			if strings.TrimSpace(c.Path) == "" {
				v.fail(cp+".path", "is required: a JSON path such as data.customer_id")
			}
			if c.Equals == nil && c.Regex == nil && c.Type == "" && c.Min == nil && c.Max == nil && c.Length == nil &&
				c.MinLength == nil && c.MaxLength == nil && c.Exists == nil && c.Sent == "" {
				v.fail(cp, "checks nothing: give equals, regex, type, min, max, length, min_length, max_length, exists or sent")
			}
			if c.Type != "" && !jsonTypes[c.Type] {
				v.fail(cp+".type", "%q is not string, number, boolean, object, array or null", c.Type)
			}
			if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
				v.fail(cp+".min", "is above max")
			}
			if c.Tolerance != nil && (c.Sent == "" || *c.Tolerance < 0) {
				v.fail(cp+".tolerance", "goes with sent, and must not be negative")
			}
			if c.Sent != "" && !r.Body.JSON && !strings.HasPrefix(strings.TrimSpace(r.Body.Text), "{") {
				v.fail(cp+".sent", "needs a JSON request body to read the sent value from")
			}
		}
	}
	if needsBody && v.s.MaxBodyBytes() == 0 {
		v.fail("http.max_body", "is 0, but checks, captures or error codes need response bodies")
	}
	if v.s.MaxBodyBytes() < 0 {
		v.fail("http.max_body", "must not be negative")
	}
	if n := v.s.MaxHeaderBytes(); n < 1<<10 || n > 64<<20 {
		v.fail("http.max_header_bytes", "must be from 1KiB to 64MiB")
	}
	if r := v.s.HTTP.Redirects; r != nil && (*r < 0 || *r > MaxRedirects) {
		v.fail("http.redirects", "must be from 0 (a redirect is the answer) to %d", MaxRedirects)
	}
	for i, rq := range v.s.Requests {
		if r := rq.Redirects; r != nil && (*r < 0 || *r > MaxRedirects) {
			v.fail(fmt.Sprintf("requests[%d].redirects", i), "must be from 0 (a redirect is the answer) to %d", MaxRedirects)
		}
	}
}

func (v *validator) auth() {
	a := v.s.Auth
	switch a.Type {
	case "":
		if a.TokenURL != "" || a.ClientID != "" || a.Token != "" {
			v.fail("auth.type", "is required: oauth2_client_credentials, bearer or api_key")
		}
	case AuthOAuth2:
		if a.TokenURL == "" {
			v.fail("auth.token_url", "is required: the token endpoint, such as /oauth/token")
		} else if !strings.HasPrefix(a.TokenURL, "/") {
			if err := CheckBaseURL(a.TokenURL); err != nil && !strings.Contains(err.Error(), "query") {
				v.fail("auth.token_url", "%v", err)
			}
		}
		if a.ClientID == "" {
			v.fail("auth.client_id", "is required")
		}
		if a.ClientSecret == "" {
			v.fail("auth.client_secret", "is required (write ${CLIENT_SECRET} to read it from the environment)")
		}
		if a.Token != "" {
			v.fail("auth.token", "does not apply to oauth2_client_credentials")
		}
	case AuthBearer, AuthAPIKey:
		if a.Token == "" {
			v.fail("auth.token", "is required (write ${API_TOKEN} to read it from the environment)")
		}
		if a.TokenURL != "" || a.ClientID != "" || a.ClientSecret != "" {
			v.fail("auth", "token_url, client_id and client_secret apply to oauth2_client_credentials only")
		}
		if a.Type == AuthBearer && a.Header != "" {
			v.fail("auth.header", "applies to api_key only; bearer tokens go in Authorization")
		}
	default:
		v.fail("auth.type", "%q is not oauth2_client_credentials, bearer or api_key", a.Type)
	}
}

func (v *validator) retries() {
	check := func(path string, r *Retry) {
		if r == nil {
			return
		}
		for name, rule := range map[string]*RetryRule{"on_429": r.On429, "on_5xx": r.On5xx, "on_network": r.OnNetwork} {
			if rule == nil {
				continue
			}
			rp := path + "." + name
			if rule.Max < 0 || rule.Max > MaxRetries {
				v.fail(rp+".max", "must be from 0 to %d retries", MaxRetries)
			}
			switch rule.Backoff {
			case "", "fixed", "exponential":
			default:
				v.fail(rp+".backoff", "%q is not fixed or exponential", rule.Backoff)
			}
			if rule.Cap != 0 && rule.Cap < rule.Delay {
				v.fail(rp+".cap", "is below delay")
			}
		}
	}
	check("retry", v.s.Retry)
	for i, r := range v.s.Requests {
		check(fmt.Sprintf("requests[%d].retry", i), r.Retry)
	}
}

func (v *validator) faults() {
	for i, f := range v.s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		switch f.Type {
		case "latency":
			if f.Latency <= 0 {
				v.fail(p+".latency", "is required: the delay to add, such as 200ms")
			}
			if f.Jitter > f.Latency {
				v.fail(p+".jitter", "must not exceed latency")
			}
		case "bandwidth":
			if _, err := ParseKBps(f.Rate); err != nil {
				v.fail(p+".rate", "%v", err)
			}
		case "reset", "timeout":
		case "slow_close":
			if f.Delay <= 0 {
				v.fail(p+".delay", "is required: how long the close waits, such as 1s")
			}
		case "":
			v.fail(p+".type", "is required: latency, bandwidth, reset, timeout or slow_close")
		default:
			v.fail(p+".type", "%q is not latency, bandwidth, reset, timeout or slow_close", f.Type)
		}
		switch f.Direction {
		case "", "downstream", "upstream", "both":
		default:
			v.fail(p+".direction", "%q is not downstream, upstream or both", f.Direction)
		}
		// The fault engine counts in whole milliseconds: less would be 0,
		// which for after means never.
		for _, d := range []struct {
			name string
			v    Duration
		}{{"latency", f.Latency}, {"jitter", f.Jitter}, {"after", f.After}, {"delay", f.Delay}} {
			if x := d.v.D(); x%time.Millisecond != 0 {
				v.fail(p+"."+d.name, "%v: faults take whole milliseconds", x)
			}
		}
		if f.Toxicity != nil && (*f.Toxicity <= 0 || *f.Toxicity > 1) {
			v.fail(p+".toxicity", "must be above 0%% and at most 100%% of connections")
		}
		if f.To != 0 && f.To <= f.From {
			v.fail(p+".to", "must come after from")
		}
	}
	if len(v.s.TestTag) > 32 || strings.ContainsAny(v.s.TestTag, " \t\r\n/?#&") {
		v.fail("test_tag", "%q: at most 32 characters, no spaces or URL punctuation", v.s.TestTag)
	}
}

func (v *validator) errorsAndLog() {
	if iv := v.s.Report.Interval.D(); iv != 0 && (iv < 100*time.Millisecond || iv > time.Hour) {
		v.fail("report.interval", "must be from 100ms to 1h")
	}
	g := v.s.GroupErrorsBy
	if g.Header != "" && g.JSON != "" {
		v.fail("group_errors_by", "give header or json, not both")
	}
	if g.JSON != "" && v.s.MaxBodyBytes() == 0 {
		v.fail("group_errors_by.json", "needs response bodies, but http.max_body is 0")
	}
	if v.s.Log.Sample != nil && *v.s.Log.Sample < 0 {
		v.fail("log.sample", "must be 0 (log no successes) or more")
	}
	if v.s.Log.Examples != nil && (*v.s.Log.Examples < 0 || *v.s.Log.Examples > 100) {
		v.fail("log.examples", "must be from 0 to 100")
	}
	for i, r := range v.s.Redact {
		if strings.TrimSpace(r) == "" {
			v.fail(fmt.Sprintf("redact[%d]", i), "is empty")
		}
	}
}
