package results

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// randomVegetaResults returns n results with every field varied: empty and
// unicode attack names, errors, zero codes and times, bodies larger than a
// read buffer, headers.
func randomVegetaResults(n int, seed uint64) []vegeta.Result {
	rng := rand.New(rand.NewPCG(seed, 1))
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("odd", -(3*3600 + 1800))}
	out := make([]vegeta.Result, n)
	for i := range out {
		r := vegeta.Result{
			Attack:    []string{"", "list", "create", "überall", strings.Repeat("n", 300)}[rng.IntN(5)],
			Seq:       rng.Uint64N(1 << uint(rng.IntN(64))),
			Code:      uint16([]int{0, 200, 201, 404, 429, 500, 65535}[rng.IntN(7)]),
			Timestamp: time.Unix(1795522782+rng.Int64N(1e6), rng.Int64N(1e9)).In(zones[rng.IntN(3)]),
			Latency:   time.Duration(rng.Int64N(int64(time.Minute))),
			BytesOut:  rng.Uint64N(1 << 40),
			BytesIn:   rng.Uint64N(1 << 20),
			Method:    []string{"GET", "POST", ""}[rng.IntN(3)],
			URL:       fmt.Sprintf("http://127.0.0.1:8080/v1/customers/%d", rng.IntN(1e6)),
		}
		switch rng.IntN(10) {
		case 0:
			r.Error = "Get \"http://127.0.0.1:8080/x\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
		case 1:
			r.Timestamp = time.Time{}
		case 2:
			r.Body = bytes.Repeat([]byte("b"), 10000+rng.IntN(10000))
		case 3:
			r.Headers = http.Header{"Content-Type": {"application/json"}, "X-Many": {"a", "b", ""}}
		case 4:
			r.Latency = -r.Latency
		}
		out[i] = r
	}
	return out
}

func encodeVegeta(t testing.TB, rs []vegeta.Result) []byte {
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	for i := range rs {
		if err := enc.Encode(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// readGob reads every result of data with a GobReader on a read buffer of
// size bufSize.
func readGob(data []byte, bufSize int) ([]GobResult, *GobReader, error) {
	g, err := NewGobReader(bufio.NewReaderSize(bytes.NewReader(data), bufSize))
	if err != nil {
		return nil, nil, err
	}
	var out []GobResult
	for {
		var r GobResult
		if err := g.Next(&r); err != nil {
			return out, g, nil
		}
		r.Attack, r.Error = bytes.Clone(r.Attack), bytes.Clone(r.Error)
		out = append(out, r)
	}
}

// sameResult reports how got differs from want, or "".
func sameResult(got GobResult, want *vegeta.Result) string {
	if string(got.Attack) != want.Attack || got.Seq != want.Seq || got.Code != want.Code || !got.Timestamp.Equal(want.Timestamp) ||
		got.Latency != want.Latency || got.BytesOut != want.BytesOut || got.BytesIn != want.BytesIn || string(got.Error) != want.Error {
		return fmt.Sprintf("got %+v\nwant %+v", got, *want)
	}
	return ""
}

// Every field a report needs reads back as vegeta wrote it, with the read
// buffer both larger and smaller than the messages.
func TestGobReaderReadsVegetaResults(t *testing.T) {
	t.Parallel()
	want := randomVegetaResults(3000, 7)
	data := encodeVegeta(t, want)
	for _, size := range []int{4096, 1 << 20} {
		got, g, err := readGob(data, size)
		if err != nil {
			t.Fatalf("buffer %d: %v", size, err)
		}
		if g.Damage != nil || len(got) != len(want) {
			t.Fatalf("buffer %d: %d results of %d, damage %v", size, len(got), len(want), g.Damage)
		}
		for i := range got {
			if d := sameResult(got[i], &want[i]); d != "" {
				t.Fatalf("buffer %d: result %d:\n%s", size, i, d)
			}
		}
	}
}

// A stream that is not vegeta's gob is refused before anything is read,
// so the caller can try another decoder; an empty one is io.EOF.
func TestGobReaderRefusesOtherStreams(t *testing.T) {
	t.Parallel()
	var other bytes.Buffer
	type notResult struct {
		Attack string
		Code   int
	}
	gob.NewEncoder(&other).Encode(notResult{"a", 200})
	// Result's fields, one of them with another type.
	var wrongType bytes.Buffer
	type Result struct {
		Attack, Error          string
		Seq, BytesOut, BytesIn uint64
		Code                   uint16
		Timestamp              time.Time
		Latency                float64
	}
	gob.NewEncoder(&wrongType).Encode(Result{Attack: "a"})
	jsonLine, _ := json.Marshal(vegeta.Result{Attack: "a", Code: 200})
	for name, data := range map[string][]byte{
		"json":       jsonLine,
		"csv":        []byte("1795522782000000000,200,1000,0,0,,,a,0,GET,http://x,\n"),
		"other gob":  other.Bytes(),
		"wrong type": wrongType.Bytes(),
		"garbage":    []byte{0x05, 0xff, 0x81, 0x03, 0x01, 0x01},
	} {
		if _, _, err := readGob(data, 4096); !errors.Is(err, ErrNotVegetaGob) {
			t.Errorf("%s: err = %v, want ErrNotVegetaGob", name, err)
		}
	}
	if _, _, err := readGob(nil, 4096); err != io.EOF {
		t.Errorf("empty: err = %v, want io.EOF", err)
	}
}

// A truncated or damaged stream is read up to the damage, which names the
// byte offset of the message that broke.
func TestGobReaderDamage(t *testing.T) {
	t.Parallel()
	want := randomVegetaResults(50, 9)
	for i := range want {
		want[i].Body = nil // small messages, so that the cut falls inside one
	}
	data := encodeVegeta(t, want)
	whole := encodeVegeta(t, want[:30])
	// Where result 30 starts in data: the same types are sent first, so
	// the first 30 results take the same bytes.
	cut := len(whole) + 5
	got, g, err := readGob(data[:cut], 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 || g.Damage == nil ||
		!strings.Contains(g.Damage.Error(), fmt.Sprintf("results file damaged at byte %d", len(whole))) {
		t.Fatalf("truncated: %d results, err %v, damage %v (result 30 starts at byte %d)", len(got), err, g.Damage, len(whole))
	}
	bad := bytes.Clone(data)
	bad[len(whole)+1] = 0x7f // the type id of result 30's message
	got, g, _ = readGob(bad, 4096)
	if len(got) != 30 || g.Damage == nil || !strings.Contains(g.Damage.Error(), fmt.Sprintf("byte %d", len(whole))) {
		t.Fatalf("damaged: %d results, damage %v", len(got), g.Damage)
	}
	for i := range got {
		if d := sameResult(got[i], &want[i]); d != "" {
			t.Fatalf("result %d before the damage:\n%s", i, d)
		}
	}
}

// FuzzGobReader reads arbitrary bytes as vegeta gob and checks it against
// encoding/gob: no panic, and every result it returns is one encoding/gob
// decodes the same.
func FuzzGobReader(f *testing.F) {
	rs := randomVegetaResults(6, 3)
	for i := range rs {
		rs[i].Body = rs[i].Body[:min(len(rs[i].Body), 40)]
	}
	data := encodeVegeta(f, rs)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(encodeVegeta(f, rs[:1]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := readGob(data, 4096)
		if err != nil {
			return
		}
		dec := vegeta.NewDecoder(bytes.NewReader(data))
		for i := range got {
			var want vegeta.Result
			if err := dec.Decode(&want); err != nil {
				// encoding/gob is stricter in places (it refuses a type
				// sent twice, for one): the results before are what count.
				t.Skipf("result %d: encoding/gob: %v", i, err)
			}
			if d := sameResult(got[i], &want); d != "" {
				t.Fatalf("result %d:\n%s", i, d)
			}
		}
	})
}

// BenchmarkGobReader against encoding/gob, on the same stream.
func BenchmarkGobReader(b *testing.B) {
	rs := randomVegetaResults(10000, 5)
	for i := range rs {
		rs[i].Body, rs[i].Headers = nil, nil
	}
	data := encodeVegeta(b, rs)
	b.Run("GobReader", func(b *testing.B) {
		for b.Loop() {
			g, err := NewGobReader(bufio.NewReader(bytes.NewReader(data)))
			if err != nil {
				b.Fatal(err)
			}
			var r GobResult
			for g.Next(&r) == nil {
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/result")
	})
	b.Run("encoding-gob", func(b *testing.B) {
		for b.Loop() {
			dec := vegeta.NewDecoder(bufio.NewReader(bytes.NewReader(data)))
			var r vegeta.Result
			for dec.Decode(&r) == nil {
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/result")
	})
}
