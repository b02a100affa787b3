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

	"github.com/loadgate/loadgate/internal/capacity"
	"github.com/loadgate/loadgate/report"
)

// TestCapacityServiceModel searches the capacity of scenarios/capacity.yaml:
// the embedded fixture as a service of 8 workers holding each request for
// a fixed 50 ms, so 160 requests/s (N/S) and no more; past it the queue
// grows and p95 breaks its SLO (100 ms). The search (to 10% precision) must
// land within 10% of 160/s, with the knee below it, and say what the model
// predicts.
//
// Not parallel: the model's service time is a timer, and a machine whose
// cores are all busy fires timers late, which lowers the capacity found.
func TestCapacityServiceModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cap")
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), &Env{Stdout: &stdout, Stderr: &stderr, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now},
		[]string{"capacity", "../../scenarios/capacity.yaml", "--start", "120/s", "--precision", "0.1", "--step-duration", "2s", "--pause", "0s", "--out", out})
	if code != ExitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, capacity.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var c report.Capacity
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	const truth = 160.0 // 8 workers / 50 ms
	if c.Result != report.CapFound || math.Abs(c.CapacityRPS-truth)/truth > 0.10 {
		t.Fatalf("capacity %v (%s), want %v/s within 10%%\n%s", c.CapacityRPS, c.Result, truth, stdout.String())
	}
	if c.Knee == nil || c.Knee.TargetRPS >= truth {
		t.Errorf("knee %+v: want one below the capacity %v/s", c.Knee, truth)
	}
	if m := c.TargetModel; m == nil || m.CapacityRPS != truth || !strings.Contains(m.Description, "8 workers") {
		t.Errorf("target model %+v: want the fixture's 8 workers and %v/s", m, truth)
	}
	if c.SustainableRPS != math.Floor(c.CapacityRPS*0.8*10)/10 || len(c.LimitedBy) < 2 || !strings.HasPrefix(c.LimitedBy[0], "p95 < 100ms") ||
		!strings.HasPrefix(c.LimitedBy[len(c.LimitedBy)-1], "the target's workers_busy saturated first (100% at") {
		t.Errorf("sustainable %v, limited by %v: want the SLO, then the fixture's workers", c.SustainableRPS, c.LimitedBy)
	}
	for _, s := range c.Steps {
		if s.Observed["workers_busy"] <= 0 || s.Observed["workers_busy"] > 1 {
			t.Errorf("step %d: observed workers_busy %v", s.N, s.Observed["workers_busy"])
		}
	}
	// Every step is a run folder of its own, with its figures in the table.
	for _, s := range c.Steps {
		if _, err := os.Stat(filepath.Join(out, s.Dir, "report.json")); err != nil {
			t.Errorf("step %d: %v", s.N, err)
		}
		if s.Verdict == report.Pass && s.Latency.P95 >= 100 || s.TargetRPS > 1.1*truth && s.Verdict != report.Fail {
			t.Errorf("step %d at %v/s: error rate %v, verdict %s", s.N, s.TargetRPS, s.ErrorRate, s.Verdict)
		}
	}
	for _, f := range []string{capacity.FileHTML, capacity.FileMD, "summary.txt", "plots/capacity-latency.png", "plots/capacity-errors.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, capacity.FileHTML))
	for _, want := range []string{"sustainable rate", `<span class="tag">capacity</span>`, "data:image/png;base64,", "steps/01-120rps/report.html", "a capacity of 160.0/s by its model"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	t.Logf("%s", stdout.String())
}
