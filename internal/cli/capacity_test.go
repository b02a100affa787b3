package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/report"
)

// fakeTarget passes every rate up to its capacity; past limit (when set)
// the generator is saturated instead.
type fakeTarget struct {
	capacity, genLimit float64
	tried              []float64
}

func (f *fakeTarget) step(rate float64) (string, error) {
	f.tried = append(f.tried, rate)
	switch {
	case f.genLimit > 0 && rate > f.genLimit:
		return report.Inconclusive, nil
	case rate <= f.capacity:
		return report.Pass, nil
	}
	return report.Fail, nil
}

func TestSearchCapacity(t *testing.T) {
	search := report.CapacitySearch{StartRPS: 10, MaxRPS: 10000, Factor: 1.5, Precision: 0.05}
	for _, tc := range []struct {
		name           string
		target         fakeTarget
		start, max     float64
		want           string
		lowest, widest float64 // the capacity found must be in [lowest, capacity]
	}{
		{"between steps", fakeTarget{capacity: 237}, 10, 10000, report.CapFound, 237 / 1.05, 0},
		{"on a step", fakeTarget{capacity: 22.5}, 10, 10000, report.CapFound, 22.5 / 1.05, 0},
		{"below the start", fakeTarget{capacity: 31}, 200, 10000, report.CapFound, 31 / 1.05, 0},
		{"above the maximum", fakeTarget{capacity: 1e9}, 10, 500, report.CapAtMax, 500, 0},
		{"nothing passes", fakeTarget{capacity: 0.5}, 10, 10000, report.CapNone, 0, 0},
		{"generator first", fakeTarget{capacity: 5000, genLimit: 400}, 10, 10000, report.CapGeneratorLimited, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := search
			s.StartRPS, s.MaxRPS = tc.start, tc.max
			f := tc.target
			var c report.Capacity
			c.Search = s
			res, err := searchCapacity(s, func(r float64) (string, error) {
				v, err := f.step(r)
				c.Steps = append(c.Steps, report.CapacityStep{N: len(c.Steps) + 1, TargetRPS: r, Verdict: v})
				return v, err
			})
			if err != nil || res != tc.want {
				t.Fatalf("result %q (%v), want %q; tried %v", res, err, tc.want, f.tried)
			}
			c.Finish(res)
			switch res {
			case report.CapFound:
				if c.CapacityRPS > f.capacity || c.CapacityRPS < tc.lowest || (c.FirstFailRPS-c.CapacityRPS)/c.CapacityRPS > 0.05 {
					t.Errorf("capacity %v, first fail %v; true capacity %v; tried %v", c.CapacityRPS, c.FirstFailRPS, f.capacity, f.tried)
				}
			case report.CapAtMax:
				if c.CapacityRPS != tc.max {
					t.Errorf("capacity %v, want the maximum %v", c.CapacityRPS, tc.max)
				}
			case report.CapGeneratorLimited:
				// The last rate that passed is reported as a lower bound,
				// never the generator's limit as the target's.
				if c.CapacityRPS > f.genLimit || c.CapacityRPS < f.genLimit/1.5 || !strings.Contains(c.Summary, "at least") {
					t.Errorf("capacity %v (%s); generator limit %v", c.CapacityRPS, c.Summary, f.genLimit)
				}
			}
			if len(f.tried) > 25 {
				t.Errorf("%d steps: %v", len(f.tried), f.tried)
			}
			t.Logf("%s: %v -> %v", res, f.tried, c.CapacityRPS)
		})
	}
}

// TestCapacityFixtureRateLimit searches the capacity of the fixture API
// limited to 200 requests per second per token: above it the fixture
// answers 429, so the SLO error_rate < 0.5% holds up to 200/s and breaks
// past it. The search must land within 10% of 200/s.
func TestCapacityFixtureRateLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(sc, []byte(`name: limited
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
fixture: {rate_limit: {per_second: 200}}
requests: [{name: ping, path: /v1/ping}]
stages: [{duration: 1s, rate: 1/s}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cap")
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), &Env{Stdout: &stdout, Stderr: &stderr, LookupEnv: os.LookupEnv, Now: time.Now},
		[]string{"capacity", sc, "--slo", "error_rate < 0.5%", "--start", "50/s", "--step-duration", "2s", "--pause", "0s", "--out", out})
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, fileCapacity))
	if err != nil {
		t.Fatal(err)
	}
	var c report.Capacity
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Result != report.CapFound || math.Abs(c.CapacityRPS-200)/200 > 0.10 {
		t.Fatalf("capacity %v (%s), want 200/s within 10%%\n%s", c.CapacityRPS, c.Result, stdout.String())
	}
	if c.SustainableRPS != math.Floor(c.CapacityRPS*0.8*10)/10 || len(c.LimitedBy) == 0 || !strings.HasPrefix(c.LimitedBy[0], "error_rate < 0.5%") {
		t.Errorf("sustainable %v, limited by %v", c.SustainableRPS, c.LimitedBy)
	}
	// Every step is a run folder of its own, with its figures in the table.
	for _, s := range c.Steps {
		if _, err := os.Stat(filepath.Join(out, s.Dir, "report.json")); err != nil {
			t.Errorf("step %d: %v", s.N, err)
		}
		if s.Verdict == report.Pass && s.ErrorRate >= 0.005 || s.TargetRPS > 215 && s.Verdict != report.Fail {
			t.Errorf("step %d at %v/s: error rate %v, verdict %s", s.N, s.TargetRPS, s.ErrorRate, s.Verdict)
		}
	}
	for _, f := range []string{fileCapacityHTML, fileCapacityMD, "summary.txt", "plots/capacity-latency.png", "plots/capacity-errors.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, fileCapacityHTML))
	for _, want := range []string{"sustainable rate", `<span class="tag">capacity</span>`, "data:image/png;base64,", "steps/01-50rps/report.html"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	t.Logf("%s", stdout.String())
}
