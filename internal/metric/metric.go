// Package metric is the one list of the figures loadgate measures. Each
// metric is one entry: its name, its kind (and so its unit), which way is
// better, the selectors it takes, where it exists (a run and its requests,
// an interval or window of a run's time series, a probe) and how it is read
// from a scope's figures. Thresholds parse against it; report.json's
// figures, windowed rules, compare, capacity steps and probe read through
// it; 'loadgate help metrics' and the metrics table of scenarios/README.md
// are printed from it.
package metric

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Kind says what a metric measures and so which units its value takes.
type Kind int

// The kinds.
const (
	Duration  Kind = iota + 1 // milliseconds; units us, ms, s, m
	Ratio                     // fraction; units % or none
	PerSecond                 // events per second; units /s, /m, /h or none
	Count                     // a plain number
	Gauge                     // a target's own figure: a number, % (a fraction) or a duration (seconds)
)

// Unit is how a kind's values are written.
func (k Kind) Unit() string {
	switch k {
	case Duration:
		return "ms"
	case Ratio:
		return "%"
	case PerSecond:
		return "/s"
	}
	return ""
}

// Better says which way a change of a metric is an improvement.
type Better int

// The directions.
const (
	Lower  Better = iota + 1 // a latency, an error rate
	Higher                   // throughput, success
	Either                   // a count: no direction is better
)

// Scope says where a metric exists.
type Scope int

// The scopes; a metric exists in one or more.
const (
	Run    Scope = 1 << iota // a run, and each request of it
	Window                   // one interval, or a window, of a run's time series
	Probe                    // a connectivity probe
)

// Def is one metric.
type Def struct {
	Name   string
	Kind   Kind
	Better Better
	Labels []string // selector keys it takes, such as "request"
	Help   string
	Scopes Scope
	// Read reads the metric from a scope's figures and the selector's
	// labels (request= picks the scope; the others are the metric's). NaN
	// when the scope has nothing to measure it by. A share is read by
	// Parts: its events and what they are a share of (a test of two
	// shares needs both).
	Read  func(f *Figures, labels map[string]string) float64
	Parts func(f *Figures, labels map[string]string) (n, of float64)
}

// InRun, InWindow and InProbe report whether the metric exists there.
func (d Def) InRun() bool    { return d.Scopes&Run != 0 }
func (d Def) InWindow() bool { return d.Scopes&Window != 0 }
func (d Def) InProbe() bool  { return d.Scopes&Probe != 0 }

// Stats are a latency distribution's figures, in milliseconds.
type Stats struct {
	Min    float64 `json:"min"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Max    float64 `json:"max"`
}

// NaNStats is a distribution with nothing in it.
var NaNStats = Stats{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}

// Figures are one scope's figures, from which every metric is read. A
// scope sets what it has; the rest stays as New leaves it (NaN, or none).
type Figures struct {
	// Tries are HTTP tries and the statuses count them; Logical are the
	// requests as the scenario sees them, and the classes, timeouts and
	// error codes count them.
	Tries, Logical, Successes           float64
	Status4xx, Status5xx                float64
	Network, Protocol, Business, System float64
	Timeouts                            float64
	Seconds                             float64 // the sending window
	// Latency is from the intended send time where there is one (open
	// model), Raw from the actual one.
	Latency, Raw          Stats
	Phases                map[string]Stats // dns, connect, tls, ttfb (and total in a probe)
	NewConns, ReusedConns float64
	ErrorCodes            map[string]float64    // logical requests by business error code
	Checks                map[string][2]float64 // by check: checked, failed
	Checked               float64               // logical requests whose content was checked
	PhaseErrors           map[string]float64    // a probe's tries failing in dns, connect, tls
	// Observed are the target's series (observe:) over the scope: their
	// minimum, mean, maximum and last value.
	Observed map[string]ObservedStats
}

// ObservedStats sum up one observed series over a scope.
type ObservedStats struct{ Min, Mean, Max, Last float64 }

// New returns figures with nothing in them.
func New() *Figures {
	nan := math.NaN()
	return &Figures{
		Tries: nan, Logical: nan, Successes: nan, Status4xx: nan, Status5xx: nan, Network: nan, Protocol: nan,
		Business: nan, System: nan, Timeouts: nan, Seconds: nan, Latency: NaNStats, Raw: NaNStats,
		NewConns: nan, ReusedConns: nan, Checked: nan,
	}
}

func ratio(n, of float64) float64 {
	if of == 0 || math.IsNaN(of) {
		return math.NaN()
	}
	return n / of
}

// latency returns a latency statistic: the corrected one, unless the
// selector asks for latency=raw and the scope has one.
func latency(pick func(Stats) float64) func(*Figures, map[string]string) float64 {
	return func(f *Figures, l map[string]string) float64 {
		if f.Logical == 0 {
			return math.NaN()
		}
		if l["latency"] == "raw" && !math.IsNaN(pick(f.Raw)) {
			return pick(f.Raw)
		}
		return pick(f.Latency)
	}
}

// phase returns a statistic of a connection phase.
func phase(name string, pick func(Stats) float64) func(*Figures, map[string]string) float64 {
	return func(f *Figures, _ map[string]string) float64 {
		s, ok := f.Phases[name]
		if !ok {
			return math.NaN()
		}
		return pick(s)
	}
}

var (
	req      = []string{"request"}
	reqLat   = []string{"request", "latency"}
	statPick = map[string]func(Stats) float64{
		"min": func(s Stats) float64 { return s.Min }, "mean": func(s Stats) float64 { return s.Mean },
		"stddev": func(s Stats) float64 { return s.StdDev }, "p50": func(s Stats) float64 { return s.P50 },
		"p90": func(s Stats) float64 { return s.P90 }, "p95": func(s Stats) float64 { return s.P95 },
		"p99": func(s Stats) float64 { return s.P99 }, "p999": func(s Stats) float64 { return s.P999 },
		"max": func(s Stats) float64 { return s.Max },
	}
)

// defs is the registry. Order is the order of 'loadgate help metrics'.
var defs = func() []Def {
	var out []Def
	add := func(d Def) { out = append(out, d) }
	for _, st := range []string{"min", "mean", "stddev", "p50", "p90", "p95", "p99", "p999", "max"} {
		help := "latency " + st + ", from the intended send time in open-model stages (latency=raw: from the actual one)"
		add(Def{Name: st, Kind: Duration, Better: Lower, Labels: reqLat, Help: help, Scopes: Run | Window, Read: latency(statPick[st])})
	}
	share := func(name, help string, scopes Scope, better Better, labels []string, parts func(*Figures, map[string]string) (float64, float64)) {
		add(Def{Name: name, Kind: Ratio, Better: better, Labels: labels, Help: help, Scopes: scopes, Parts: parts})
	}
	ofLogical := func(n func(*Figures) float64) func(*Figures, map[string]string) (float64, float64) {
		return func(f *Figures, _ map[string]string) (float64, float64) { return n(f), f.Logical }
	}
	share("error_rate", "share of requests that failed (any class), after retries", Run|Window|Probe, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.Logical - f.Successes }))
	share("success_rate", "share of requests that met their expectations, after retries", Run|Window|Probe, Higher, req,
		ofLogical(func(f *Figures) float64 { return f.Successes }))
	share("rate_4xx", "share of HTTP tries answered 4xx", Run|Window, Lower, req,
		func(f *Figures, _ map[string]string) (float64, float64) { return f.Status4xx, f.Tries })
	share("rate_5xx", "share of HTTP tries answered 5xx", Run|Window, Lower, req,
		func(f *Figures, _ map[string]string) (float64, float64) { return f.Status5xx, f.Tries })
	share("network_error_rate", "share of requests with no answer (timeout, refused, reset, DNS, TLS)", Run|Window, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.Network }))
	share("protocol_error_rate", "share of requests with an unexpected status or a broken answer", Run|Window, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.Protocol }))
	share("business_error_rate", "share of requests with the expected status that failed a check", Run|Window, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.Business }))
	share("system_error_rate", "share of requests loadgate itself could not make or finish", Run|Window, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.System }))
	share("timeout_rate", "share of requests that ended in a timeout", Run|Window|Probe, Lower, req,
		ofLogical(func(f *Figures) float64 { return f.Timeouts }))
	share("error_code", "share of requests whose body carried the business error code", Run, Lower, []string{"request", "code"},
		func(f *Figures, l map[string]string) (float64, float64) { return f.ErrorCodes[l["code"]], f.Logical })
	share("check_failure_rate", "share of checked responses failing the check (any check without a selector)", Run, Lower, []string{"request", "check"},
		func(f *Figures, l map[string]string) (float64, float64) {
			want, one := l["check"]
			if !one {
				return f.Business, f.Checked
			}
			c := f.Checks[want]
			return c[1], c[0]
		})
	add(Def{Name: "throughput", Kind: PerSecond, Better: Higher, Labels: req, Help: "successful requests per second of the sending window", Scopes: Run | Window,
		Read: func(f *Figures, _ map[string]string) float64 { return ratio(f.Successes, f.Seconds) }})
	add(Def{Name: "rate", Kind: PerSecond, Better: Either, Labels: req, Help: "HTTP tries sent per second of the sending window", Scopes: Run | Window,
		Read: func(f *Figures, _ map[string]string) float64 { return ratio(f.Tries, f.Seconds) }})
	add(Def{Name: "requests", Kind: Count, Better: Either, Labels: req, Help: "HTTP tries sent", Scopes: Run | Window,
		Read: func(f *Figures, _ map[string]string) float64 { return f.Tries }})
	add(Def{Name: "retry_amplification", Kind: Count, Better: Lower, Labels: req, Help: "HTTP tries per logical request, retries included", Scopes: Run,
		Read: func(f *Figures, _ map[string]string) float64 { return ratio(f.Tries, f.Logical) }})
	for _, ph := range []string{"dns", "connect", "tls", "ttfb"} {
		for _, st := range []string{"p50", "p90", "p95", "p99", "max", "mean"} {
			add(Def{Name: ph + "_" + st, Kind: Duration, Better: Lower, Labels: req, Help: ph + " phase of the tries, " + st, Scopes: Run, Read: phase(ph, statPick[st])})
		}
	}
	share("new_connection_rate", "share of tries that opened a new connection", Run, Lower, req,
		func(f *Figures, _ map[string]string) (float64, float64) {
			return f.NewConns, f.NewConns + f.ReusedConns
		})
	share("connection_reuse_rate", "share of tries that reused a connection", Run, Higher, req,
		func(f *Figures, _ map[string]string) (float64, float64) {
			return f.ReusedConns, f.NewConns + f.ReusedConns
		})
	observed := func(name, help string, pick func(ObservedStats) float64) {
		add(Def{Name: name, Kind: Gauge, Better: Either, Labels: []string{"series"}, Help: help, Scopes: Run | Window,
			Read: func(f *Figures, l map[string]string) float64 {
				s, ok := f.Observed[l["series"]]
				if !ok {
					return math.NaN() // a series that matched nothing fails its thresholds
				}
				return pick(s)
			}})
	}
	observed("observed", "the maximum of an observed target series (observe.series), over the run or the window", func(s ObservedStats) float64 { return s.Max })
	observed("observed_mean", "the mean of an observed target series", func(s ObservedStats) float64 { return s.Mean })
	observed("observed_last", "the last value of an observed target series", func(s ObservedStats) float64 { return s.Last })
	// Probe-only phases: a probe measures every try on a new connection.
	for _, ph := range []string{"dns", "connect", "tls", "ttfb", "total"} {
		for _, st := range []string{"min", "p50", "p95", "max"} {
			name := ph + "_" + st
			if i := indexOf(out, name); i >= 0 {
				out[i].Scopes |= Probe
				continue
			}
			add(Def{Name: name, Kind: Duration, Better: Lower, Help: ph + " phase of the tries, " + st, Scopes: Probe, Read: phase(ph, statPick[st])})
		}
	}
	for _, ph := range []string{"dns", "connect", "tls"} {
		share(ph+"_error_rate", "share of tries failing in the "+ph+" phase", Probe, Lower, nil,
			func(f *Figures, _ map[string]string) (float64, float64) { return f.PhaseErrors[ph], f.Logical })
	}
	for i := range out {
		if p := out[i].Parts; p != nil && out[i].Read == nil {
			out[i].Read = func(f *Figures, l map[string]string) float64 { return ratio(p(f, l)) }
		}
	}
	return out
}()

func indexOf(ds []Def, name string) int {
	for i, d := range ds {
		if d.Name == name {
			return i
		}
	}
	return -1
}

var byName = func() map[string]Def {
	m := make(map[string]Def, len(defs))
	for _, d := range defs {
		m[d.Name] = d
	}
	return m
}()

// Lookup returns the metric called name.
func Lookup(name string) (Def, bool) {
	d, ok := byName[name]
	return d, ok
}

// All returns every metric, in the registry's order.
func All() []Def { return append([]Def(nil), defs...) }

// Names lists every metric's name, sorted.
func Names() []string {
	out := make([]string, 0, len(defs))
	for _, d := range defs {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// Value reads metric name from figures f, with the selector's labels; NaN
// for a metric that does not exist or cannot be measured there.
func Value(name string, f *Figures, labels map[string]string) float64 {
	d, ok := byName[name]
	if !ok {
		return math.NaN()
	}
	return d.Read(f, labels)
}

// Units lists the units a kind's values can be written in.
func (k Kind) Units() string {
	switch k {
	case Duration:
		return "`us`, `ms` (default), `s`, `m`"
	case Ratio:
		return "`%` or a fraction"
	case PerSecond:
		return "`/s` (default), `/m`, `/h`"
	case Gauge:
		return "the series' own; `%` divides by 100, `ms` `s` `m` are in seconds"
	}
	return "none"
}

func (d Def) better() string {
	return map[Better]string{Lower: "lower", Higher: "higher", Either: "-"}[d.Better]
}

func (d Def) where() string {
	var where []string
	for _, s := range []struct {
		scope Scope
		name  string
	}{{Run, "run"}, {Window, "window"}, {Probe, "probe"}} {
		if d.Scopes&s.scope != 0 {
			where = append(where, s.name)
		}
	}
	return strings.Join(where, ", ")
}

// Table writes the registry as a Markdown table: name, units, which way is
// better, selectors, where it exists, what it is.
func Table() string {
	var b strings.Builder
	b.WriteString("| metric | units | better | selectors | in | what |\n|---|---|---|---|---|---|\n")
	for _, d := range defs {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", d.Name, d.Kind.Units(), d.better(), strings.Join(d.Labels, ", "), d.where(), d.Help)
	}
	return b.String()
}

// Text writes the registry for a terminal: one metric a line, in columns.
func Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tUNIT\tBETTER\tSELECTORS\tIN\tWHAT")
	for _, d := range defs {
		unit := d.Kind.Unit()
		if unit == "" {
			unit = "-"
		}
		sel := strings.Join(d.Labels, ",")
		if sel == "" {
			sel = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, unit, d.better(), sel, strings.ReplaceAll(d.where(), " ", ""), d.Help)
	}
	_ = tw.Flush()
	return b.String()
}
