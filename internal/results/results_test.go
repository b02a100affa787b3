package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func sample(n int) []Result {
	out := make([]Result, n)
	for i := range out {
		r := Result{
			Request: i % 3, Timestamp: t0.Add(time.Duration(i)*20*time.Microsecond - time.Duration(i%7)*time.Microsecond),
			Latency: time.Duration(100+i%5000) * time.Microsecond, Code: []uint16{200, 201, 503, 0}[i%4],
			BytesIn: uint64(100 + i%50), BytesOut: uint64(i % 2 * 40),
		}
		if r.Code == 0 {
			r.Error = fmt.Sprintf(`Get "http://h/x": dial tcp: connection refused (%d)`, i%5)
		}
		if r.Request == 2 {
			r.URL = fmt.Sprintf("http://h/items/%d", i)
		}
		out[i] = r
	}
	return out
}

func write(t testing.TB, rs []Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Scenario: "s", Started: t0, Requests: []Request{{"a", "GET", "http://h/a"}, {"b", "POST", "http://h/b"}, {"c", "GET", ""}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := w.Write(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t *testing.T, b []byte) ([]Result, *Reader) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []Result
	for {
		var r Result
		if err := rd.Next(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			return out, rd
		}
		out = append(out, r)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := sample(100_000)
	b := write(t, in)
	out, rd := readAll(t, b)
	if rd.Damage != nil || len(out) != len(in) || rd.Header.Scenario != "s" || len(rd.Header.Requests) != 3 {
		t.Fatalf("read %d of %d (damage %v)", len(out), len(in), rd.Damage)
	}
	for i := range in {
		if !in[i].Timestamp.Equal(out[i].Timestamp) || in[i].Latency != out[i].Latency || in[i].Code != out[i].Code ||
			in[i].Error != out[i].Error || in[i].URL != out[i].URL || in[i].BytesIn != out[i].BytesIn || in[i].Request != out[i].Request {
			t.Fatalf("result %d: wrote %+v, read %+v", i, in[i], out[i])
		}
	}
	if per := float64(len(b)) / float64(len(in)); per > 25 { // a third carry a 20-byte URL
		t.Errorf("%.1f bytes per result; the store should be lean", per)
	}
}

func TestDamage(t *testing.T) {
	t.Parallel()
	in := sample(30_000) // several blocks
	b := write(t, in)
	// Truncated: the results of the whole blocks before the cut remain.
	cut := b[:len(b)*2/3]
	out, rd := readAll(t, cut)
	if rd.Damage == nil || !strings.Contains(rd.Damage.Error(), "damaged at byte") || len(out) == 0 || len(out) >= len(in) {
		t.Errorf("truncated: read %d, damage %v", len(out), rd.Damage)
	}
	// The byte named is where the whole blocks end: the file cut there
	// reads clean, to the same results.
	var at int
	if _, err := fmt.Sscanf(rd.Damage.Error(), "results file damaged at byte %d", &at); err != nil || at <= 0 || at > len(cut) {
		t.Fatalf("damage offset %d (%v) in %q", at, err, rd.Damage)
	}
	if clean, rd3 := readAll(t, b[:at]); rd3.Damage != nil || len(clean) != len(out) {
		t.Errorf("cut at the byte named (%d): %d results, damage %v; want %d, none", at, len(clean), rd3.Damage, len(out))
	}
	// A flipped byte in the middle: caught by the checksum.
	bad := append([]byte(nil), b...)
	bad[len(bad)/2] ^= 0x40
	out2, rd2 := readAll(t, bad)
	if rd2.Damage == nil || !strings.Contains(rd2.Damage.Error(), "checksum mismatch") || len(out2) >= len(in) {
		t.Errorf("corrupt: read %d, damage %v", len(out2), rd2.Damage)
	}
	for i := range out2 { // what was read is right
		if out2[i].Latency != in[i].Latency {
			t.Fatalf("result %d read wrong before the damage", i)
		}
	}
	if _, err := NewReader(strings.NewReader("GIF89a")); !errors.Is(err, ErrNotResults) {
		t.Errorf("not a results file: %v", err)
	}
}

func TestExport(t *testing.T) {
	t.Parallel()
	in := sample(1000)
	file := write(t, in)
	open := func() (*Reader, error) { return NewReader(bytes.NewReader(file)) }
	for _, format := range []string{FormatGob, FormatCSV, FormatJSON} {
		var buf bytes.Buffer
		n, err := Export(open, &buf, format)
		if err != nil || n != 1000 {
			t.Fatalf("%s: exported %d: %v", format, n, err)
		}
		dec := vegeta.DecoderFor(&buf)
		if dec == nil {
			t.Fatalf("%s: vegeta cannot read the export", format)
		}
		for i := 0; ; i++ {
			var v vegeta.Result
			if err := dec.Decode(&v); err != nil {
				if i != 1000 {
					t.Errorf("%s: vegeta read %d results: %v", format, i, err)
				}
				break
			}
			want := in[i]
			url := []string{"http://h/a", "http://h/b", want.URL}[want.Request]
			if v.Code != want.Code || v.Latency != want.Latency || v.Attack != []string{"a", "b", "c"}[want.Request] || v.URL != url || v.Error != want.Error {
				t.Fatalf("%s result %d: %+v, want %+v", format, i, v, want)
			}
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	rs := sample(1 << 16)
	w, _ := NewWriter(io.Discard, Header{Requests: []Request{{"a", "GET", ""}, {"b", "GET", ""}, {"c", "GET", ""}}})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = w.Write(&rs[i&(len(rs)-1)])
		i++
	}
}

func BenchmarkRead(b *testing.B) {
	data := write(b, sample(1<<16))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rd, _ := NewReader(bytes.NewReader(data))
		var r Result
		for rd.Next(&r) == nil {
		}
	}
}
