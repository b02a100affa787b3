// Package scenario holds the scenario file schema: its types, parsing with
// line-numbered errors, defaults and validation.
package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/template"
	"github.com/loadgate/loadgate/internal/threshold"
)

// Embedded is the base_url that selects the built-in fixture API.
const Embedded = "embedded"

// Scenario is one parsed scenario file.
type Scenario struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Target      Target      `yaml:"target"`
	HTTP        HTTP        `yaml:"http"`
	Requests    []Request   `yaml:"requests"`
	Stages      []Stage     `yaml:"stages"`
	Thresholds  []Threshold `yaml:"thresholds"`
	// Fixture configures the built-in fixture API when the target is
	// "embedded"; it is ignored for any other target.
	Fixture Fixture `yaml:"fixture"`
	// Data names the data feeders requests draw rows from.
	Data map[string]*Data `yaml:"data"`
	Auth Auth             `yaml:"auth"`
	// Retry is the retry policy of every request without its own.
	Retry *Retry `yaml:"retry"`
	// Errors says where business error codes are read.
	Errors Errors `yaml:"errors"`
	// GroupErrorsBy splits the error breakdown by a response header or a
	// JSON path, so one faulty backend node stands out.
	GroupErrorsBy GroupBy `yaml:"group_errors_by"`
	// Redact lists header names, JSON fields and query parameters whose
	// values never appear in any output.
	Redact []string `yaml:"redact"`
	Log    Log      `yaml:"log"`
	// Report configures the time series of the reports.
	Report ReportSettings `yaml:"report"`
	// Faults are network faults injected between loadgate and the target.
	Faults []Fault `yaml:"faults"`
	// Observe watches the target's insides while the run goes on.
	Observe Observe `yaml:"observe"`
	// TestTag is appended to generated identifiers ({{ unique }}) and is
	// {{ test_tag }} in templates, so test data can be found and cleaned.
	TestTag string `yaml:"test_tag"`

	// File is the path the scenario was read from, as given.
	File     string `yaml:"-"`
	pos      map[string]int
	expanded map[string]string
}

var secretName = regexp.MustCompile(`(?i)secret|token|key|pass|pwd|auth|credential|cookie|session`)

// Secrets lists values that must never appear in any output: auth
// secrets and tokens, values of sensitive headers, and environment values
// whose variable names sound secret.
func (s *Scenario) Secrets() []string {
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
			if _, rest, ok := strings.Cut(v, " "); ok && len(rest) >= 8 {
				out = append(out, strings.TrimSpace(rest)) // the token of "Bearer <token>"
			}
		}
	}
	add(s.Auth.ClientSecret)
	add(s.Auth.Token)
	for _, raw := range append([]string{s.Target.BaseURL, s.Observe.Prometheus}, s.scrapeURLs()...) {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				add(p) // http://user:password@host
			}
		}
	}
	if s.Fixture.ClientSecret != "" {
		add(s.Fixture.ClientSecret)
	}
	add(s.Fixture.AdminToken)
	sensitive := map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true, "cookie": true}
	for _, r := range s.Redact {
		sensitive[strings.ToLower(r)] = true
	}
	for _, r := range s.Requests {
		for k, v := range r.Headers {
			if sensitive[strings.ToLower(k)] && !strings.Contains(v, "{{") {
				add(v)
			}
		}
	}
	for _, t := range s.Observe.Scrape {
		for k, v := range t.Headers {
			if sensitive[strings.ToLower(k)] {
				add(v)
			}
		}
	}
	for name, v := range s.expanded {
		if secretName.MatchString(name) {
			add(v)
		}
	}
	return out
}

func (s *Scenario) scrapeURLs() []string {
	out := make([]string, 0, len(s.Observe.Scrape))
	for _, t := range s.Observe.Scrape {
		out = append(out, t.URL)
	}
	return out
}

// ReportSettings configures the reports.
type ReportSettings struct {
	// Interval is the length of a time-series interval (default 1s).
	Interval Duration `yaml:"interval"`
}

// Interval returns the time-series interval.
func (s *Scenario) Interval() time.Duration {
	if s.Report.Interval > 0 {
		return s.Report.Interval.D()
	}
	return time.Second
}

// Target says where requests go.
type Target struct {
	// BaseURL is prefixed to every request path; "embedded" starts the
	// built-in fixture API on a loopback port.
	BaseURL string `yaml:"base_url"`
	// Environment labels the target: test, staging, production, ...
	Environment string `yaml:"environment"`
}

// HTTP holds the client settings shared by every request.
type HTTP struct {
	Timeout        Duration `yaml:"timeout"`         // per request; default 30s
	KeepAlive      *bool    `yaml:"keepalive"`       // default true
	HTTP2          bool     `yaml:"http2"`           // default false
	MaxConnections int      `yaml:"max_connections"` // per host; 0 means no limit
	UserAgent      string   `yaml:"user_agent"`      // default loadgate/<version>
	InsecureTLS    bool     `yaml:"insecure_tls"`    // skip certificate checks
	// MaxBody is how much of each response body is read for checks,
	// captures and error codes; the rest is discarded. Default 1 MiB.
	MaxBody *ByteSize `yaml:"max_body"`
	// MaxHeaderBytes bounds a response's head (status line and headers);
	// a longer head fails the try (head_too_large). Default 1 MiB.
	MaxHeaderBytes *ByteSize `yaml:"max_header_bytes"`
	// Redirects is how many redirects a request follows, each hop a try
	// of its own; 0 makes the 3xx the answer. Default 10.
	Redirects *int `yaml:"redirects"`
}

// Request is one kind of request the scenario sends.
type Request struct {
	Name    string            `yaml:"name"`
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    Body              `yaml:"body"`
	Weight  *int              `yaml:"weight"`
	Expect  Expect            `yaml:"expect"`
	// Data names the feeder whose rows the templates read as row.FIELD.
	Data string `yaml:"data"`
	// Capture puts values of the response (JSON paths) into named pools
	// that later requests use with {{ take POOL }} or {{ pick POOL }}.
	Capture map[string]string `yaml:"capture"`
	// Retry overrides the scenario's retry policy for this request.
	Retry *Retry `yaml:"retry"`
	// Redirects overrides http.redirects for this request.
	Redirects *int `yaml:"redirects"`

	// Compiled templates, set by validation.
	PathT    *template.Template            `yaml:"-"`
	HeadersT map[string]*template.Template `yaml:"-"`
	BodyT    *template.Template            `yaml:"-"`
}

// Observe names the target's metrics to watch: Prometheus text endpoints
// scraped every report interval (or a Prometheus server queried over the
// run's span) and the PromQL series computed from them.
type Observe struct {
	Scrape     []ScrapeTarget    `yaml:"scrape"`
	Prometheus string            `yaml:"prometheus"`
	Series     map[string]string `yaml:"series"`
}

// ScrapeTarget is a Prometheus text endpoint; URL "embedded" is the
// embedded fixture API's /metrics.
type ScrapeTarget struct {
	Name    string            `yaml:"name"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
}

// On reports whether anything is observed.
func (o Observe) On() bool { return len(o.Series) > 0 || len(o.Scrape) > 0 || o.Prometheus != "" }

// Fixture holds the settings of the built-in fixture API.
type Fixture struct {
	ClientID       string         `yaml:"client_id"`
	ClientSecret   string         `yaml:"client_secret"`
	TokenTTL       Duration       `yaml:"token_ttl"`
	RefreshTTL     Duration       `yaml:"refresh_token_ttl"`
	APIKeys        []string       `yaml:"api_keys"`
	AdminToken     string         `yaml:"admin_token"`
	RateLimit      FixtureLimit   `yaml:"rate_limit"`
	NoUADelay      *Duration      `yaml:"no_user_agent_delay"`
	NoUABlockRate  float64        `yaml:"no_user_agent_block_rate"`
	SeedCustomers  int            `yaml:"seed_customers"`
	Seed           uint64         `yaml:"seed"`
	Latency        FixtureLatency `yaml:"latency"`
	Error500Rate   float64        `yaml:"error_500_rate"`
	Error503Rate   float64        `yaml:"error_503_rate"`
	DropRate       float64        `yaml:"drop_rate"`
	CorruptRate    float64        `yaml:"corrupt_rate"`
	SlowBody       Duration       `yaml:"slow_body"`
	StallEvery     Duration       `yaml:"stall_every"`
	StallFor       Duration       `yaml:"stall_for"`
	FaultNode      string         `yaml:"fault_node"`
	FaultNodeShare float64        `yaml:"fault_node_share"`
	// The service model: workers, a queue, a database pool, overload.
	Workers    int      `yaml:"workers"`
	Queue      int      `yaml:"queue"`
	DBPool     int      `yaml:"db_pool"`
	DBTimeout  Duration `yaml:"db_timeout"`
	StaleAfter Duration `yaml:"stale_after"`
	ShedAfter  Duration `yaml:"shed_after"`
	ShedRate   int      `yaml:"shed_rate"`
}

// FixtureLimit is the fixture's per-token rate limit.
type FixtureLimit struct {
	PerSecond int      `yaml:"per_second"`
	PerHour   int      `yaml:"per_hour"`
	PerDay    int      `yaml:"per_day"`
	Cooldown  Duration `yaml:"cooldown"`
}

// FixtureLatency is the fixture's added latency distribution.
type FixtureLatency struct {
	Distribution string   `yaml:"distribution"` // fixed, uniform, normal, lognormal
	Fixed        Duration `yaml:"fixed"`
	Min          Duration `yaml:"min"`
	Max          Duration `yaml:"max"`
	Mean         Duration `yaml:"mean"`
	StdDev       Duration `yaml:"stddev"`
	Median       Duration `yaml:"median"`
	Sigma        float64  `yaml:"sigma"`
}

// Stage is one period of load: an open model (Rate, optionally ramping to
// RampTo) or a closed model (Concurrency workers sending back to back).
type Stage struct {
	Name        string   `yaml:"name"`
	Duration    Duration `yaml:"duration"`
	Rate        *Rate    `yaml:"rate"`
	RampTo      *Rate    `yaml:"ramp_to"`
	Concurrency int      `yaml:"concurrency"`
	// MaxWorkers caps the requests in flight of an open-model stage
	// (default 10000): past it, sends wait and fall behind the schedule.
	MaxWorkers int `yaml:"max_workers"`
}

// Open reports whether the stage is an open-model (rate-driven) stage.
func (s Stage) Open() bool { return s.Rate != nil }

// Threshold is one pass/fail rule of the scenario.
type Threshold struct {
	Expr threshold.Expr
	Line int
	// Abort stops the run as soon as the threshold is lost, once After
	// has passed since the start; the report is still written.
	Abort bool
	After time.Duration
}

// UnmarshalYAML reads a threshold written as a string, or as a mapping
// {expr: "error_rate < 5%", abort: true, after: 30s}.
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error {
	src := n.Value
	if n.Kind == yaml.MappingNode {
		var m struct {
			Expr  string `yaml:"expr"`
			Abort bool   `yaml:"abort"`
			After string `yaml:"after"`
		}
		dec := n
		if err := dec.Decode(&m); err != nil {
			return err
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "expr", "abort", "after":
			default:
				return fmt.Errorf("unknown field %q (a threshold takes expr, abort, after)", k)
			}
		}
		if m.Expr == "" {
			return fmt.Errorf("a threshold mapping needs expr, such as {expr: \"error_rate < 5%%\", abort: true}")
		}
		if m.After != "" {
			d, err := ParseDuration(m.After)
			if err != nil {
				return fmt.Errorf("after: %v", err)
			}
			t.After = d
		}
		src, t.Abort = m.Expr, m.Abort
	} else if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a threshold expression such as \"p95 < 800ms\"")
	}
	e, err := threshold.Parse(src)
	if err != nil {
		return err
	}
	t.Expr, t.Line = e, n.Line
	return nil
}

// MarshalYAML writes the threshold back as its source text.
func (t Threshold) MarshalYAML() (any, error) {
	if t.Abort {
		return map[string]any{"expr": t.Expr.Source, "abort": true, "after": t.After.String()}, nil
	}
	return t.Expr.Source, nil
}

// Duration is a time.Duration written as "30s", "5m", "1h30m".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a duration with a unit.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.D().String(), nil }

// ParseDuration parses a non-negative duration that has a unit.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, fmt.Errorf("duration %q needs a unit, such as %ss", s, s)
		}
		return 0, fmt.Errorf("%q is not a duration (examples: 500ms, 30s, 5m, 1h30m)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return v, nil
}

// Rate is a request rate such as "200", "200/s" or "12000/m".
type Rate struct {
	PerSecond float64
	Text      string
}

// UnmarshalYAML parses a rate.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalYAML writes the rate as text.
func (r Rate) MarshalYAML() (any, error) { return r.Text, nil }

// ParseRate parses "200", "200/s", "12000/m", "5/ms" or "3600/h".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	num, per, _ := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Rate{}, fmt.Errorf("%q is not a rate (examples: 200, 200/s, 12000/m)", s)
	}
	div := map[string]float64{"": 1, "s": 1, "1s": 1, "ms": 0.001, "m": 60, "min": 60, "h": 3600}
	d, ok := div[strings.TrimSpace(per)]
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: unknown unit %q (use /s, /m, /h or /ms)", s, per)
	}
	if v < 0 {
		return Rate{}, fmt.Errorf("rate %q is negative", s)
	}
	return Rate{PerSecond: v / d, Text: s}, nil
}

// Body is a request body: a string sent as is, or a YAML mapping or list
// sent as JSON.
type Body struct {
	Text string
	JSON bool // written as a mapping or list and encoded as JSON
}

// UnmarshalYAML reads a body.
func (b *Body) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Text = n.Value
		return nil
	}
	var sb strings.Builder
	if err := writeJSON(&sb, n); err != nil {
		return fmt.Errorf("body cannot be written as JSON: %w", err)
	}
	b.Text, b.JSON = sb.String(), true
	return nil
}

// rawTemplate matches a string that is one template ending in the number
// or raw filter: it is written into JSON without quotes, so that
// amount: "{{ random_float 0 100 | number }}" sends a JSON number.
var rawTemplate = regexp.MustCompile(`^\{\{[^{}]*\|\s*(number|raw)\s*\}\}$`)

// writeJSON writes a YAML node as JSON, keeping the order of keys.
func writeJSON(sb *strings.Builder, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSON(sb, n.Alias)
	case yaml.MappingNode:
		sb.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				sb.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value) // strings always encode
			sb.Write(k)
			sb.WriteByte(':')
			if err := writeJSON(sb, n.Content[i+1]); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	case yaml.SequenceNode:
		sb.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				sb.WriteByte(',')
			}
			if err := writeJSON(sb, c); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			if rawTemplate.MatchString(n.Value) {
				sb.WriteString(n.Value)
				return nil
			}
			q, _ := json.Marshal(n.Value) // strings always encode
			sb.Write(q)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		q, err := json.Marshal(v)
		if err != nil {
			return err
		}
		sb.Write(q)
	default:
		return fmt.Errorf("unsupported YAML node")
	}
	return nil
}

// MarshalYAML writes the body as text.
func (b Body) MarshalYAML() (any, error) { return b.Text, nil }

// Line returns the line of the field at path ("stages[1].rate"), or the
// nearest enclosing field's line, or 0.
func (s *Scenario) Line(path string) int {
	for p := path; p != ""; {
		if l, ok := s.pos[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// RequestIndex returns the index of the request called name, or -1.
func (s *Scenario) RequestIndex(name string) int {
	for i, r := range s.Requests {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// TotalDuration is the sum of the stages' durations.
func (s *Scenario) TotalDuration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += st.Duration.D()
	}
	return d
}
