package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
