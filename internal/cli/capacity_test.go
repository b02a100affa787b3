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
	b, err := os.ReadFile(filepath.Join(out, capacity.FileJSON))
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
	for _, f := range []string{capacity.FileHTML, capacity.FileMD, "summary.txt", "plots/capacity-latency.png", "plots/capacity-errors.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, capacity.FileHTML))
	for _, want := range []string{"sustainable rate", `<span class="tag">capacity</span>`, "data:image/png;base64,", "steps/01-50rps/report.html"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	t.Logf("%s", stdout.String())
}
