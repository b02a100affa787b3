package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGoldenTextAndJSON compares the terminal summary and report.json of
// a fixed report with testdata; -update rewrites them.
func TestGoldenTextAndJSON(t *testing.T) {
	t.Parallel()
	r := testReport("checkout")
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }},
		{"report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
	} {
		var buf bytes.Buffer
		if err := tc.write(&buf); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", tc.file)
		if *updateGolden {
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./report -run Golden -update to create it)", err)
		}
		if buf.String() != string(want) {
			t.Errorf("%s differs (rerun with -update if the change is wanted):\n--- got\n%s\n--- want\n%s", tc.file, buf.String(), want)
		}
	}
	// report.json reads back into the same report.
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	first := buf.String()
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := back.WriteJSON(&again); err != nil || again.String() != first {
		t.Errorf("report.json does not read back the same (%v)", err)
	}
}
