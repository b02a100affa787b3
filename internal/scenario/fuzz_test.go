package scenario

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/fuzzcheck"
)

// fuzzFile is the file name Parse is given in FuzzParse. It lies in the
// scenarios folder, so that data files named relative to it resolve as
// they do for the real scenarios.
var fuzzFile = filepath.Join("..", "..", "scenarios", "fuzz.yaml")

// FuzzParse checks that Parse never panics, that every error names the
// file, and that a scenario it accepts passes Validate.
func FuzzParse(f *testing.F) {
	real, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	if len(real) == 0 {
		f.Fatal("no scenarios found in ../../scenarios")
	}
	for _, p := range real {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(valid))
	f.Add([]byte("name: d\ntarget: {base_url: embedded}\nrequests: [{name: a, path: /}]\nstages: [{duration: 1s, rate: 1}]\n"))
	f.Add([]byte("name: [unclosed\n"))
	f.Add([]byte("name: a\ndescription: \xff\xfe\n"))
	f.Add([]byte(strings.Replace(valid, "duration: 10s", "duration: -5s", 1)))
	f.Add([]byte(strings.Replace(strings.Replace(valid, "rate: 10/s", "rate: 0", 1), "    ramp_to: 12000/m\n", "", 1)))
	f.Add([]byte(strings.Replace(valid, "name: create", "name: list", 1)))
	f.Add([]byte(strings.Replace(valid, "  keepalive: false", "  keep_alive: false", 1)))
	f.Add([]byte(strings.Replace(valid, "Bearer abc", "Bearer ${CRM_TOKEN}", 1)))
	f.Add([]byte(""))

	env := func(k string) (string, bool) {
		v, ok := map[string]string{"CRM_CLIENT_ID": "fuzz-id", "RATE": "5/s", "EMPTY": ""}[k]
		return v, ok
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc *Scenario
		var err error
		fuzzcheck.Within(t, 5*time.Second, func() { sc, err = Parse(bytes.NewReader(data), fuzzFile, env) })
		if err != nil {
			for _, e := range leaves(err) {
				if !strings.Contains(e.Error(), fuzzFile) {
					t.Fatalf("error %q does not name the file %q; all errors:\n%v", e, fuzzFile, err)
				}
			}
			if sc != nil {
				t.Fatalf("Parse returned a scenario with the error %v", err)
			}
			return
		}
		if sc == nil {
			t.Fatal("Parse returned neither a scenario nor an error")
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("Parse accepted a scenario that Validate refuses:\n%v", err)
		}
	})
}

// leaves returns the errors joined in err, or err itself.
func leaves(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}
