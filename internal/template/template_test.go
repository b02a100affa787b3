package template

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func render(t *testing.T, src string, esc Escape, env Env, c *Context) string {
	t.Helper()
	tp, err := Compile(src, esc, env)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return string(tp.Render(c, nil))
}

func TestRender(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	env := Env{Columns: map[string]int{"name": 0, "note": 1}, Pools: map[string]bool{"ids": true}}
	c := &Context{Seq: 4, Now: now, Row: []string{`Zhang "Xiao" Ming`, "a b&c/d"}, Unique: "ab12", Count: 35, Taken: map[string]string{"ids": "100000000000000007"}}
	tests := []struct {
		src  string
		esc  Escape
		want string
	}{
		{"plain text", EscNone, "plain text"},
		{"{{ seq }}", EscNone, "5"},
		{"{{ seq 100000000000000001 }}", EscNone, "100000000000000005"},
		{"{{now_ms}}/{{ now_s }}", EscNone, "1788220800000/1788220800"},
		{"{{ unique }}", EscNone, "ab12-z"},
		{"{{ row.name }}", EscNone, `Zhang "Xiao" Ming`},
		{"{{ row.name | json }}", EscNone, `"Zhang \"Xiao\" Ming"`},
		{"{{ row.name | upper }}", EscNone, `ZHANG "XIAO" MING`},
		{`{"name":"{{ row.name }}"}`, EscJSONString, `{"name":"Zhang \"Xiao\" Ming"}`},
		{`{"n":{{ seq | number }}}`, EscJSONString, `{"n":5}`},
		{"/v1/x/{{ row.note }}?q={{ row.note }}", EscPath, "/v1/x/a%20b&c%2Fd?q=a+b%26c%2Fd"},
		{"/v1/x/{{ row.note | raw }}", EscPath, "/v1/x/a b&c/d"},
		{"/v1/customers/{{ take ids }}", EscPath, "/v1/customers/100000000000000007"},
	}
	for _, tc := range tests {
		if got := render(t, tc.src, tc.esc, env, c); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestRandomFunctions(t *testing.T) {
	t.Parallel()
	c := &Context{}
	seen := map[string]bool{}
	for range 2000 {
		v, _ := strconv.Atoi(render(t, "{{ random_int 3 7 }}", EscNone, Env{}, c))
		if v < 3 || v > 7 {
			t.Fatalf("random_int 3 7 gave %d", v)
		}
		seen[strconv.Itoa(v)] = true
		f := render(t, "{{ random_float 0 100 2 }}", EscNone, Env{}, c)
		if fv, err := strconv.ParseFloat(f, 64); err != nil || fv < 0 || fv > 100 || !regexp.MustCompile(`^\d+\.\d\d$`).MatchString(f) {
			t.Fatalf("random_float gave %q", f)
		}
		ch := render(t, `{{ random_choice vip standard "very premium" }}`, EscNone, Env{}, c)
		if ch != "vip" && ch != "standard" && ch != "very premium" {
			t.Fatalf("random_choice gave %q", ch)
		}
		seen[ch] = true
	}
	for _, want := range []string{"3", "7", "very premium"} {
		if !seen[want] {
			t.Errorf("never drew %q", want)
		}
	}
	u := render(t, "{{ uuid }}", EscNone, Env{}, c)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Errorf("uuid = %q", u)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	env := Env{Columns: map[string]int{"name": 0}, Pools: map[string]bool{"ids": true}}
	tests := map[string]string{
		"{{ nope }}": `unknown function "nope"`,
		// Templates reach no file and no environment variable: the
		// scenario declares its data files and ${VARS} at load.
		`{{ env "HOME" }}`:          `unknown function "env"`,
		`{{ file "/etc/passwd" }}`:  `unknown function "file"`,
		`{{ readFile "x" }}`:        `unknown function "readFile"`,
		"{{ seq":                    "'{{' without '}}'",
		"a }} b":                    "'}}' without '{{'",
		"{{ }}":                     "empty expression",
		"{{ row.mobile }}":          `no field "mobile" (known: name)`,
		"{{ random_int 5 1 }}":      "MIN <= MAX",
		"{{ random_int a b }}":      "whole numbers",
		"{{ random_float 1 2 99 }}": "decimals",
		"{{ seq x }}":               "not a whole number",
		"{{ take other }}":          `no request captures into pool "other" (known: ids)`,
		"{{ uuid 4 }}":              "takes 0 arguments",
		"{{ seq | shout }}":         `unknown filter "shout"`,
		`{{ random_choice "open }}`: "unclosed quote",
	}
	for src, want := range tests {
		_, err := Compile(src, EscNone, env)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v, want %q", src, err, want)
		}
	}
	if _, err := Compile("{{ row.name }}", EscNone, Env{}); err == nil || !strings.Contains(err.Error(), "no data feeder") {
		t.Errorf("row without a feeder: %v", err)
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	a, _ := Compile("/v1/customers?limit=10", EscPath, Env{})
	b, _ := Compile("/v1/customers/{{ seq }}", EscPath, Env{})
	if !a.Static() || b.Static() {
		t.Errorf("static: %v %v", a.Static(), b.Static())
	}
}

func TestPools(t *testing.T) {
	t.Parallel()
	p := NewPools([]string{"ids"}, 3)
	if _, ok := p.Take("ids"); ok {
		t.Fatal("took from an empty pool")
	}
	for _, v := range []string{"a", "b", "c", "d"} {
		p.Put("ids", v)
	}
	if p.Len("ids") != 3 {
		t.Fatalf("len %d, want the bound 3", p.Len("ids"))
	}
	if v, _ := p.Pick("ids"); v == "a" {
		t.Error("picked the value that was pushed out")
	}
	var got []string
	for {
		v, ok := p.Take("ids")
		if !ok {
			break
		}
		got = append(got, v)
	}
	if strings.Join(got, "") != "bcd" {
		t.Errorf("took %v, want oldest first: b c d", got)
	}
	p.Put("unknown", "x")
	if p.Len("unknown") != 0 {
		t.Error("an undeclared pool took a value")
	}
}

// BenchmarkRender renders a body with a feeder row, a unique value and a
// random number: the per-request cost of a templated request.
func BenchmarkRender(b *testing.B) {
	env := Env{Columns: map[string]int{"name": 0, "mobile": 1}}
	tp, err := Compile(`{"name":"{{ row.name }} {{ unique }}","mobile":"{{ row.mobile }}","amount":{{ random_float 0 100 2 | number }}}`, EscJSONString, env)
	if err != nil {
		b.Fatal(err)
	}
	c := &Context{Row: []string{"Wang Daming", "13800138000"}, Unique: "ab12", Now: time.Now()}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		c.Count++
		buf = tp.Render(c, buf[:0])
	}
}

func TestTestTag(t *testing.T) {
	t.Parallel()
	c := &Context{Unique: "ab12", Count: 35}
	env := Env{TestTag: "_test"}
	if got := render(t, "Customer {{ unique }}", EscNone, env, c); got != "Customer ab12-z_test" {
		t.Errorf("unique with a test tag = %q", got)
	}
	if got := render(t, "x{{ test_tag }}", EscNone, env, c); got != "x_test" {
		t.Errorf("test_tag = %q", got)
	}
}
