package scenario

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/redact"

	"github.com/loadgate/loadgate/internal/threshold"
)

// MaxFileSize bounds a scenario file; anything larger is refused unread.
const MaxFileSize = 4 << 20

// Error is one problem in a scenario file, placed at a line and field.
type Error struct {
	File  string
	Line  int
	Field string // dotted path such as stages[0].rate; empty for the file
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Env looks up an environment variable, as os.LookupEnv does.
type Env func(string) (string, bool)

// Load reads, parses and validates the scenario at path.
func Load(path string, env Env) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path, env)
}

// Parse reads a scenario from r; file names it in errors. Environment
// references ${VAR} and ${VAR:-default} in values are expanded with env.
// Every problem found is returned at once, joined.
func Parse(r io.Reader, file string, env Env) (*Scenario, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is larger than %d MiB; a scenario file should be small", MaxFileSize>>20)}
	}
	if !utf8.Valid(data) {
		line := 1 + strings.Count(string(data[:invalidUTF8At(data)]), "\n")
		return nil, &Error{File: file, Line: line, Msg: "file is not valid UTF-8"}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "file is empty"}
	}
	d := &decoder{file: file, env: env, pos: map[string]int{}, expanded: map[string]string{}}
	sc := &Scenario{File: file}
	d.expand(doc.Content[0])
	d.decode(doc.Content[0], reflect.ValueOf(sc).Elem(), "")
	if d.overflow {
		// Decoding stopped part way: validating the rest would only
		// report fields that were never read.
		return nil, errors.Join(d.hideValues(d.errs)...)
	}
	sc.pos, sc.expanded = d.pos, d.expanded
	sc.applyDefaults()
	// Validate even after decode errors, so every problem is reported at
	// once; fields that failed to decode are not reported twice.
	errs := d.errs
	for _, err := range sc.validate() {
		var e *Error
		if errors.As(err, &e) && d.failed(e.Field) {
			continue
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(d.hideValues(errs)...)
	}
	return sc, nil
}

// hideValues writes, in the messages of errs, each value taken from the
// environment as the reference it came from (${NAME}): an error quoting a
// bad value must not print a secret.
func (d *decoder) hideValues(errs []error) []error {
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) {
			continue
		}
		for name, v := range d.expanded {
			if len(strings.TrimSpace(v)) < 4 {
				continue
			}
			for _, f := range redact.Forms(v) {
				e.Msg = strings.ReplaceAll(e.Msg, f, "${"+name+"}")
			}
		}
	}
	return errs
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: n, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file string
	env  Env
	pos  map[string]int
	errs []error
	bad  []string // fields that failed to decode
	// expanded holds the environment values used, by name.
	expanded map[string]string
	// nodes counts the nodes of the document, steps the values decoded;
	// aliases make steps exceed nodes, and overflow is set once they
	// exceed maxSteps.
	nodes, steps int
	overflow     bool
}

// maxSteps bounds the values decoded, so that aliases repeating aliases
// cannot make a small file decode into millions of values.
func (d *decoder) maxSteps() int { return 10*d.nodes + 10000 }

// size returns the number of nodes under n, aliases followed, counting no
// further than limit.
func (d *decoder) size(n *yaml.Node, limit int) int {
	count := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if count++; count > limit {
			return
		}
		if n.Kind == yaml.AliasNode {
			walk(n.Alias)
			return
		}
		for _, c := range n.Content {
			if count > limit {
				return
			}
			walk(c)
		}
	}
	walk(n)
	return count
}

func (d *decoder) fail(line int, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	d.bad = append(d.bad, field)
}

// failed reports whether field, or a field inside or around it, already
// failed to decode.
func (d *decoder) failed(field string) bool {
	for _, b := range d.bad {
		if b == field || strings.HasPrefix(field, b+".") || strings.HasPrefix(field, b+"[") ||
			strings.HasPrefix(b, field+".") || strings.HasPrefix(b, field+"[") {
			return true
		}
	}
	return false
}

var envRef = regexp.MustCompile(`\$\$|\$\{([^}]*)\}`)
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} and ${VAR:-default} in every scalar; $$ is a
// literal dollar sign.
func (d *decoder) expand(n *yaml.Node) {
	d.nodes++
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			if ref == "$$" {
				return "$"
			}
			inner := ref[2 : len(ref)-1]
			name, def, hasDef := strings.Cut(inner, ":-")
			if !envName.MatchString(name) {
				d.fail(n.Line, "", "%q is not a valid environment reference (want ${NAME} or ${NAME:-default})", ref)
				return ref
			}
			if d.env != nil {
				if v, ok := d.env(name); ok && (v != "" || !hasDef) {
					d.expanded[name] = v
					return v
				}
			}
			if hasDef {
				return def
			}
			d.fail(n.Line, "", "environment variable %s is not set (set it, or write ${%s:-default})", name, name)
			return ""
		})
		if n.Tag == "!!str" || n.Tag == "" {
			n.Tag = "" // let the value be resolved again: ${N} may stand for a number
		}
	}
	for _, c := range n.Content {
		d.expand(c)
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// decode fills v from n field by field, so that every error names its
// field and line and unknown fields are caught.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.overflow {
		return
	}
	if d.steps++; d.steps > d.maxSteps() {
		d.fail(n.Line, path, "YAML aliases repeat too much: the file decodes into more than %d values", d.maxSteps())
		d.overflow = true
		return
	}
	if path != "" {
		d.pos[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) || !structured(t) {
		d.decodeWhole(n, v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	}
}

// decodeWhole hands n to yaml to fill v in one go. It counts the values n
// holds, aliases followed, first, so that repeated aliases stop here.
func (d *decoder) decodeWhole(n *yaml.Node, v reflect.Value, path string) {
	if d.steps += d.size(n, d.maxSteps()-d.steps+1); d.steps > d.maxSteps() {
		d.fail(n.Line, path, "YAML aliases repeat too much: the file decodes into more than %d values", d.maxSteps())
		d.overflow = true
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(n.Line, path, "%s", cleanTypeError(err, n, v.Type()))
	}
}

// decodeStruct fills the struct v from the mapping n, refusing unknown
// and repeated fields.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping of fields, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		sub := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, sub, "given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		if !ok {
			d.fail(k.Line, sub, "unknown field%s", suggestField(k.Value, fields))
			continue
		}
		d.pos[sub] = k.Line
		d.decode(val, v.Field(idx), sub)
	}
}

// decodeSlice sets the slice v to the items of the sequence n.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "want a list, got %s", describe(n))
		return
	}
	t := v.Type()
	s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// decodeMap sets the map v to the entries of the mapping n, refusing
// repeated keys.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, join(path, k.Value), "given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		ev := reflect.New(t.Elem()).Elem()
		d.decode(val, ev, join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
	}
	v.Set(m)
}

// structured reports whether decode walks t itself rather than handing the
// node to yaml: structs, and slices, maps and pointers that lead to one.
func structured(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Pointer, reflect.Slice:
		return structured(t.Elem()) || reflect.PointerTo(t.Elem()).Implements(unmarshalerType)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && (structured(t.Elem()) || reflect.PointerTo(t.Elem()).Implements(unmarshalerType))
	}
	return false
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out[name] = i
	}
	return out
}

func suggestField(name string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if dd := threshold.Distance(name, n); dd < bestD {
			best, bestD = n, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known fields: " + strings.Join(names, ", ") + ")"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func cleanTypeError(err error, n *yaml.Node, t reflect.Type) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		want := t.String()
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Uint64:
			want = "a whole number"
		case reflect.Bool:
			want = "true or false"
		case reflect.String:
			want = "a string"
		case reflect.Float64:
			want = "a number"
		case reflect.Map:
			want = "a mapping"
		case reflect.Slice:
			want = "a list"
		}
		return fmt.Sprintf("want %s, got %s", want, describe(n))
	}
	return err.Error()
}
