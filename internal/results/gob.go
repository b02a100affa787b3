package results

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// GobReader reads the results the vegeta CLI writes in its default format,
// a gob stream of vegeta.Result, about four times faster than
// encoding/gob: it decodes only the fields a report needs (attack name,
// time, latency, code, bytes, error) straight from the stream, with no
// reflection and no allocation per result, and skips the rest (body, URL,
// headers). encoding/gob itself is the reference; GobReader is written to
// its wire format (https://pkg.go.dev/encoding/gob) and tested against it.
//
// A stream whose types are not vegeta.Result's (or that is not gob at all)
// is refused by NewGobReader with ErrNotVegetaGob, before any result is
// read, so that the caller can fall back to a general decoder.
type GobReader struct {
	br  *bufio.Reader
	off int64 // bytes consumed
	// msgStart is the offset of the last message read.
	msgStart int64
	buf      []byte
	// types holds the stream's type definitions by id.
	types map[int64]*gobType
	// result is the id of vegeta.Result's struct type; fields maps its
	// field numbers to what they hold.
	result int64
	fields []gobField
	// Damage, once reading stopped early, says where and why.
	Damage error
	// pending is the first value message, read by NewGobReader.
	pending []byte
}

// GobResult is one result read by GobReader. Attack and Error point into
// the reader's buffer: they are valid until the next call to Next.
type GobResult struct {
	Attack    []byte
	Seq       uint64
	Code      uint16
	Timestamp time.Time
	Latency   time.Duration
	BytesOut  uint64
	BytesIn   uint64
	Error     []byte
}

// ErrNotVegetaGob means the stream is not a gob stream of vegeta.Result.
var ErrNotVegetaGob = errors.New("not a gob stream of vegeta results")

// gob's predefined type ids.
const (
	gobBool      = 1
	gobInt       = 2
	gobUint      = 3
	gobFloat     = 4
	gobBytes     = 5
	gobString    = 6
	gobComplex   = 7
	gobInterface = 8
	gobFirstUser = 64
)

// maxGobMessage is the largest message read, as encoding/gob's own limit.
const maxGobMessage = 1 << 30

type gobKind uint8

const (
	kindArray gobKind = iota + 1
	kindSlice
	kindStruct
	kindMap
	kindEncoder // GobEncoder, BinaryMarshaler or TextMarshaler: bytes
)

// gobType is one type definition of the stream.
type gobType struct {
	kind      gobKind
	name      string
	elem, key int64   // slice, array, map
	fields    []int64 // struct: the field types, by field number
	names     []string
}

// What a field of vegeta.Result holds, as GobReader decodes it.
type gobField uint8

const (
	fieldSkip gobField = iota
	fieldAttack
	fieldSeq
	fieldCode
	fieldTimestamp
	fieldLatency
	fieldBytesOut
	fieldBytesIn
	fieldError
)

// resultFields names the fields of vegeta.Result a report needs, with the
// gob type id each must have (0: a GobEncoder type, time.Time).
var resultFields = map[string]struct {
	f  gobField
	id int64
}{
	"Attack": {fieldAttack, gobString}, "Seq": {fieldSeq, gobUint}, "Code": {fieldCode, gobUint},
	"Timestamp": {fieldTimestamp, 0}, "Latency": {fieldLatency, gobInt},
	"BytesOut": {fieldBytesOut, gobUint}, "BytesIn": {fieldBytesIn, gobUint}, "Error": {fieldError, gobString},
}

// NewGobReader reads the stream's type definitions up to its first
// result. It returns ErrNotVegetaGob when the stream is not gob, or its
// values are not vegeta.Result; an empty stream is io.EOF.
func NewGobReader(br *bufio.Reader) (*GobReader, error) {
	g := &GobReader{br: br, types: map[int64]*gobType{}}
	for {
		msg, err := g.message()
		if err != nil {
			if err == io.EOF && g.off == 0 {
				return nil, io.EOF
			}
			return nil, ErrNotVegetaGob
		}
		d := gobDecoder{b: msg}
		id := d.int()
		if d.bad {
			return nil, ErrNotVegetaGob
		}
		if id > 0 {
			if err := g.useResultType(id); err != nil {
				return nil, err
			}
			g.pending = d.b
			return g, nil
		}
		t, tid := d.wireType(-id)
		if t == nil || len(d.b) != 0 || tid < gobFirstUser || g.types[tid] != nil {
			return nil, ErrNotVegetaGob
		}
		g.types[tid] = t
	}
}

// useResultType checks that the values' type id is a struct with
// vegeta.Result's fields (by name and type) and maps its fields.
func (g *GobReader) useResultType(id int64) error {
	t := g.types[id]
	if t == nil || t.kind != kindStruct {
		return ErrNotVegetaGob
	}
	g.result = id
	g.fields = make([]gobField, len(t.fields))
	found := 0
	for i, name := range t.names {
		want, ok := resultFields[name]
		if !ok {
			if !g.skippable(t.fields[i], 0) {
				return ErrNotVegetaGob
			}
			continue
		}
		if want.id == 0 {
			if ft := g.types[t.fields[i]]; ft == nil || ft.kind != kindEncoder {
				return ErrNotVegetaGob
			}
		} else if t.fields[i] != want.id {
			return ErrNotVegetaGob
		}
		g.fields[i] = want.f
		found++
	}
	if found != len(resultFields) {
		return ErrNotVegetaGob
	}
	return nil
}

// skippable reports whether values of type id can be skipped: every type
// but interfaces (their values carry their own type definitions) and types
// not defined.
func (g *GobReader) skippable(id int64, depth int) bool {
	if id >= gobBool && id <= gobComplex {
		return true
	}
	t := g.types[id]
	if t == nil || depth > 32 {
		return false
	}
	switch t.kind {
	case kindArray, kindSlice:
		return g.skippable(t.elem, depth+1)
	case kindMap:
		return g.skippable(t.key, depth+1) && g.skippable(t.elem, depth+1)
	case kindStruct:
		for _, f := range t.fields {
			if f != id && !g.skippable(f, depth+1) {
				return false
			}
		}
	}
	return true
}

// Next reads the next result into r. It returns io.EOF at the end of the
// stream or at the first damage (then Damage says where).
func (g *GobReader) Next(r *GobResult) error {
	if g.Damage != nil {
		return io.EOF
	}
	msg := g.pending
	if msg != nil {
		g.pending = nil
	} else {
		var err error
		if msg, err = g.message(); err != nil {
			if err != io.EOF {
				g.damaged("%v", err)
			}
			return io.EOF
		}
		d := gobDecoder{b: msg}
		if id := d.int(); d.bad || id != g.result {
			g.damaged("a message of type %d where a result was expected", id)
			return io.EOF
		}
		msg = d.b
	}
	*r = GobResult{}
	d := gobDecoder{b: msg}
	field := -1
	for {
		delta := d.uint()
		if d.bad || delta == 0 {
			break
		}
		if delta > uint64(len(g.fields)) || field+int(delta) >= len(g.fields) {
			d.bad = true
			break
		}
		field += int(delta)
		switch g.fields[field] {
		case fieldAttack:
			r.Attack = d.bytes()
		case fieldSeq:
			r.Seq = d.uint()
		case fieldCode:
			r.Code = uint16(d.uint())
		case fieldTimestamp:
			r.Timestamp = d.time()
		case fieldLatency:
			r.Latency = time.Duration(d.int())
		case fieldBytesOut:
			r.BytesOut = d.uint()
		case fieldBytesIn:
			r.BytesIn = d.uint()
		case fieldError:
			r.Error = d.bytes()
		default:
			d.skip(g, g.types[g.result].fields[field], 0)
		}
	}
	if d.bad || len(d.b) != 0 {
		g.damaged("a result that does not decode")
		return io.EOF
	}
	return nil
}

// damaged stops reading at the last message read.
func (g *GobReader) damaged(format string, args ...any) {
	g.Damage = fmt.Errorf("results file damaged at byte %d: %s; results after it are lost", g.msgStart, fmt.Sprintf(format, args...))
}

// message reads one message (its length, then its bytes) and returns its
// bytes, valid until the next call. A clean end of stream is io.EOF.
func (g *GobReader) message() ([]byte, error) {
	g.msgStart = g.off
	// The length: a gob unsigned integer of at most 9 bytes.
	head, err := g.br.Peek(9)
	if len(head) == 0 {
		return nil, err
	}
	d := gobDecoder{b: head}
	n := d.uint()
	if d.bad {
		if len(head) < 9 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("a message length of %d bytes", 256-int(head[0]))
	}
	g.br.Discard(len(head) - len(d.b))
	g.off += int64(len(head) - len(d.b))
	if n == 0 || n > maxGobMessage {
		return nil, fmt.Errorf("message length %d", n)
	}
	if int(n) <= g.br.Size() {
		b, err := g.br.Peek(int(n))
		if err != nil {
			return nil, unexpected(err)
		}
		g.br.Discard(int(n))
		g.off += int64(n)
		return b, nil
	}
	// A message larger than the read buffer (a big response body): grow
	// the buffer as the bytes come, not as the length claims.
	g.buf = g.buf[:0]
	for rest := int(n); rest > 0; {
		chunk := min(rest, 1<<20)
		start := len(g.buf)
		g.buf = append(g.buf, make([]byte, chunk)...)
		if _, err := io.ReadFull(g.br, g.buf[start:]); err != nil {
			return nil, unexpected(err)
		}
		rest -= chunk
	}
	g.off += int64(n)
	return g.buf, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// gobDecoder decodes values from one message. bad is set on the first
// malformed value; what is read after it is zero.
type gobDecoder struct {
	b   []byte
	bad bool
}

func (d *gobDecoder) uint() uint64 {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	if c < 0x80 {
		d.b = d.b[1:]
		return uint64(c)
	}
	n := 256 - int(c) // the byte holds the negated count
	if n > 8 || len(d.b) < 1+n {
		d.bad = true
		return 0
	}
	var x uint64
	for _, v := range d.b[1 : 1+n] {
		x = x<<8 | uint64(v)
	}
	d.b = d.b[1+n:]
	return x
}

func (d *gobDecoder) int() int64 {
	u := d.uint()
	if u&1 != 0 {
		return ^int64(u >> 1)
	}
	return int64(u >> 1)
}

func (d *gobDecoder) bytes() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// unixToInternal is time.Time's internal epoch (year 1) in Unix seconds.
const unixToInternal = -62135596800

// time decodes a time.Time as its MarshalBinary form (versions 1 and 2):
// only the instant; the zone is not kept.
func (d *gobDecoder) time() time.Time {
	b := d.bytes()
	if len(b) == 0 {
		return time.Time{}
	}
	if (b[0] != 1 || len(b) != 15) && (b[0] != 2 || len(b) != 16) {
		d.bad = true
		return time.Time{}
	}
	sec := int64(binary.BigEndian.Uint64(b[1:9]))
	nsec := int64(int32(binary.BigEndian.Uint32(b[9:13])))
	return time.Unix(sec+unixToInternal, nsec)
}

// skip skips a value of type id.
func (d *gobDecoder) skip(g *GobReader, id int64, depth int) {
	if depth > 64 {
		d.bad = true
		return
	}
	switch id {
	case gobBool, gobInt, gobUint, gobFloat:
		d.uint()
		return
	case gobComplex:
		d.uint()
		d.uint()
		return
	case gobBytes, gobString:
		d.bytes()
		return
	}
	t := g.types[id]
	if t == nil {
		d.bad = true
		return
	}
	switch t.kind {
	case kindEncoder:
		d.bytes()
	case kindArray, kindSlice:
		for n := d.uint(); n > 0 && !d.bad; n-- {
			d.skip(g, t.elem, depth+1)
		}
	case kindMap:
		for n := d.uint(); n > 0 && !d.bad; n-- {
			d.skip(g, t.key, depth+1)
			d.skip(g, t.elem, depth+1)
		}
	case kindStruct:
		d.structFields(func(f int) bool {
			if f >= len(t.fields) {
				return false
			}
			d.skip(g, t.fields[f], depth+1)
			return true
		})
	}
}

// structFields reads a struct's fields, calling fn with each field number;
// fn returns false for a field it does not know.
func (d *gobDecoder) structFields(fn func(field int) bool) {
	field := -1
	for !d.bad {
		delta := d.uint()
		if d.bad || delta == 0 {
			return
		}
		if delta > 1<<16 {
			d.bad = true
			return
		}
		field += int(delta)
		if !fn(field) {
			d.bad = true
			return
		}
	}
}

// wireType decodes gob's wireType: the definition of type id, which the
// message names. It returns the type and its id (from its CommonType, which
// must match), or nil when the definition is not one it knows.
func (d *gobDecoder) wireType(id int64) (*gobType, int64) {
	var t *gobType
	var tid int64
	d.structFields(func(f int) bool {
		if t != nil {
			return false // one kind per definition
		}
		t = &gobType{}
		switch f {
		case 0:
			t.kind = kindArray
		case 1:
			t.kind = kindSlice
		case 2:
			t.kind = kindStruct
		case 3:
			t.kind = kindMap
		case 4, 5, 6:
			t.kind = kindEncoder
		default:
			return false
		}
		d.structFields(func(f int) bool {
			switch {
			case f == 0: // CommonType
				d.structFields(func(f int) bool {
					switch f {
					case 0:
						t.name = string(d.bytes())
					case 1:
						tid = d.int()
					default:
						return false
					}
					return true
				})
			case f == 1 && t.kind == kindStruct:
				n := d.uint()
				if n > uint64(len(d.b)) {
					d.bad = true
					return true
				}
				for range n {
					var name string
					var fid int64
					d.structFields(func(f int) bool {
						switch f {
						case 0:
							name = string(d.bytes())
						case 1:
							fid = d.int()
						default:
							return false
						}
						return true
					})
					t.names, t.fields = append(t.names, name), append(t.fields, fid)
				}
			case f == 1 && (t.kind == kindArray || t.kind == kindSlice):
				t.elem = d.int()
			case f == 1 && t.kind == kindMap:
				t.key = d.int()
			case f == 2 && t.kind == kindMap:
				t.elem = d.int()
			case f == 2 && t.kind == kindArray:
				d.int() // the length: every value carries it too
			default:
				return false
			}
			return true
		})
		return true
	})
	if d.bad || t == nil || tid != id {
		return nil, 0
	}
	return t, tid
}
