// Package threshold parses and evaluates threshold expressions such as
// "p95 < 800ms" or "error_rate{request=create_customer} < 0.5%".
//
// Values are normalised when parsed: durations to milliseconds, ratios to
// fractions (0.005 means 0.5%), rates to events per second. Whoever supplies
// the actual figures supplies them in the same units.
package threshold

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/loadgate/loadgate/internal/metric"
)

// Kind says what a metric measures and so which units its value takes.
type Kind = metric.Kind

// The metric kinds.
const (
	Duration  = metric.Duration  // milliseconds; units us, ms, s, m
	Ratio     = metric.Ratio     // fraction; units % or none
	PerSecond = metric.PerSecond // events per second; units /s, /m, /h or none
	Count     = metric.Count     // a plain number
	Gauge     = metric.Gauge     // a target's own figure
)

// Metric describes one metric a threshold can name: an entry of the
// registry.
type Metric = metric.Def

// Lookup returns the metric called name.
func Lookup(name string) (Metric, bool) { return metric.Lookup(name) }

// Names lists every metric a threshold can use, sorted.
func Names() []string { return metric.Names() }

// Op is a comparison operator.
type Op string

// The comparison operators.
const (
	LT Op = "<"
	LE Op = "<="
	GT Op = ">"
	GE Op = ">="
	EQ Op = "=="
)

// Expr is one parsed threshold.
type Expr struct {
	Source string            // the text as written
	Metric Metric            // what is measured
	Labels map[string]string // selector, such as request=NAME; nil for overall
	Op     Op
	Value  float64 // normalised: ms, fraction, per second or count

	// A windowed rule describes a condition that must never happen: "in
	// any W window" over every window of length Window, or in Consecutive
	// intervals in a row. The threshold fails when the condition is found.
	Window      time.Duration
	Consecutive int
}

// Windowed reports whether the expression is evaluated over the time
// series rather than the whole run.
func (e Expr) Windowed() bool { return e.Window > 0 || e.Consecutive > 0 }

// Windowable reports whether a metric can be computed for one interval or
// window of the time series.
func Windowable(name string) bool {
	d, ok := metric.Lookup(name)
	return ok && d.InWindow()
}

var (
	consecutivePrefix = regexp.MustCompile(`^(\d+)\s+consecutive\s+(?:intervals|samples)\s+of\s+(.+)$`)
	windowSuffix      = regexp.MustCompile(`^(.+?)\s+in\s+any\s+(\S+)\s+window$`)
)

// Request returns the request name the expression is scoped to, or "".
func (e Expr) Request() string { return e.Labels["request"] }

// Holds reports whether actual satisfies the expression.
func (e Expr) Holds(actual float64) bool {
	if math.IsNaN(actual) {
		return false
	}
	switch e.Op {
	case LT:
		return actual < e.Value
	case LE:
		return actual <= e.Value
	case GT:
		return actual > e.Value
	case GE:
		return actual >= e.Value
	case EQ:
		return math.Abs(actual-e.Value) <= 1e-9*math.Max(1, math.Abs(e.Value))
	}
	return false
}

// Format renders v, in the expression's normalised unit, for people.
func (e Expr) Format(v float64) string { return FormatValue(e.Metric.Kind, v) }

// FormatValue renders v of the given kind for people.
func FormatValue(k Kind, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch k {
	case Duration:
		switch {
		case v >= 1000:
			return trim(v/1000, 3) + "s"
		case v < 1:
			return trim(v*1000, 1) + "µs"
		}
		return trim(v, 2) + "ms"
	case Ratio:
		return trim(v*100, 3) + "%"
	case PerSecond:
		return trim(v, 1) + "/s"
	case Gauge:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return trim(v, 3) // a count, or a ratio of counts such as retry_amplification
}

func trim(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Parse parses one threshold expression: "p95 < 800ms", or a windowed
// rule "error_rate > 1% in any 5m window" or "3 consecutive intervals of
// mean > 800ms".
func Parse(src string) (Expr, error) {
	s := strings.TrimSpace(src)
	if m := consecutivePrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > 100000 {
			return Expr{Source: s}, fmt.Errorf("%q: want 1 or more consecutive intervals", s)
		}
		e, err := parsePlain(m[2], s)
		if err == nil && !Windowable(e.Metric.Name) {
			err = fmt.Errorf("%q: %s is not measured per interval", s, e.Metric.Name)
		}
		e.Consecutive = n
		return e, err
	}
	if m := windowSuffix.FindStringSubmatch(s); m != nil {
		d, err := time.ParseDuration(m[2])
		if err != nil || d <= 0 {
			return Expr{Source: s}, fmt.Errorf("%q: window %q is not a positive duration such as 5m", s, m[2])
		}
		e, err := parsePlain(m[1], s)
		if err == nil && !Windowable(e.Metric.Name) {
			err = fmt.Errorf("%q: %s is not measured per interval", s, e.Metric.Name)
		}
		e.Window = d
		return e, err
	}
	return parsePlain(s, s)
}

func parsePlain(text, src string) (Expr, error) {
	s := strings.TrimSpace(text)
	e := Expr{Source: src}
	if s == "" {
		return e, fmt.Errorf("empty threshold")
	}
	i := 0
	for i < len(s) && (s[i] == '_' || unicode.IsLetter(rune(s[i])) || unicode.IsDigit(rune(s[i]))) {
		i++
	}
	name := s[:i]
	if name == "" {
		return e, fmt.Errorf("%q: expected a metric name first", s)
	}
	m, ok := metric.Lookup(name)
	if !ok {
		return e, fmt.Errorf("%q: unknown metric %q%s", s, name, suggest(name))
	}
	e.Metric = m
	rest := strings.TrimLeft(s[i:], " \t")
	if strings.HasPrefix(rest, "{") {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return e, fmt.Errorf("%q: selector has no closing '}'", s)
		}
		labels, err := parseLabels(rest[1:end], m)
		if err != nil {
			return e, fmt.Errorf("%q: %w", s, err)
		}
		e.Labels = labels
		rest = strings.TrimLeft(rest[end+1:], " \t")
	}
	op, rest := cutOp(rest)
	if op == "" {
		return e, fmt.Errorf("%q: expected an operator (<, <=, >, >=, ==) after %q", s, name)
	}
	e.Op = op
	v, err := parseValue(strings.TrimSpace(rest), m.Kind)
	if err != nil {
		return e, fmt.Errorf("%q: %w", s, err)
	}
	e.Value = v
	return e, nil
}

func parseLabels(s string, m Metric) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("selector %q: want key=value", strings.TrimSpace(part))
		}
		allowed := false
		for _, l := range m.Labels {
			allowed = allowed || l == k
		}
		if !allowed {
			return nil, fmt.Errorf("metric %s takes no selector %q (it takes: %s)", m.Name, k, strings.Join(m.Labels, ", "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("selector %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

func cutOp(s string) (Op, string) {
	for _, op := range []Op{LE, GE, EQ, LT, GT} {
		if strings.HasPrefix(s, string(op)) {
			return op, s[len(op):]
		}
	}
	return "", s
}

func parseValue(s string, k Kind) (float64, error) {
	if s == "" {
		return 0, fmt.Errorf("expected a value after the operator")
	}
	j := 0
	for j < len(s) && (s[j] == '.' || s[j] == '-' || s[j] == '+' || (s[j] >= '0' && s[j] <= '9') || s[j] == 'e' && j > 0 && j+1 < len(s) && (s[j+1] >= '0' && s[j+1] <= '9' || s[j+1] == '-')) {
		j++
	}
	num, unit := s[:j], strings.TrimSpace(s[j:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("value %q is not a number", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("value %q is negative", s)
	}
	switch k {
	case Duration:
		mult, ok := map[string]float64{"": 1, "ms": 1, "s": 1000, "us": 0.001, "µs": 0.001, "m": 60000}[unit]
		if !ok {
			return 0, fmt.Errorf("unit %q is not a duration unit (us, ms, s, m)", unit)
		}
		return v * mult, nil
	case Ratio:
		switch unit {
		case "%":
			v /= 100
		case "":
		default:
			return 0, fmt.Errorf("unit %q is not a ratio unit (%% or a fraction such as 0.005)", unit)
		}
		if v > 1 {
			return 0, fmt.Errorf("ratio %q is above 100%%", s)
		}
		return v, nil
	case Gauge:
		mult, ok := map[string]float64{"": 1, "%": 0.01, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[unit]
		if !ok {
			return 0, fmt.Errorf("unit %q: an observed series takes a number, %% (a fraction), or us, ms, s, m (in seconds)", unit)
		}
		return v * mult, nil
	case PerSecond:
		div, ok := map[string]float64{"": 1, "/s": 1, "/m": 60, "/h": 3600, "rps": 1}[unit]
		if !ok {
			return 0, fmt.Errorf("unit %q is not a rate unit (/s, /m, /h)", unit)
		}
		return v / div, nil
	default:
		if unit != "" {
			return 0, fmt.Errorf("a count takes no unit, got %q", unit)
		}
		return v, nil
	}
}

// suggest returns a hint naming the closest known metric, if any is close.
func suggest(name string) string {
	best, bestD := "", 3
	for _, n := range metric.Names() {
		if d := Distance(name, n); d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	if best == "" {
		return " (known: " + strings.Join(Names(), ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Distance is the Levenshtein edit distance between a and b, used for
// "did you mean" hints.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
