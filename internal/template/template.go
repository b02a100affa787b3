// Package template renders request paths, headers and bodies. Templates
// are compiled once, when the scenario is loaded, into a list of literal
// and value segments; rendering appends to a byte slice and parses
// nothing.
//
// Syntax: text with {{ expr }} or {{ expr | filter }} parts. Expressions:
//
//	seq [START]              the request's own count, from START (default 1)
//	uuid                     a random UUID (v4)
//	now_ms, now_s            the Unix time in milliseconds or seconds
//	random_int MIN MAX       a whole number in [MIN, MAX]
//	random_float MIN MAX [D] a number from MIN to MAX with D decimals (default 2)
//	random_choice A B ...    one of the words (quote words with spaces)
//	unique                   a value unique to this run and request, ending in the test tag
//	test_tag                 the scenario's test_tag
//	row.FIELD                the field of the data feeder's current row
//	take POOL                a captured value, removed from its pool
//	pick POOL                a captured value, left in its pool
//
// Filters: json (a quoted JSON string), url (query escaping), raw (no
// escaping where the context escapes by default), upper, lower.
package template

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Escape says how values are escaped where the template is used.
type Escape uint8

// Escaping contexts.
const (
	EscNone       Escape = iota // headers and text bodies
	EscPath                     // a URL path: path escaping before '?', query escaping after
	EscJSONString               // inside a JSON string of a body written as YAML
)

// Env is what a template may refer to, checked when it is compiled.
type Env struct {
	// Columns are the fields of the request's data feeder; nil when the
	// request has none.
	Columns map[string]int
	// Pools are the names of capture pools some request fills.
	Pools map[string]bool
	// TestTag marks generated identifiers (appended to unique), so test
	// data can be found and cleaned afterwards.
	TestTag string
}

// Template is a compiled template.
type Template struct {
	src  string
	segs []segment
	// Takes are the pools the template removes values from.
	Takes []string
	// Picks are the pools the template reads without removing.
	Picks []string
	// UsesRow reports whether the template reads the feeder row.
	UsesRow bool
}

type segment struct {
	lit    string
	value  valueFunc // nil for a literal
	filter string
	esc    Escape
}

type valueFunc func(c *Context, dst []byte) []byte

// Context holds the per-request inputs of rendering.
type Context struct {
	Seq    uint64   // the request's count, from 0
	Row    []string // the feeder row, by column index
	Now    time.Time
	Unique string            // run-unique prefix for unique
	Count  uint64            // run-wide count for unique
	Taken  map[string]string // values drawn from pools by take and pick
}

// Static reports whether the template has no dynamic parts.
func (t *Template) Static() bool {
	for _, s := range t.segs {
		if s.value != nil {
			return false
		}
	}
	return true
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Render appends the rendered template to dst.
func (t *Template) Render(c *Context, dst []byte) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		if s.value == nil {
			dst = append(dst, s.lit...)
			continue
		}
		if s.filter == "" && s.esc == EscNone {
			dst = s.value(c, dst)
			continue
		}
		start := len(dst)
		dst = s.value(c, dst)
		v := string(dst[start:])
		dst = append(dst[:start], apply(v, s.filter, s.esc)...)
	}
	return dst
}

func apply(v, filter string, esc Escape) string {
	switch filter {
	case "json":
		b, _ := json.Marshal(v) // a string always encodes
		return string(b)
	case "url":
		return url.QueryEscape(v)
	case "upper":
		v = strings.ToUpper(v)
	case "lower":
		v = strings.ToLower(v)
	case "raw", "number":
		return v
	}
	switch esc {
	case EscPath:
		return url.PathEscape(v)
	case EscJSONString:
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	}
	return v
}

// Compile compiles src for use in the given escaping context.
func Compile(src string, esc Escape, env Env) (*Template, error) {
	t := &Template{src: src}
	rest := src
	inQuery := false
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf("template %q: '}}' without '{{'", src)
			}
			t.segs = append(t.segs, segment{lit: rest})
			break
		}
		lit := rest[:i]
		if strings.Contains(lit, "}}") {
			return nil, fmt.Errorf("template %q: '}}' without '{{'", src)
		}
		if lit != "" {
			t.segs = append(t.segs, segment{lit: lit})
		}
		inQuery = inQuery || strings.Contains(lit, "?")
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %q: '{{' without '}}'", src)
		}
		expr := strings.TrimSpace(rest[i+2 : i+j])
		seg, err := t.compileExpr(expr, env)
		if err != nil {
			return nil, fmt.Errorf("template %q: {{ %s }}: %w", src, expr, err)
		}
		seg.esc = esc
		if esc == EscPath && inQuery {
			if seg.filter == "" {
				seg.filter = "url"
			}
		}
		t.segs = append(t.segs, seg)
		rest = rest[i+j+2:]
	}
	return t, nil
}

var filters = map[string]bool{"json": true, "url": true, "raw": true, "number": true, "upper": true, "lower": true}

func (t *Template) compileExpr(expr string, env Env) (segment, error) {
	call, filter, hasFilter := strings.Cut(expr, "|")
	filter = strings.TrimSpace(filter)
	if hasFilter && !filters[filter] {
		return segment{}, fmt.Errorf("unknown filter %q (known: json, url, raw, number, upper, lower)", filter)
	}
	args, err := split(strings.TrimSpace(call))
	if err != nil {
		return segment{}, err
	}
	if len(args) == 0 {
		return segment{}, fmt.Errorf("empty expression")
	}
	fn, err := t.compileCall(args[0], args[1:], env)
	if err != nil {
		return segment{}, err
	}
	return segment{value: fn, filter: filter}, nil
}

func nargs(name string, args []string, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("%s takes %d arguments, got %d", name, lo, len(args))
		}
		return fmt.Errorf("%s takes %d to %d arguments, got %d", name, lo, hi, len(args))
	}
	return nil
}

// compileCall compiles a call of the function name with its arguments
// into the value it writes; env says which pools and fields exist.
func (t *Template) compileCall(name string, args []string, env Env) (valueFunc, error) {
	switch name {
	case "seq":
		return compileSeq(args)
	case "uuid":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		return func(c *Context, dst []byte) []byte {
			u := uuid.New()
			return append(dst, u.String()...)
		}, nil
	case "now_ms":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		return func(c *Context, dst []byte) []byte { return strconv.AppendInt(dst, c.Now.UnixMilli(), 10) }, nil
	case "now_s":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		return func(c *Context, dst []byte) []byte { return strconv.AppendInt(dst, c.Now.Unix(), 10) }, nil
	case "random_int":
		return compileRandomInt(args)
	case "random_float":
		return compileRandomFloat(args)
	case "random_choice":
		if len(args) == 0 {
			return nil, fmt.Errorf("random_choice needs at least one word")
		}
		words := append([]string(nil), args...)
		return func(c *Context, dst []byte) []byte { return append(dst, words[rand.IntN(len(words))]...) }, nil
	case "unique":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		tag := env.TestTag
		return func(c *Context, dst []byte) []byte {
			dst = append(dst, c.Unique...)
			dst = append(dst, '-')
			dst = strconv.AppendUint(dst, c.Count, 36)
			return append(dst, tag...)
		}, nil
	case "test_tag":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		tag := env.TestTag
		return func(c *Context, dst []byte) []byte { return append(dst, tag...) }, nil
	case "take", "pick":
		return t.compilePool(name, args, env)
	}
	if field, ok := strings.CutPrefix(name, "row."); ok {
		return t.compileRow(field, args, env)
	}
	return nil, fmt.Errorf("unknown function %q (known: seq, uuid, now_ms, now_s, random_int, random_float, random_choice, unique, test_tag, row.FIELD, take, pick)", name)
}

// compileSeq compiles seq [START]: the request's sequence number counted
// from START, 1 by default.
func compileSeq(args []string) (valueFunc, error) {
	if err := nargs("seq", args, 0, 1); err != nil {
		return nil, err
	}
	start := uint64(1)
	if len(args) == 1 {
		v, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("seq START: %q is not a whole number", args[0])
		}
		start = v
	}
	return func(c *Context, dst []byte) []byte { return strconv.AppendUint(dst, start+c.Seq, 10) }, nil
}

// compileRandomInt compiles random_int MIN MAX: a whole number drawn
// evenly from MIN to MAX, both included.
func compileRandomInt(args []string) (valueFunc, error) {
	if err := nargs("random_int", args, 2, 2); err != nil {
		return nil, err
	}
	lo, err1 := strconv.ParseInt(args[0], 10, 64)
	hi, err2 := strconv.ParseInt(args[1], 10, 64)
	if err1 != nil || err2 != nil || hi < lo || hi-lo < 0 {
		return nil, fmt.Errorf("random_int MIN MAX: want whole numbers with MIN <= MAX, got %q %q", args[0], args[1])
	}
	span := uint64(hi-lo) + 1
	return func(c *Context, dst []byte) []byte {
		var v int64
		if span == 0 { // the whole int64 range
			v = int64(rand.Uint64())
		} else {
			v = lo + int64(rand.Uint64N(span))
		}
		return strconv.AppendInt(dst, v, 10)
	}, nil
}

// compileRandomFloat compiles random_float MIN MAX [DECIMALS]: a number
// drawn evenly from MIN to MAX, written with DECIMALS places (2 by default).
func compileRandomFloat(args []string) (valueFunc, error) {
	if err := nargs("random_float", args, 2, 3); err != nil {
		return nil, err
	}
	lo, err1 := strconv.ParseFloat(args[0], 64)
	hi, err2 := strconv.ParseFloat(args[1], 64)
	if err1 != nil || err2 != nil || hi < lo || math.IsInf(hi-lo, 0) {
		return nil, fmt.Errorf("random_float MIN MAX: want numbers with MIN <= MAX, got %q %q", args[0], args[1])
	}
	dec := 2
	if len(args) == 3 {
		d, err := strconv.Atoi(args[2])
		if err != nil || d < 0 || d > 15 {
			return nil, fmt.Errorf("random_float decimals: want 0 to 15, got %q", args[2])
		}
		dec = d
	}
	return func(c *Context, dst []byte) []byte {
		return strconv.AppendFloat(dst, lo+rand.Float64()*(hi-lo), 'f', dec, 64)
	}, nil
}

// compilePool compiles take POOL or pick POOL: the value the request drew
// from the pool, which take removes and pick leaves (t.Takes, t.Picks).
func (t *Template) compilePool(name string, args []string, env Env) (valueFunc, error) {
	if err := nargs(name, args, 1, 1); err != nil {
		return nil, err
	}
	pool := args[0]
	if !env.Pools[pool] {
		return nil, fmt.Errorf("no request captures into pool %q%s", pool, known(env.Pools))
	}
	if name == "take" {
		t.Takes = appendOnce(t.Takes, pool)
	} else {
		t.Picks = appendOnce(t.Picks, pool)
	}
	return func(c *Context, dst []byte) []byte { return append(dst, c.Taken[pool]...) }, nil
}

// compileRow compiles row.FIELD: the field of the data feeder's current
// row, empty when the row is short.
func (t *Template) compileRow(field string, args []string, env Env) (valueFunc, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("row.%s takes no arguments", field)
	}
	if env.Columns == nil {
		return nil, fmt.Errorf("row.%s: the request has no data feeder (set data: NAME)", field)
	}
	idx, ok := env.Columns[field]
	if !ok {
		cols := make(map[string]bool, len(env.Columns))
		for c := range env.Columns {
			cols[c] = true
		}
		return nil, fmt.Errorf("the data feeder has no field %q%s", field, known(cols))
	}
	t.UsesRow = true
	return func(c *Context, dst []byte) []byte {
		if idx < len(c.Row) {
			return append(dst, c.Row[idx]...)
		}
		return dst
	}, nil
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func known(m map[string]bool) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

// split splits an expression into words; double- or single-quoted words
// may hold spaces.
func split(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if q := s[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote in %q", s)
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}
