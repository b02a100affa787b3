package feeder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const csvData = "\ufeffname,mobile\nA,1\nB,2\nC,3\n"

func names(t *testing.T, f *Feeder, n int) string {
	t.Helper()
	var out []string
	for range n {
		row, err := f.Next()
		if err != nil {
			out = append(out, "!")
			continue
		}
		out = append(out, row[f.Columns["name"]])
	}
	return strings.Join(out, "")
}

func TestModes(t *testing.T) {
	t.Parallel()
	p := write(t, "c.csv", csvData)
	seq, err := Load("c", p, Options{Mode: Sequential})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, seq, 7); got != "ABCABCA" {
		t.Errorf("sequential = %q", got)
	}
	uniq, _ := Load("c", p, Options{Mode: Unique})
	if got := names(t, uniq, 5); got != "ABC!!" {
		t.Errorf("unique = %q", got)
	}
	if _, err := uniq.Next(); !errors.Is(err, ErrExhausted) {
		t.Errorf("exhausted error = %v", err)
	}
	rec, _ := Load("c", p, Options{Mode: Unique, Recycle: true})
	if got := names(t, rec, 5); got != "ABCAB" {
		t.Errorf("unique recycled = %q", got)
	}
	rnd, _ := Load("c", p, Options{Mode: Random})
	seen := map[string]int{}
	for range 3000 {
		row, _ := rnd.Next()
		seen[row[0]]++
	}
	for _, n := range []string{"A", "B", "C"} {
		if seen[n] < 800 {
			t.Errorf("random drew %s %d times of 3000", n, seen[n])
		}
	}
}

// TestUniqueUnderConcurrency hands out each row exactly once to many
// goroutines at once.
func TestUniqueUnderConcurrency(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id\n")
	for i := range 10000 {
		b.WriteString(strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "-" + itoa(i) + "\n")
	}
	f, err := Load("ids", write(t, "ids.csv", b.String()), Options{Mode: Unique})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				row, err := f.Next()
				if err != nil {
					return
				}
				mu.Lock()
				if seen[row[0]] {
					t.Errorf("row %q handed out twice", row[0])
				}
				seen[row[0]] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 10000 {
		t.Errorf("%d rows handed out, want 10000", len(seen))
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestShards(t *testing.T) {
	t.Parallel()
	p := write(t, "c.csv", "name\nA\nB\nC\nD\nE\n")
	var got []string
	for i := range 2 {
		f, _ := Load("c", p, Options{Mode: Unique})
		f.Shard(i, 2)
		got = append(got, names(t, f, 4))
	}
	if got[0] != "ACE!" || got[1] != "BD!!" {
		t.Errorf("shards = %q", got)
	}
}

func TestJSONLines(t *testing.T) {
	t.Parallel()
	p := write(t, "o.jsonl", `{"sku":"SKU-1001","amount":0,"tags":["a"],"note":null}`+"\n\n"+`{"amount":199.99,"sku":"SKU-1050","extra":true}`+"\n")
	f, err := Load("o", p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Header, ",") != "sku,amount,tags,note,extra" {
		t.Errorf("header = %v", f.Header)
	}
	r1, _ := f.Next()
	r2, _ := f.Next()
	if strings.Join(r1, "|") != `SKU-1001|0|["a"]||` || strings.Join(r2, "|") != "SKU-1050|199.99|||true" {
		t.Errorf("rows = %q %q", r1, r2)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := map[string][2]string{
		"no rows":      {"e.csv", "name\n"},
		"bad quote":    {"q.csv", "name\n\"open\n"},
		"dup column":   {"d.csv", "a,a\n1,2\n"},
		"empty column": {"n.csv", "a,\n1,2\n"},
		"ragged":       {"r.csv", "a,b\n1\n"},
		"bad json":     {"j.jsonl", "{\"a\":1}\nnot json\n"},
		"wrong ext":    {"x.txt", "a\n1\n"},
	}
	for name, tc := range tests {
		if _, err := Load("x", write(t, tc[0], tc[1]), Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := Load("x", write(t, "j.jsonl", "{\"a\":1}\nnot json\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "j.jsonl:2:") {
		t.Errorf("JSON error without its line: %v", err)
	}
	if _, err := Load("x", "/nonexistent/x.csv", Options{}); err == nil {
		t.Error("missing file accepted")
	}
}
