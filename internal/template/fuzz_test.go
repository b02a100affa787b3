package template

import (
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/fuzzcheck"
)

// FuzzCompile checks that Compile never panics or hangs, and that a
// template it accepts renders, with a context like a run's, without
// panicking or hanging.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"plain text",
		"{{ seq }}",
		"{{ seq 100000000000000001 }}",
		"{{now_ms}}/{{ now_s }}",
		"{{ unique }}-{{ test_tag }}",
		"{{ uuid | upper }}",
		"{{ row.name | json }}",
		`{"name":"{{ row.name }}","n":{{ seq | number }}}`,
		"/v1/x/{{ row.note }}?q={{ row.note }}&r={{ row.note | raw }}",
		"/v1/customers/{{ take ids }}/orders/{{ pick orders }}",
		"{{ random_int -9223372036854775808 9223372036854775807 }}",
		"{{ random_float 0 99999 2 | number }}",
		"{{ random_choice vip standard 'two words' \"x\" }}",
		"{{ random_float -Inf +Inf }}",
		"{{ random_choice 'unclosed }}",
		"a }} b",
		"{{ {{ }} }}",
		"{{",
		"",
	} {
		f.Add(s, byte(EscPath), "Zhang \"Xiao\" Ming/ a&b", "_test")
	}
	f.Fuzz(func(t *testing.T, src string, esc byte, value, tag string) {
		env := Env{
			Columns: map[string]int{"name": 0, "note": 1, "missing": 5},
			Pools:   map[string]bool{"ids": true, "orders": true},
			TestTag: tag,
		}
		c := &Context{
			Seq: 41, Row: []string{value, value}, Now: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
			Unique: "ab12", Count: 35, Taken: map[string]string{"ids": value, "orders": value},
		}
		fuzzcheck.Within(t, 2*time.Second, func() {
			tp, err := Compile(src, Escape(esc%3), env)
			if err != nil {
				if tp != nil {
					t.Errorf("Compile returned a template with the error %v", err)
				}
				return
			}
			if tp.Source() != src {
				t.Errorf("Source() = %q, want %q", tp.Source(), src)
			}
			out := tp.Render(c, nil)
			if !strings.Contains(src, "{{") {
				if !tp.Static() || string(out) != src {
					t.Errorf("%q has no {{ }} but renders to %q (static %v)", src, out, tp.Static())
				}
			}
			for _, p := range append(append([]string(nil), tp.Takes...), tp.Picks...) {
				if !env.Pools[p] {
					t.Errorf("%q uses pool %q, which no request fills", src, p)
				}
			}
			if tp.UsesRow && !strings.Contains(src, "row.") {
				t.Errorf("%q reads no row field but UsesRow is set", src)
			}
			// Rendering appends to what dst holds.
			again := tp.Render(c, []byte("prefix"))
			if !strings.HasPrefix(string(again), "prefix") {
				t.Errorf("Render dropped the start of dst: %q", again)
			}
		})
	})
}
