package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/scenario"
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

// TestShippedScenariosPass runs normal and abnormal for a few seconds
// against the embedded fixture API: their thresholds must hold.
func TestShippedScenariosPass(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"normal", "abnormal"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "run")
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), testEnv(&stdout, &stderr, nil),
				[]string{"run", filepath.Join(scenariosDir, name+".yaml"), "--duration", "4s", "--out", out})
			if code != ExitPass {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			r := readReport(t, out)
			for _, th := range r.Thresholds {
				if !th.Pass {
					t.Errorf("threshold %q failed: %s", th.Expr, th.ActualText)
				}
			}
			if r.Totals.Requests < 100 {
				t.Errorf("only %d requests", r.Totals.Requests)
			}
			if _, err := os.Stat(filepath.Join(out, "requests.jsonl")); err != nil {
				t.Error(err)
			}
		})
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
