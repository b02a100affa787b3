package results

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
)

// readAllocBound is what reading a results file may allocate beyond a
// multiple of its size: the read buffer and one block of the largest size
// the format allows, with room to spare.
const readAllocBound = 4 << 20

// validFile returns a small results file with the given results.
func validFile(tb testing.TB, rs []Result) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Scenario: "s", Started: t0, Requests: []Request{{"a", "GET", "http://h/a"}, {"b", "POST", "http://h/b"}, {"c", "GET", ""}}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range rs {
		if err := w.Write(&rs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// headerOnly returns the start of a results file, up to its first block.
func headerOnly(tb testing.TB) []byte {
	tb.Helper()
	return validFile(tb, nil)
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// readEvery reads data as a results file to its end and checks what the
// reader promises: it stops with io.EOF (Damage then says why, when it
// stopped early), keeps returning io.EOF, and returns no more results
// than the file has bytes.
func readEvery(t *testing.T, data []byte) {
	rd, err := NewReader(bytes.NewReader(data))
	if err != nil {
		if rd != nil {
			t.Fatalf("NewReader returned a reader with the error %v", err)
		}
		if !errors.Is(err, ErrNotResults) && !strings.HasPrefix(err.Error(), "results header: ") {
			t.Fatalf("NewReader error %q names neither the file kind nor the header", err)
		}
		return
	}
	var r Result
	n := 0
	for {
		err := rd.Next(&r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Next returned %v, want io.EOF at the end or at damage", err)
			}
			break
		}
		n++
		if n > len(data) {
			t.Fatalf("%d results from %d bytes", n, len(data))
		}
		if r.Request < 0 || r.Request >= len(rd.Header.Requests) {
			t.Fatalf("result names request %d of %d", r.Request, len(rd.Header.Requests))
		}
	}
	if err := rd.Next(&r); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after the end returned %v, want io.EOF", err)
	}
	if rd.Damage != nil && !strings.Contains(rd.Damage.Error(), "results file damaged at byte ") {
		t.Fatalf("Damage %q does not say where", rd.Damage)
	}
}

// FuzzReader checks that reading arbitrary bytes as a results file never
// panics, ends, and allocates no more than a bound plus a multiple of the
// input's size, whatever its length fields claim.
func FuzzReader(f *testing.F) {
	f.Add([]byte(Magic))
	f.Add(headerOnly(f))
	f.Add(validFile(f, sample(20)))
	f.Add(append(headerOnly(f), binary.AppendUvarint(nil, 1<<62)...))
	f.Add(append(headerOnly(f), binary.AppendUvarint(nil, blockSize+maxRecordBytes)...))
	f.Add([]byte(Magic + "{\"requests\":[{}]}\n\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte(Magic + "{\"requests\":[{}]}\n\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"))
	f.Add([]byte("LGR1\n[1,2,3]\n"))
	f.Add([]byte("not results"))
	head := headerOnly(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The bytes as a file, and as the payload of one block with the
		// right checksum: the records in it are read rather than refused
		// by the checksum.
		for _, file := range [][]byte{data, framed(head, data)} {
			n := allocated(func() { readEvery(t, file) })
			if limit := readAllocBound + 64*uint64(len(file)); n > limit {
				t.Fatalf("reading %d bytes allocated %d bytes, above %d", len(file), n, limit)
			}
		}
	})
}

// framed returns the file start head followed by one block holding
// payload.
func framed(head, payload []byte) []byte {
	b := append([]byte(nil), head...)
	if len(payload) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(payload))
}

// TestReaderAbsurdBlockLength checks that a block length beyond what the
// format allows is reported as damage, with nothing allocated for it. It
// measures the process's allocations, so it does not run in parallel.
func TestReaderAbsurdBlockLength(t *testing.T) {
	for _, length := range []uint64{blockSize + maxRecordBytes + 1, 1 << 40, math.MaxUint64} {
		data := append(headerOnly(t), binary.AppendUvarint(nil, length)...)
		var rd *Reader
		n := allocated(func() {
			var err error
			if rd, err = NewReader(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			var r Result
			if err := rd.Next(&r); !errors.Is(err, io.EOF) {
				t.Errorf("length %d: Next returned %v, want io.EOF", length, err)
			}
		})
		if rd.Damage == nil || !strings.Contains(rd.Damage.Error(), "block length "+strconv.FormatUint(length, 10)+" is impossible") {
			t.Errorf("length %d: damage %v", length, rd.Damage)
		}
		if n > 1<<20 {
			t.Errorf("length %d: reading allocated %d bytes", length, n)
		}
	}
}

// FuzzRoundTrip writes results built from the fuzzed fields and checks
// that every field reads back as written.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(0), false, uint8(0), t0.UnixNano(), int64(20*time.Microsecond), int64(time.Millisecond), uint16(200), uint64(100), uint64(0), "", "")
	f.Add(uint8(9), false, uint8(2), t0.UnixNano(), int64(-7*time.Microsecond), int64(150*time.Millisecond), uint16(503), uint64(1<<40), uint64(17),
		`Get "http://h/x": dial tcp: connection refused`, "http://h/items/7")
	f.Add(uint8(255), true, uint8(1), int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64), uint16(math.MaxUint16), uint64(math.MaxUint64), uint64(math.MaxUint64),
		"timeout\x00\xff", "\xff")
	f.Fuzz(func(t *testing.T, n uint8, many bool, req uint8, ts, step, lat int64, code uint16, in, out uint64, errMsg, url string) {
		count := int(n) + 1
		if many {
			count *= 40 // several blocks, and more distinct errors than the error table holds
		}
		want := make([]Result, count)
		for i := range want {
			r := Result{
				Request:   (int(req) + i) % 3,
				Timestamp: time.Unix(0, ts+int64(i)*step),
				Latency:   time.Duration((lat + int64(i)) & math.MaxInt64),
				Code:      code + uint16(i),
				BytesIn:   in + uint64(i),
				BytesOut:  out ^ uint64(i),
			}
			switch i % 4 {
			case 1:
				r.Error = errMsg
			case 2, 3:
				r.Error = errMsg + "#" + strconv.Itoa(i)
			}
			if i%2 == 1 {
				r.URL = url
			}
			r.Kind = outcome.Kind(uint(code+uint16(i)) % uint(outcome.NumKinds))
			r.More = (uint64(i)^in)%3 == 0
			want[i] = r
		}

		var buf bytes.Buffer
		h := Header{Scenario: "s", Started: t0, Requests: []Request{{"a", "GET", "http://h/a"}, {"b", "POST", "http://h/b"}, {"c", "GET", ""}}}
		w, err := NewWriter(&buf, h)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if err := w.Write(&want[i]); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if w.Count() != uint64(count) {
			t.Fatalf("Count() = %d, want %d", w.Count(), count)
		}

		rd, err := NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if rd.Header.Version != Version || rd.Header.Scenario != h.Scenario || !rd.Header.Started.Equal(h.Started) || len(rd.Header.Requests) != len(h.Requests) {
			t.Fatalf("header = %+v, want %+v", rd.Header, h)
		}
		for i, r := range h.Requests {
			if rd.Header.Requests[i] != r {
				t.Fatalf("header request %d = %+v, want %+v", i, rd.Header.Requests[i], r)
			}
		}
		for i := range want {
			var got Result
			if err := rd.Next(&got); err != nil {
				t.Fatalf("result %d of %d: %v (damage: %v)", i, count, err, rd.Damage)
			}
			w := want[i]
			if got.Request != w.Request || !got.Timestamp.Equal(w.Timestamp) || got.Timestamp.UnixNano() != w.Timestamp.UnixNano() ||
				got.Latency != w.Latency || got.Code != w.Code || got.BytesIn != w.BytesIn || got.BytesOut != w.BytesOut ||
				got.Error != w.Error || got.URL != w.URL || got.Kind != w.Kind || got.More != w.More {
				t.Fatalf("result %d:\n got %+v\nwant %+v", i, got, w)
			}
		}
		var extra Result
		if err := rd.Next(&extra); !errors.Is(err, io.EOF) {
			t.Fatalf("after %d results Next returned %v, %+v; want io.EOF", count, err, extra)
		}
		if rd.Damage != nil {
			t.Fatalf("damage in a file just written: %v", rd.Damage)
		}
	})
}
