package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/report"
)

// TestShardedRunMatchesOneProcess runs a scenario as 4 shard processes
// against one fixture API and as one process against another, merges the
// shards' folders, and compares: the same requests exactly, the summed rate
// within 2%, and no unique data row used twice (a repeated name would be a
// 409 from the fixture).
func TestShardedRunMatchesOneProcess(t *testing.T) {
	t.Parallel()
	bin := loadgateBinary(t)
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("name\n")
	for i := range 600 {
		fmt.Fprintf(&rows, "Shard Customer %04d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "names.csv"), []byte(rows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := writeScenario(t, dir, "s.yaml", `name: split
target: {base_url: "http://127.0.0.1:1"}
auth: {type: bearer, token: `+fixtures.DemoAPIKey+`}
data: {names: {file: names.csv, mode: unique}}
requests:
  - name: create
    method: POST
    path: /v1/customers
    data: names
    body: {name: "{{ row.name }}", mobile: "13800138000", customer_type: vip}
    expect: {status: [201]}
stages: [{duration: 4s, rate: 150/s}]
thresholds: [error_rate == 0]
`)
	start := func() *fixtures.Server {
		srv, err := fixtures.Start("127.0.0.1:0", fixtures.Options{SeedCustomers: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	split, single := start(), start()
	at := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	outs := make([]string, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(bin, "run", sc, "--target", split.URL, "--shard", fmt.Sprintf("%d/4", i),
				"--start-at", at, "--out", filepath.Join(dir, fmt.Sprint("shard-", i))).CombinedOutput()
			if err != nil {
				outs[i] = fmt.Sprintf("shard %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if out, err := exec.Command(bin, "run", sc, "--target", single.URL, "--out", filepath.Join(dir, "single")).CombinedOutput(); err != nil {
			t.Errorf("single: %v\n%s", err, out)
		}
	}()
	wg.Wait()
	for _, o := range outs {
		if o != "" {
			t.Fatal(o)
		}
	}
	args := []string{"report", "--format", "json", "--out", filepath.Join(dir, "merged")}
	for i := range 4 {
		args = append(args, filepath.Join(dir, fmt.Sprint("shard-", i)))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	var merged report.Report
	if err := json.Unmarshal(out, &merged); err != nil {
		t.Fatal(err)
	}
	one := readReport(t, filepath.Join(dir, "single"))
	m, s := merged.Totals, one.Totals
	if m.Requests != 600 || s.Requests != 600 || m.Successes != 600 || m.StatusCodes["409"] != 0 {
		t.Errorf("merged %d requests (%d successes, %d conflicts), single %d; want 600 each, no conflicts", m.Requests, m.Successes, m.StatusCodes["409"], s.Requests)
	}
	if math.Abs(m.RateRPS-s.RateRPS) > 0.02*s.RateRPS {
		t.Errorf("merged rate %.1f/s, single %.1f/s: more than 2%% apart", m.RateRPS, s.RateRPS)
	}
	if merged.Verdict != report.Pass || !strings.Contains(strings.Join(merged.Notes, " "), "merged from 4 runs") {
		t.Errorf("verdict %s, notes %v", merged.Verdict, merged.Notes)
	}
	// Each shard ran a quarter, and its folder says which part it was.
	for i := range 4 {
		r := readReport(t, filepath.Join(dir, fmt.Sprint("shard-", i)))
		if r.Totals.Requests != 150 || r.Meta.Shard != fmt.Sprintf("%d/4", i) {
			t.Errorf("shard %d: %d requests, meta shard %q", i, r.Totals.Requests, r.Meta.Shard)
		}
	}
}
