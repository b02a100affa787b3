package capacity

import (
	"strings"
	"testing"

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
			res, err := Search(s, func(r float64) (string, error) {
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
