// Package results stores every result of a run compactly (results.lgr)
// and reads it back, up to any damage. A run writes about a dozen bytes
// per result, against some 90 for vegeta's gob; Export writes the same
// results in a format the vegeta CLI reads.
//
// Format: the line "LGR1", a JSON header line (the requests' names,
// methods and URLs), then blocks. A block is its payload length (uvarint),
// the payload, and the payload's CRC-32 (IEEE, 4 bytes little endian), so
// a damaged or truncated file is read up to its last whole block. A
// payload is a run of records:
//
//	flags     byte: 1 an error follows, 2 a URL follows, 4 a kind follows,
//	          8 more tries of the same logical request follow this one
//	request   uvarint: index into the header's requests
//	time      varint: send time in ns, as a difference from the last record
//	latency   uvarint: ns
//	code      uvarint
//	bytes in  uvarint
//	bytes out uvarint
//	error     uvarint n: 0 then a new string (uvarint length, bytes) that
//	          becomes entry k of the error table, or k+1 for a known entry
//	url       uvarint length, bytes: when it differs from the request's
//	kind      uvarint: why the try failed (outcome.Kind)
//
// Every HTTP try is a record: a logical request's redirect hops and
// retries come before its last try, each flagged 8. Version 1 files had
// neither kinds nor the flag.
package results

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/loadgate/loadgate/internal/outcome"
)

// Magic starts a results file.
const Magic = "LGR1\n"

// Version is the version of the records' layout that Writer writes.
const Version = 2

// Header describes the run whose results follow.
type Header struct {
	Version  int       `json:"version"`
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Requests []Request `json:"requests"`
}

// Request is one kind of request of the run.
type Request struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	URL    string `json:"url"` // its URL when fixed; a record may carry its own
}

// Result is one HTTP result.
type Result struct {
	Request   int // index into Header.Requests
	Timestamp time.Time
	Latency   time.Duration
	Code      uint16
	BytesIn   uint64
	BytesOut  uint64
	Error     string
	URL       string // empty when it is the request's
	// Kind is why the try failed, None when it did not: no answer, or an
	// answer that broke after its status.
	Kind outcome.Kind
	// More marks a try that is not its logical request's last: a redirect
	// hop, or a try that was retried.
	More bool
}

const (
	flagError = 1 << iota
	flagURL
	flagKind
	flagMore
)

const (
	blockSize      = 64 << 10
	maxErrorTable  = 4096
	maxRecordBytes = 1 << 20
)

// Writer writes results. It is not safe for concurrent use.
type Writer struct {
	w       *bufio.Writer
	buf     []byte
	lastTS  int64
	errors  map[string]uint64
	scratch [binary.MaxVarintLen64]byte
	n       uint64
	err     error
}

// NewWriter writes the file's start; results follow with Write.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Version = Version
	// Blocks are 64 KiB: a small buffer only gathers their framing, and
	// a full disk shows at the first block rather than after many.
	bw := bufio.NewWriterSize(w, 4<<10)
	if _, err := bw.WriteString(Magic); err != nil {
		return nil, err
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := bw.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return &Writer{w: bw, buf: make([]byte, 0, blockSize+1024), errors: map[string]uint64{}}, nil
}

func (w *Writer) uvarint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }

// Write adds one result.
func (w *Writer) Write(r *Result) error {
	if w.err != nil {
		return w.err
	}
	var flags byte
	if r.Error != "" {
		flags |= flagError
	}
	if r.URL != "" {
		flags |= flagURL
	}
	if r.Kind != outcome.None {
		flags |= flagKind
	}
	if r.More {
		flags |= flagMore
	}
	w.buf = append(w.buf, flags)
	w.uvarint(uint64(r.Request))
	ts := r.Timestamp.UnixNano()
	w.buf = binary.AppendVarint(w.buf, ts-w.lastTS)
	w.lastTS = ts
	w.uvarint(uint64(max(r.Latency, 0)))
	w.uvarint(uint64(r.Code))
	w.uvarint(r.BytesIn)
	w.uvarint(r.BytesOut)
	if r.Error != "" {
		if k, ok := w.errors[r.Error]; ok {
			w.uvarint(k + 1)
		} else {
			w.uvarint(0)
			w.uvarint(uint64(len(r.Error)))
			w.buf = append(w.buf, r.Error...)
			if len(w.errors) < maxErrorTable {
				w.errors[r.Error] = uint64(len(w.errors))
			}
		}
	}
	if r.URL != "" {
		w.uvarint(uint64(len(r.URL)))
		w.buf = append(w.buf, r.URL...)
	}
	if r.Kind != outcome.None {
		w.uvarint(uint64(r.Kind))
	}
	w.n++
	if len(w.buf) >= blockSize {
		return w.flushBlock()
	}
	return nil
}

func (w *Writer) flushBlock() error {
	if len(w.buf) == 0 || w.err != nil {
		return w.err
	}
	n := binary.PutUvarint(w.scratch[:], uint64(len(w.buf)))
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(w.buf))
	for _, part := range [][]byte{w.scratch[:n], w.buf, crc[:]} {
		if _, err := w.w.Write(part); err != nil {
			w.err = err
			return err
		}
	}
	w.buf = w.buf[:0]
	// The block goes to the file whole, its checksum with it: a process
	// killed after this leaves a readable block.
	if err := w.w.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Flush writes what is buffered as a block (a short one), to the file.
func (w *Writer) Flush() error {
	if err := w.flushBlock(); err != nil {
		return err
	}
	return w.w.Flush()
}

// Count returns the number of results written.
func (w *Writer) Count() uint64 { return w.n }

// Reader reads a results file.
type Reader struct {
	r      *bufio.Reader
	Header Header
	off    int64 // offset of the next block
	block  []byte
	pos    int
	lastTS int64
	errors []string
	// Damage, once reading stopped early, says where and why.
	Damage error
}

// ErrNotResults is returned for a file that is not a results file.
var ErrNotResults = errors.New("not a loadgate results file")

// NewReader reads a results file's start.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != Magic {
		return nil, ErrNotResults
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("results header: %w", err)
	}
	rd := &Reader{r: br, off: int64(len(Magic) + len(line))}
	if err := json.Unmarshal(line, &rd.Header); err != nil {
		return nil, fmt.Errorf("results header: %w", err)
	}
	if rd.Header.Version > Version {
		return nil, fmt.Errorf("results file version %d is newer than this loadgate reads (%d): use a newer loadgate", rd.Header.Version, Version)
	}
	return rd, nil
}

func (rd *Reader) damaged(format string, args ...any) error {
	rd.Damage = fmt.Errorf("results file damaged at byte %d: %s; results after it are lost", rd.off, fmt.Sprintf(format, args...))
	return io.EOF
}

func (rd *Reader) nextBlock() error {
	n, err := binary.ReadUvarint(rd.r)
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if err != nil {
		return rd.damaged("block length unreadable (%v)", err)
	}
	if n == 0 || n > blockSize+maxRecordBytes {
		return rd.damaged("block length %d is impossible", n)
	}
	if cap(rd.block) < int(n)+4 {
		rd.block = make([]byte, int(n)+4)
	}
	rd.block = rd.block[:int(n)+4]
	if _, err := io.ReadFull(rd.r, rd.block); err != nil {
		return rd.damaged("truncated block (%d bytes expected)", n+4)
	}
	payload := rd.block[:n]
	if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(rd.block[n:]) {
		return rd.damaged("checksum mismatch")
	}
	rd.off += int64(uvarintLen(n)) + int64(n) + 4
	rd.block, rd.pos = payload, 0
	return nil
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

func (rd *Reader) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(rd.block[rd.pos:])
	if n <= 0 {
		return 0, false
	}
	rd.pos += n
	return v, true
}

func (rd *Reader) str() (string, bool) {
	n, ok := rd.uvarint()
	if !ok || n > uint64(len(rd.block)-rd.pos) {
		return "", false
	}
	s := string(rd.block[rd.pos : rd.pos+int(n)])
	rd.pos += int(n)
	return s, true
}

// Next reads the next result into r. It returns io.EOF at the end of the
// file or at the first damage (then Damage says where).
func (rd *Reader) Next(r *Result) error {
	if rd.Damage != nil {
		return io.EOF
	}
	if rd.pos >= len(rd.block) {
		if err := rd.nextBlock(); err != nil {
			return err
		}
	}
	bad := func(what string) error { return rd.damaged("record %s unreadable", what) }
	if rd.pos >= len(rd.block) {
		return bad("flags")
	}
	flags := rd.block[rd.pos]
	rd.pos++
	req, ok := rd.uvarint()
	if !ok || req >= uint64(len(rd.Header.Requests)) {
		return bad("request")
	}
	d, n := binary.Varint(rd.block[rd.pos:])
	if n <= 0 {
		return bad("time")
	}
	rd.pos += n
	rd.lastTS += d
	lat, ok1 := rd.uvarint()
	code, ok2 := rd.uvarint()
	in, ok3 := rd.uvarint()
	out, ok4 := rd.uvarint()
	if !ok1 || !ok2 || !ok3 || !ok4 || code > 65535 {
		return bad("figures")
	}
	*r = Result{Request: int(req), Timestamp: time.Unix(0, rd.lastTS), Latency: time.Duration(lat), Code: uint16(code), BytesIn: in, BytesOut: out,
		More: flags&flagMore != 0}
	if flags&flagError != 0 {
		k, ok := rd.uvarint()
		if !ok {
			return bad("error")
		}
		if k == 0 {
			s, ok := rd.str()
			if !ok {
				return bad("error")
			}
			if len(rd.errors) < maxErrorTable {
				rd.errors = append(rd.errors, s)
			}
			r.Error = s
		} else if k-1 < uint64(len(rd.errors)) {
			r.Error = rd.errors[k-1]
		} else {
			return bad("error reference")
		}
	}
	if flags&flagURL != 0 {
		s, ok := rd.str()
		if !ok {
			return bad("url")
		}
		r.URL = s
	}
	if flags&flagKind != 0 {
		k, ok := rd.uvarint()
		if !ok || k == 0 || k >= uint64(outcome.NumKinds) {
			return bad("kind")
		}
		r.Kind = outcome.Kind(k)
	}
	return nil
}

// IsResults reports whether b starts a results file.
func IsResults(b []byte) bool { return bytes.HasPrefix(b, []byte(Magic)) }
