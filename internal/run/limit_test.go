package run

import (
	"bytes"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/internal/scenario"
)

func TestFileLimitWarning(t *testing.T) {
	sc := &scenario.Scenario{Name: "big", Target: scenario.Target{BaseURL: scenario.Embedded}, Stages: []scenario.Stage{{Concurrency: 3000}}}
	var buf bytes.Buffer
	CheckFileLimit(&Env{Stderr: &buf}, []*scenario.Scenario{sc}, 1024)
	if want := "may hold 6000 connections at once, but this process may open only 1024 files"; !strings.Contains(buf.String(), want) ||
		!strings.Contains(buf.String(), "ulimit -Hn") || !strings.Contains(buf.String(), "at least 6064") {
		t.Errorf("warning: %q", buf.String())
	}
	buf.Reset()
	CheckFileLimit(&Env{Stderr: &buf}, []*scenario.Scenario{sc}, 100000)
	if buf.Len() != 0 {
		t.Errorf("warned under a high limit: %q", buf.String())
	}
}
