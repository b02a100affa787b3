package scenario

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/observe"
	"github.com/loadgate/loadgate/internal/threshold"
)

// Defaults applied to fields left out.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultEnvironment = "test"
	MaxConcurrency     = 100000
	MaxRate            = 10_000_000 // per second
	MaxWeight          = 10_000
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var methods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true,
}

func (s *Scenario) applyDefaults() {
	if s.HTTP.Timeout == 0 {
		s.HTTP.Timeout = Duration(DefaultTimeout)
	}
	if s.HTTP.KeepAlive == nil {
		t := true
		s.HTTP.KeepAlive = &t
	}
	if s.Target.Environment == "" {
		s.Target.Environment = DefaultEnvironment
	}
	s.Target.Environment = strings.ToLower(strings.TrimSpace(s.Target.Environment))
	for i := range s.Requests {
		r := &s.Requests[i]
		r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
		if r.Method == "" {
			r.Method = "GET"
		}
	}
	for i := range s.Stages {
		if s.Stages[i].Name == "" {
			s.Stages[i].Name = fmt.Sprintf("stage-%d", i+1)
		}
	}
}

// Validate checks the scenario and returns every problem found, joined;
// each names the file, line and field.
func (s *Scenario) Validate() error { return errors.Join(s.validate()...) }

func (s *Scenario) validate() []error {
	v := &validator{s: s}
	if s.Name == "" {
		v.fail("name", "is required: a short name for the run folder, such as \"normal\"")
	} else if !namePattern.MatchString(s.Name) {
		v.fail("name", "%q may hold only letters, digits, '.', '_' and '-' (at most 64)", s.Name)
	}
	v.target()
	if s.HTTP.Timeout.D() <= 0 {
		v.fail("http.timeout", "must be positive")
	}
	if s.HTTP.MaxConnections < 0 {
		v.fail("http.max_connections", "must be 0 (no limit) or more")
	}
	if strings.ContainsAny(s.HTTP.UserAgent, "\r\n") {
		v.fail("http.user_agent", "must be one line")
	}
	v.requests()
	v.stages()
	v.thresholds()
	v.observe()
	v.fixture()
	v.data()
	v.templates()
	v.expectations()
	v.auth()
	v.retries()
	v.errorsAndLog()
	v.faults()
	return v.errs
}

type validator struct {
	s    *Scenario
	errs []error
}

func (v *validator) fail(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.s.File, Line: v.s.Line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) target() {
	u := v.s.Target.BaseURL
	switch {
	case u == "":
		v.fail("target.base_url", "is required: a URL such as http://127.0.0.1:8080, or %q for the built-in fixture API", Embedded)
	case u == Embedded:
	default:
		if err := CheckBaseURL(u); err != nil {
			v.fail("target.base_url", "%v", err)
		}
	}
}

// CheckBaseURL reports whether u is usable as a target base URL.
func CheckBaseURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", u, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", u)
	}
	if p.Host == "" {
		return fmt.Errorf("%q has no host", u)
	}
	if p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("%q: a base URL takes no query or fragment; put them in request paths", u)
	}
	return nil
}

func (v *validator) requests() {
	if len(v.s.Requests) == 0 {
		v.fail("requests", "at least one request is required")
	}
	seen := map[string]int{}
	for i, r := range v.s.Requests {
		p := fmt.Sprintf("requests[%d]", i)
		switch {
		case r.Name == "":
			v.fail(p+".name", "is required")
		case !namePattern.MatchString(r.Name):
			v.fail(p+".name", "%q may hold only letters, digits, '.', '_' and '-' (at most 64)", r.Name)
		default:
			if j, dup := seen[r.Name]; dup {
				v.fail(p+".name", "%q is already the name of requests[%d]; names must be unique", r.Name, j)
			}
			seen[r.Name] = i
		}
		if !methods[r.Method] {
			v.fail(p+".method", "%q is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)", r.Method)
		}
		switch {
		case r.Path == "":
			v.fail(p+".path", "is required, such as /v1/customers")
		case !strings.HasPrefix(r.Path, "/"):
			v.fail(p+".path", "%q must start with /", r.Path)
		case strings.ContainsAny(stripTemplates(r.Path), "# \t\r\n"):
			v.fail(p+".path", "%q may not hold spaces or '#'; percent-encode them", r.Path)
		}
		for k, val := range r.Headers {
			if k == "" || strings.ContainsAny(k, " :\t\r\n") {
				v.fail(p+".headers."+k, "%q is not a valid header name", k)
			}
			if strings.ContainsAny(val, "\r\n") {
				v.fail(p+".headers."+k, "header values must be one line")
			}
		}
		if r.Weight != nil && *r.Weight < 1 {
			v.fail(p+".weight", "must be at least 1 (got %d); remove the request to leave it out", *r.Weight)
		}
		if r.Weight != nil && *r.Weight > MaxWeight {
			v.fail(p+".weight", "must be at most %d", MaxWeight)
		}
		for j, c := range r.Expect.Status {
			if c < 100 || c > 599 {
				v.fail(fmt.Sprintf("%s.expect.status[%d]", p, j), "%d is not an HTTP status code (100 to 599)", c)
			}
		}
	}
}

func (v *validator) stages() {
	if len(v.s.Stages) == 0 {
		v.fail("stages", "at least one stage is required, such as {duration: 30s, rate: 50/s}")
	}
	for i, st := range v.s.Stages {
		p := fmt.Sprintf("stages[%d]", i)
		if st.Duration.D() <= 0 {
			v.fail(p+".duration", "must be positive, such as 30s")
		}
		switch {
		case st.Rate != nil && st.Concurrency != 0:
			v.fail(p, "give either rate (open model) or concurrency (closed model), not both")
		case st.Rate == nil && st.Concurrency == 0:
			v.fail(p, "give rate (open model, such as 200/s) or concurrency (closed model, such as 50)")
		case st.Rate != nil:
			if st.Rate.PerSecond <= 0 && (st.RampTo == nil || st.RampTo.PerSecond <= 0) {
				v.fail(p+".rate", "must be above zero")
			}
			if st.Rate.PerSecond > MaxRate {
				v.fail(p+".rate", "must be at most %d/s", MaxRate)
			}
			if st.MaxWorkers < 0 || st.MaxWorkers > MaxConcurrency {
				v.fail(p+".max_workers", "must be from 1 to %d", MaxConcurrency)
			}
			if st.RampTo != nil && st.RampTo.PerSecond > MaxRate {
				v.fail(p+".ramp_to", "must be at most %d/s", MaxRate)
			}
		default:
			if st.Concurrency < 0 || st.Concurrency > MaxConcurrency {
				v.fail(p+".concurrency", "must be between 1 and %d", MaxConcurrency)
			}
			if st.RampTo != nil {
				v.fail(p+".ramp_to", "applies to rate stages only")
			}
			if st.MaxWorkers != 0 {
				v.fail(p+".max_workers", "applies to rate stages only; concurrency is the closed model's workers")
			}
		}
	}
}

func (v *validator) thresholds() {
	for i, t := range v.s.Thresholds {
		p := fmt.Sprintf("thresholds[%d]", i)
		e := t.Expr
		if !e.Metric.InRun() {
			v.fail(p, "%q: %s is a probe metric ('loadgate probe --threshold'), not measured in runs", e.Source, e.Metric.Name)
			continue
		}
		if name := e.Request(); name != "" && v.s.RequestIndex(name) < 0 {
			names := make([]string, len(v.s.Requests))
			for j, r := range v.s.Requests {
				names[j] = r.Name
			}
			v.fail(p, "%q: no request is named %q (requests: %s)", e.Source, name, strings.Join(names, ", "))
		}
		if l, ok := e.Labels["latency"]; ok && l != "raw" && l != "corrected" {
			v.fail(p, "%q: latency=%s: want latency=raw or latency=corrected", e.Source, l)
		}
		switch {
		case t.Abort && !threshold.Windowable(e.Metric.Name):
			v.fail(p+".abort", "%q: %s is known only at the end of a run, so it cannot stop one early", e.Source, e.Metric.Name)
		case t.Abort && e.Request() != "":
			v.fail(p+".abort", "%q: abort works on thresholds over all requests; drop {request=%s}", e.Source, e.Request())
		case !t.Abort && t.After > 0:
			v.fail(p+".after", "%q: after is the grace period of abort: true", e.Source)
		}
		if e.Metric.Name == "error_code" {
			if c, ok := e.Labels["code"]; !ok || strings.Trim(c, "0123456789") != "" {
				v.fail(p, "%q: error_code needs a numeric code, such as error_code{code=400100} < 1%%", e.Source)
			}
		}
		if c, ok := e.Labels["check"]; ok && !v.s.hasCheck(c) {
			v.fail(p, "%q: no check is named %q (name checks with name: under expect.json, or use status, headers, body, error_code)", e.Source, c)
		}
	}
}

// observe checks the observe block and the thresholds on its series.
func (v *validator) observe() {
	o := v.s.Observe
	if o.On() {
		switch {
		case len(o.Series) == 0:
			v.fail("observe.series", "is required: name the PromQL series to watch, such as db_pool_usage: crm_db_pool_in_use / crm_db_pool_size")
		case len(o.Scrape) == 0 && o.Prometheus == "":
			v.fail("observe", "needs scrape: (Prometheus text endpoints) or prometheus: (a Prometheus server's URL)")
		case len(o.Scrape) > 0 && o.Prometheus != "":
			v.fail("observe.prometheus", "give scrape: or prometheus:, not both: the series are evaluated over one of them")
		}
	}
	if o.Prometheus != "" {
		if err := CheckBaseURL(o.Prometheus); err != nil {
			v.fail("observe.prometheus", "%v", err)
		}
	}
	names := map[string]bool{}
	for i, t := range o.Scrape {
		p := fmt.Sprintf("observe.scrape[%d]", i)
		switch {
		case !seriesName.MatchString(t.Name):
			v.fail(p+".name", "%q: want a short name of letters, digits and _", t.Name)
		case names[t.Name]:
			v.fail(p+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if t.URL == Embedded {
			if v.s.Target.BaseURL != Embedded {
				v.fail(p+".url", "embedded scrapes the embedded fixture API, and the target is not it")
			}
		} else if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			v.fail(p+".url", "%q: want an http:// or https:// URL, or embedded", t.URL)
		}
	}
	for name, q := range o.Series {
		p := "observe.series." + name
		if !seriesName.MatchString(name) {
			v.fail(p, "%q: a series name is letters, digits and _", name)
		}
		if err := observe.ParseQuery(q); err != nil {
			v.fail(p, "PromQL: %v", err)
		}
	}
	for i, t := range v.s.Thresholds {
		e := t.Expr
		if e.Metric.Kind != threshold.Gauge {
			continue
		}
		p := fmt.Sprintf("thresholds[%d]", i)
		name, ok := e.Labels["series"]
		switch {
		case !ok:
			v.fail(p, "%q: %s needs the series it reads, such as %s{series=db_pool_usage}", e.Source, e.Metric.Name, e.Metric.Name)
		case o.Series[name] == "":
			v.fail(p, "%q: no observe.series is named %q", e.Source, name)
		}
		if t.Abort {
			v.fail(p+".abort", "%q: observed series are evaluated at the end of a run, so they cannot stop one", e.Source)
		}
	}
}

var seriesName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// hasCheck reports whether some request has a check labelled name.
func (s *Scenario) hasCheck(name string) bool {
	switch name {
	case "status", "body", "error_code":
		return true
	}
	for _, r := range s.Requests {
		if strings.HasPrefix(name, "header ") {
			if _, ok := r.Expect.Headers[strings.TrimPrefix(name, "header ")]; ok {
				return true
			}
		}
		for _, c := range r.Expect.JSON {
			if c.Label() == name {
				return true
			}
		}
	}
	return false
}

func (v *validator) fixture() {
	f := v.s.Fixture
	for _, r := range []struct {
		field string
		v     float64
	}{
		{"error_500_rate", f.Error500Rate}, {"error_503_rate", f.Error503Rate}, {"drop_rate", f.DropRate},
		{"corrupt_rate", f.CorruptRate}, {"fault_node_share", f.FaultNodeShare}, {"no_user_agent_block_rate", f.NoUABlockRate},
	} {
		if r.v < 0 || r.v > 1 {
			v.fail("fixture."+r.field, "must be a fraction from 0 to 1, such as 0.05 for 5%%")
		}
	}
	if sum := f.Error500Rate + f.Error503Rate + f.DropRate; sum > 1 {
		v.fail("fixture", "error_500_rate, error_503_rate and drop_rate add up to %g, above 1", sum)
	}
	switch f.Latency.Distribution {
	case "", "fixed", "uniform", "normal", "lognormal":
	default:
		v.fail("fixture.latency.distribution", "%q is not fixed, uniform, normal or lognormal", f.Latency.Distribution)
	}
	if f.Latency.Distribution == "uniform" && f.Latency.Max < f.Latency.Min {
		v.fail("fixture.latency.max", "must not be below min")
	}
	if f.Latency.Distribution == "lognormal" && f.Latency.Median <= 0 {
		v.fail("fixture.latency.median", "lognormal needs a median above zero")
	}
	if (f.StallEvery > 0) != (f.StallFor > 0) {
		v.fail("fixture.stall_every", "stall_every and stall_for go together")
	} else if f.StallEvery > 0 && f.StallFor >= f.StallEvery {
		v.fail("fixture.stall_for", "must be shorter than stall_every")
	}
	if f.FaultNode != "" && !regexp.MustCompile(`^db-0[1-4]$`).MatchString(f.FaultNode) {
		v.fail("fixture.fault_node", "%q is not one of db-01, db-02, db-03, db-04", f.FaultNode)
	}
	if f.RateLimit.PerSecond < 0 || f.RateLimit.PerHour < 0 || f.RateLimit.PerDay < 0 {
		v.fail("fixture.rate_limit", "limits must not be negative")
	}
	if f.SeedCustomers < 0 {
		v.fail("fixture.seed_customers", "must not be negative")
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"workers", f.Workers}, {"db_pool", f.DBPool}, {"shed_rate", f.ShedRate}} {
		if n.v < 0 {
			v.fail("fixture."+n.field, "must not be negative")
		}
	}
	if f.Queue < -1 {
		v.fail("fixture.queue", "must be -1 (no queue), 0 (8 a worker) or a size")
	}
	if f.Workers == 0 {
		for _, n := range []struct {
			field string
			set   bool
		}{{"queue", f.Queue != 0}, {"db_pool", f.DBPool != 0}, {"db_timeout", f.DBTimeout != 0},
			{"stale_after", f.StaleAfter != 0}, {"shed_after", f.ShedAfter != 0}, {"shed_rate", f.ShedRate != 0}} {
			if n.set {
				v.fail("fixture."+n.field, "is part of the service model, which needs fixture.workers")
			}
		}
	}
}

// stripTemplates removes {{ ... }} parts, whose output is escaped.
func stripTemplates(s string) string {
	for {
		i := strings.Index(s, "{{")
		j := strings.Index(s, "}}")
		if i < 0 || j < i {
			return s
		}
		s = s[:i] + s[j+2:]
	}
}
