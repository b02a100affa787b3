package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/report"
)

const scenariosDir = "../../scenarios"

// TestShippedScenariosValidate checks every file in scenarios/.
func TestShippedScenariosValidate(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(scenariosDir, "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d scenarios", len(files))
	}
	for _, f := range files {
		if _, err := scenario.Load(f, func(string) (string, bool) { return "", false }); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestShippedScenariosPass runs every shipped scenario but capacity and
// stress (searches and long runs of their own) for a few seconds against
// the embedded fixture API: their thresholds must hold, and where a
// scenario's point is a figure, the figure is checked in report.json.
func TestShippedScenariosPass(t *testing.T) {
	t.Parallel()
	skip := map[string]bool{"capacity": true, "stress": true}
	cases := []struct {
		name string
		args []string // the length, and any other flags
		min  uint64   // HTTP tries at least
		// check looks at the figures the scenario is about.
		check func(t *testing.T, r *report.Report)
	}{
		{name: "normal", args: []string{"--duration", "4s"}, min: 100, check: checkNormal},
		{name: "abnormal", args: []string{"--duration", "3s"}, min: 100},
		{name: "ratelimit", args: []string{"--duration", "3s"}, min: 60, check: checkRateLimit},
		// At 1000 workers a run of seconds is mostly the opening of the
		// connections through the fault proxy (the file says so): 100
		// workers keep its faults and its gate, and 6 s give the checks
		// enough corrupt answers to catch.
		{name: "extreme", args: []string{"--concurrency", "100", "--duration", "6s"}, min: 500, check: checkExtreme},
		{name: "spike", args: []string{"--duration", "3s"}, min: 100, check: checkSpike},
		{name: "soak", args: []string{"--duration", "3s"}, min: 100},
		{name: "edge", args: []string{"--duration", "3s"}, min: 60, check: checkEdge},
		{name: "versions", args: []string{"--duration", "3s"}, min: 60, check: checkVersions},
		{name: "idempotency", args: []string{"--duration", "3s"}, min: 80, check: checkIdempotency},
	}
	files, _ := filepath.Glob(filepath.Join(scenariosDir, "*.yaml"))
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.name] = true
	}
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".yaml"); !listed[n] && !skip[n] {
			t.Errorf("scenarios/%s.yaml is not run here", n)
		}
	}
	// Each subtest starts its run before it pauses for its turn: the runs
	// mostly wait on their schedules, so all of them go at once rather
	// than -parallel at a time. Under the race detector a run costs
	// seconds of CPU (drawing its plots, mostly), so there at most two a
	// CPU go at once, lest the machine's load become their latency.
	slots := make(chan struct{}, len(cases))
	if raceEnabled {
		slots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name)
			var stdout, stderr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				args := append([]string{"run", filepath.Join(scenariosDir, c.name+".yaml"), "--out", out, "-q"}, c.args...)
				done <- Run(context.Background(), testEnv(&stdout, &stderr, nil), args)
			}()
			t.Parallel()
			if code := <-done; code != ExitPass {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			r := readReport(t, out)
			for _, th := range r.Thresholds {
				t.Logf("%s: %s", th.Expr, th.ActualText)
				if !th.Pass {
					t.Errorf("threshold %q failed: %s", th.Expr, th.ActualText)
				}
			}
			if r.Totals.Requests < c.min {
				t.Errorf("only %d requests, want at least %d", r.Totals.Requests, c.min)
			}
			if _, err := os.Stat(filepath.Join(out, "requests.jsonl")); err != nil {
				t.Error(err)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// reqOf returns the figures of request name, failing the test without them.
func reqOf(t *testing.T, r *report.Report, name string) report.RequestSummary {
	t.Helper()
	s, ok := r.Requests[name]
	if !ok || s.Totals.LogicalRequests == 0 {
		t.Fatalf("request %s was not sent", name)
	}
	return s
}

// checkOf returns the figures of check name of request s.
func checkOf(t *testing.T, s report.RequestSummary, name string) report.Check {
	t.Helper()
	for _, c := range s.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s %s: no check %q", s.Method, s.Path, name)
	return report.Check{}
}

// normal: every step of the flow ran, and the created orders were checked.
func checkNormal(t *testing.T, r *report.Report) {
	for _, n := range []string{"list_customers", "get_customer", "query_orders", "create_customer", "create_order", "change_address", "delete_customer"} {
		reqOf(t, r, n)
	}
	order := reqOf(t, r, "create_order")
	for _, n := range []string{"amount within 0.01", "status unpaid"} {
		if c := checkOf(t, order, n); c.Checked == 0 || c.Failed != 0 {
			t.Errorf("create_order %q: %d checked, %d failed", n, c.Checked, c.Failed)
		}
	}
}

// ratelimit: the paced token never meets the limit; the other is refused
// with 429001 past its first requests.
func checkRateLimit(t *testing.T, r *report.Report) {
	paced, burst := reqOf(t, r, "paced"), reqOf(t, r, "burst")
	if n := paced.Totals.StatusCodes["429"]; n != 0 || paced.Totals.Retries != 0 {
		t.Errorf("paced: %d answers 429, %d retries; want none", n, paced.Totals.Retries)
	}
	if n := burst.Totals.ErrorCodes["429001"]; n == 0 || n != burst.Totals.StatusCodes["429"] || burst.Totals.StatusCodes["200"] == 0 {
		t.Errorf("burst: status codes %v, error codes %v; want 200s then 429 (429001)", burst.Totals.StatusCodes, burst.Totals.ErrorCodes)
	}
}

// extreme: the checks catch the corrupt answers, near the injected 3%.
func checkExtreme(t *testing.T, r *report.Report) {
	for req, n := range map[string]string{"create_customer": "customer_id is 18 digits", "create_order": "amount within 0.01"} {
		c := checkOf(t, reqOf(t, r, req), n)
		t.Logf("%s %q: %d of %d failed", req, n, c.Failed, c.Checked)
		if c.Failed == 0 || c.FailureRate > 0.08 {
			t.Errorf("%s %q: %d of %d failed; want some, under 8%%", req, n, c.Failed, c.Checked)
		}
	}
}

// spike: the surge stage sends five times the rate of the others.
func checkSpike(t *testing.T, r *report.Report) {
	if len(r.Stages) != 3 {
		t.Fatalf("%d stages, want base, surge, back", len(r.Stages))
	}
	base, surge, back := r.Stages[0].Totals.LogicalRequests, r.Stages[1].Totals.LogicalRequests, r.Stages[2].Totals.LogicalRequests
	if base == 0 || back == 0 || surge < 4*base || surge > 6*base || surge < 4*back || surge > 6*back {
		t.Errorf("requests by stage %d, %d, %d; want the surge 5 times the others", base, surge, back)
	}
}

// edge: the scenario's requests are the CSV's rows, each with the row's
// expected status and error code, and each got exactly that answer.
func checkEdge(t *testing.T, r *report.Report) {
	b, err := os.ReadFile("../../fixtures/data/customers_edge.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("customers_edge.csv: %v (%d rows)", err, len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	sc, err := scenario.Load(filepath.Join(scenariosDir, "edge.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Requests) != len(rows)-1 {
		t.Errorf("edge.yaml has %d requests, the CSV %d rows", len(sc.Requests), len(rows)-1)
	}
	for _, row := range rows[1:] {
		name, status, code := row[col["case"]], row[col["status"]], row[col["error_code"]]
		var req *scenario.Request
		for i := range sc.Requests {
			if sc.Requests[i].Name == name {
				req = &sc.Requests[i]
			}
		}
		if req == nil {
			t.Errorf("row %s: no request of that name", name)
			continue
		}
		want := ""
		if req.Expect.ErrorCode != nil {
			want = strconv.FormatInt(*req.Expect.ErrorCode, 10)
		}
		if fmt.Sprint(req.Expect.Status) != "["+status+"]" || want != code {
			t.Errorf("%s expects %v %s; the row says %s %s", name, req.Expect.Status, want, status, code)
		}
		got := reqOf(t, r, name).Totals
		if n := got.StatusCodes[status]; n == 0 || n != got.LogicalRequests || len(got.StatusCodes) != 1 {
			t.Errorf("%s: status codes %v, want only %s", name, got.StatusCodes, status)
		}
		if code != "" && (got.ErrorCodes[code] != got.LogicalRequests || len(got.ErrorCodes) != 1) {
			t.Errorf("%s: error codes %v, want only %s", name, got.ErrorCodes, code)
		}
		if code == "" && len(got.ErrorCodes) != 0 {
			t.Errorf("%s: error codes %v, want none", name, got.ErrorCodes)
		}
	}
}

// versions: each version writes its own date format, and every mixed
// query is 400 (400200).
func checkVersions(t *testing.T, r *report.Report) {
	for req, n := range map[string]string{"v31_create_order": "v3.1 writes a date", "v32_create_order": "v3.2 writes milliseconds"} {
		if c := checkOf(t, reqOf(t, r, req), n); c.Checked == 0 || c.Failed != 0 {
			t.Errorf("%s %q: %d checked, %d failed", req, n, c.Checked, c.Failed)
		}
	}
	for _, n := range []string{"v31_mixed", "v32_mixed"} {
		got := reqOf(t, r, n).Totals
		if got.StatusCodes["400"] != got.LogicalRequests || got.ErrorCodes["400200"] != got.LogicalRequests {
			t.Errorf("%s: status codes %v, error codes %v; want every one 400 (400200)", n, got.StatusCodes, got.ErrorCodes)
		}
	}
}

// idempotency: keyed creates were retried and never duplicated, repeats
// returned the same customer, and unkeyed retries created again.
func checkIdempotency(t *testing.T, r *report.Report) {
	keyed := reqOf(t, r, "create_with_key").Totals
	if keyed.RetriedRequests == 0 || keyed.ErrorCodes["400101"] != 0 || keyed.StatusCodes["201"] != keyed.LogicalRequests {
		t.Errorf("create_with_key: %d retried, status codes %v, error codes %v; want retries, every answer 201", keyed.RetriedRequests, keyed.StatusCodes, keyed.ErrorCodes)
	}
	repeat := reqOf(t, r, "repeat_with_key")
	if c := checkOf(t, repeat, "same customer"); c.Checked == 0 || c.Failed != 0 {
		t.Errorf("repeat_with_key %q: %d checked, %d failed", c.Name, c.Checked, c.Failed)
	}
	if c := checkOf(t, repeat, "header Idempotent-Replayed"); c.Checked == 0 || c.Failed != 0 {
		t.Errorf("repeat_with_key %q: %d checked, %d failed", c.Name, c.Checked, c.Failed)
	}
	unkeyed := reqOf(t, r, "create_without_key").Totals
	if unkeyed.RetriedRequests == 0 || unkeyed.ErrorCodes["400101"] == 0 {
		t.Errorf("create_without_key: %d retried, error codes %v; want retries answered 409 (400101)", unkeyed.RetriedRequests, unkeyed.ErrorCodes)
	}
}

// TestKubernetesManifests checks that the Job and ConfigMap are YAML and
// that the scenario the ConfigMap carries validates.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	dir := "../../deploy/kubernetes"
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cm); err != nil || cm.Kind != "ConfigMap" {
		t.Fatalf("configmap.yaml: %v (kind %q)", err, cm.Kind)
	}
	env := map[string]string{"TARGET_URL": "https://crm.example.test", "CRM_CLIENT_ID": "id", "CRM_CLIENT_SECRET": "secret"}
	if _, err := scenario.Parse(strings.NewReader(cm.Data["scenario.yaml"]), "configmap.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Errorf("the ConfigMap's scenario: %v", err)
	}
	var job struct {
		Kind string `yaml:"kind"`
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &job); err != nil || job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" {
		t.Fatalf("job.yaml: %v (%+v)", err, job)
	}
	args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, fmt.Sprintf("--shards=%d", job.Spec.Completions)) || job.Spec.Parallelism != job.Spec.Completions {
		t.Errorf("--shards, completions and parallelism disagree: %s, %d, %d", args, job.Spec.Completions, job.Spec.Parallelism)
	}
}

// TestCIDocsWorkflows: the GitHub Actions workflow and the GitLab CI job in
// docs/ci.md are valid YAML with the shape their CI expects.
func TestCIDocsWorkflows(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) != 2 {
		t.Fatalf("%d yaml blocks in docs/ci.md, want the workflow and the job", len(blocks))
	}
	var gh struct {
		Jobs map[string]struct {
			Steps []map[string]any `yaml:"steps"`
		} `yaml:"jobs"`
	}
	var gl map[string]struct {
		Script    []string       `yaml:"script"`
		Artifacts map[string]any `yaml:"artifacts"`
	}
	for i, dst := range []any{&gh, &gl} {
		body, _, ok := strings.Cut(blocks[i], "```")
		if !ok {
			t.Fatalf("yaml block %d is not closed", i)
		}
		if err := yaml.Unmarshal([]byte(body), dst); err != nil {
			t.Errorf("yaml block %d: %v", i, err)
		}
	}
	steps := 0
	for _, j := range gh.Jobs {
		steps += len(j.Steps)
	}
	if steps == 0 || !strings.Contains(blocks[0], "loadgate compare") {
		t.Errorf("GitHub workflow: %d steps", steps)
	}
	if job, ok := gl["load"]; !ok || len(job.Script) == 0 || job.Artifacts == nil || !strings.Contains(strings.Join(job.Script, "\n"), "loadgate compare") {
		t.Errorf("GitLab job: %+v", gl["load"])
	}
}
