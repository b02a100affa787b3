package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/report"
)

// testEnv is the Env of a command under test. Its runs draw no plots
// (--no-plots): under the race detector drawing them is most of a short
// run's work. Tests of the plots, and of what is written with them, use
// plotsEnv.
func testEnv(out, errw io.Writer, vars map[string]string) *Env {
	env := plotsEnv(out, errw, vars)
	env.noPlots = true
	return env
}

// plotsEnv is testEnv with the plots drawn, as a user's run draws them.
func plotsEnv(out, errw io.Writer, vars map[string]string) *Env {
	return &Env{
		Stdout: out, Stderr: errw, Now: time.Now,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	}
}

func writeScenario(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunExactFigures runs 1000 requests against a server that fails
// exactly 5% with 500 and 3% with 429 after a 20 ms delay, and checks the
// report's figures against that ground truth.
func TestRunExactFigures(t *testing.T) {
	t.Parallel()
	const delay = 20 * time.Millisecond
	srv := newMixServer(delay)
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "mix.yaml", `name: mix
target: {base_url: `+srv.URL+`}
requests:
  - {name: mix, path: /mix}
stages:
  - {duration: 2500ms, rate: 400/s}
thresholds:
  - rate_5xx <= 5%
  - rate_4xx <= 3%
  - error_rate == 8%
  - p50 < 40ms
  - requests == 1000
  - rate_5xx < 5%
  - rate_4xx{request=mix} < 3%
`)
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), testEnv(&stdout, &stderr, nil), []string{"run", sc, "--out", out, "--raw", "vegeta"})
	if code != ExitFail {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitFail, stderr.String())
	}
	r := readReport(t, out)
	tot := r.Totals
	if tot.Requests != 1000 {
		t.Fatalf("requests = %d, want exactly 1000 (400/s for 2.5s)", tot.Requests)
	}
	if tot.Rate5xx != 0.05 || tot.Rate4xx != 0.03 || tot.ErrorRate != 0.08 || tot.SuccessRate != 0.92 {
		t.Errorf("rate_5xx %v rate_4xx %v error_rate %v success_rate %v, want 0.05 0.03 0.08 0.92",
			tot.Rate5xx, tot.Rate4xx, tot.ErrorRate, tot.SuccessRate)
	}
	if tot.StatusCodes["500"] != 50 || tot.StatusCodes["429"] != 30 || tot.StatusCodes["200"] != 920 {
		t.Errorf("status codes = %v", tot.StatusCodes)
	}
	// The server's delay is the floor; above it, the time the machine takes
	// (under -race, with other tests beside it, a few milliseconds).
	// TestAccuracy holds latency to a finer bar without the race detector.
	if p50 := r.Latency.P50; p50 < float64(delay.Milliseconds()) || p50 > float64(delay.Milliseconds())+10 {
		t.Errorf("p50 = %vms, want within 10ms above %v", p50, delay)
	}
	if r.Latency.Min < 20 || r.Latency.Max < r.Latency.P99 || r.Latency.Mean < 20 {
		t.Errorf("latency = %+v", r.Latency)
	}
	if math.Abs(tot.RateRPS-400) > 4 {
		t.Errorf("rate = %v/s, want 400/s", tot.RateRPS)
	}
	if tot.TargetRateRPS == nil || math.Abs(*tot.TargetRateRPS-400) > 1e-6 {
		t.Errorf("target rate = %v", tot.TargetRateRPS)
	}
	want := []bool{true, true, true, true, true, false, false}
	for i, th := range r.Thresholds {
		if th.Pass != want[i] {
			t.Errorf("threshold %q pass = %v (actual %v), want %v", th.Expr, th.Pass, th.ActualText, want[i])
		}
	}
	if r.Verdict != report.Fail {
		t.Errorf("verdict = %q", r.Verdict)
	}
	if rs := r.Requests["mix"]; rs.Totals.Requests != 1000 || rs.Totals.Rate5xx != 0.05 {
		t.Errorf("per-request figures = %+v", rs.Totals)
	}
	if !strings.Contains(stdout.String(), "rate_5xx < 5%") || !strings.Contains(stdout.String(), "FAIL") {
		t.Errorf("summary lacks the threshold table:\n%s", stdout.String())
	}

	// The raw results decode with vegeta's own decoder, one per request.
	f, err := os.Open(filepath.Join(out, "results.gob"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	n, codes := 0, map[uint16]int{}
	var asJSON bytes.Buffer
	enc := vegeta.NewJSONEncoder(&asJSON)
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("decode result %d: %v", n, err)
			}
			break
		}
		if res.Attack != "mix" || !strings.HasSuffix(res.URL, "/mix") {
			t.Fatalf("result %d: attack %q url %q", n, res.Attack, res.URL)
		}
		codes[res.Code]++
		n++
		enc.Encode(&res)
	}
	if n != 1000 || codes[500] != 50 || codes[429] != 30 {
		t.Errorf("raw results: %d, codes %v", n, codes)
	}

	// A report from the gob alone (read by results.GobReader) and from the
	// same results as vegeta JSON (read by vegeta's decoder) gives the
	// run's own figures.
	jsonFile := filepath.Join(t.TempDir(), "results.json")
	if err := os.WriteFile(jsonFile, asJSON.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{filepath.Join(out, "results.gob"), jsonFile} {
		var js bytes.Buffer
		if code := Run(context.Background(), testEnv(&js, io.Discard, nil), []string{"report", raw, "--format", "json"}); code != ExitPass {
			t.Fatalf("report %s: exit %d", raw, code)
		}
		var again report.Report
		if err := json.Unmarshal(js.Bytes(), &again); err != nil {
			t.Fatal(err)
		}
		at, rt := again.Totals, r.Totals
		if at.Requests != rt.Requests || at.Rate5xx != rt.Rate5xx || at.Rate4xx != rt.Rate4xx || at.StatusCodes["429"] != 30 ||
			again.Latency.P50 != r.Latency.P50 || again.Latency.P99 != r.Latency.P99 || again.Latency.Max != r.Latency.Max ||
			again.Requests["mix"].Totals.Requests != 1000 {
			t.Errorf("report from %s: totals %+v latency %+v\nwant totals %+v latency %+v", filepath.Base(raw), at, again.Latency, rt, r.Latency)
		}
	}
}

// TestRunInterruptedWritesReport cancels a run part way: the report is
// still written, marked interrupted, with exit code 3.
func TestRunInterruptedWritesReport(t *testing.T) {
	t.Parallel()
	srv := newMixServer(0)
	defer srv.Close()
	dir := t.TempDir()
	sc := writeScenario(t, dir, "long.yaml", `name: long
target: {base_url: `+srv.URL+`}
requests: [{name: ok, path: /ok}]
stages: [{duration: 1m, rate: 100/s}, {duration: 1m, concurrency: 2}]
`)
	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	code := Run(ctx, testEnv(io.Discard, io.Discard, nil), []string{"run", sc, "--out", out})
	if code != ExitRunFail {
		t.Fatalf("exit %d, want %d", code, ExitRunFail)
	}
	// Stopping takes at most the 0.5 s grace; the rest is writing the
	// reports (the binary test times the stop itself).
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("interrupt took %v to end the run", el)
	}
	r := readReport(t, out)
	if r.Verdict != report.Interrupted || !r.Interrupted || !r.Stages[0].Interrupted {
		t.Errorf("verdict %q interrupted %v", r.Verdict, r.Interrupted)
	}
	if r.Totals.Requests < 30 || r.Totals.Requests > 70 {
		t.Errorf("requests = %d after 0.5s at 100/s", r.Totals.Requests)
	}
	if r.Stages[1].Totals.Requests != 0 {
		t.Errorf("second stage ran after the interrupt")
	}
	if r.Totals.RateRPS < 80 || r.Totals.RateRPS > 120 {
		t.Errorf("rate over the cut-short window = %v/s, want about 100/s", r.Totals.RateRPS)
	}
}
