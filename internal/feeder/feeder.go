// Package feeder reads data files (CSV with a header row, or JSON lines)
// and hands out their rows to requests: in order, at random, or each row
// once.
package feeder

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Limits on a data file, so that a wrong path cannot exhaust memory.
const (
	MaxFileSize = 256 << 20
	MaxRows     = 5_000_000
)

// Modes of handing out rows.
const (
	Sequential = "sequential" // in order, starting over at the end
	Random     = "random"     // a random row each time
	Unique     = "unique"     // each row once
)

// ErrExhausted is returned when a unique feeder that stops has no rows left.
var ErrExhausted = errors.New("data exhausted")

// Feeder hands out the rows of one data file. It is safe for concurrent use.
type Feeder struct {
	Name    string
	Columns map[string]int
	Header  []string
	rows    [][]string
	mode    string
	recycle bool
	next    atomic.Uint64
	// Shard i of n takes rows i, i+n, i+2n...: shards of a split run never
	// use the same row.
	shard, shards uint64
}

// Options say how rows are handed out.
type Options struct {
	Mode string // sequential (default), random or unique
	// Recycle makes a unique feeder start over when its rows run out
	// instead of ending the run.
	Recycle bool
}

// Load reads the data file at path: .csv (with a header row) or .jsonl /
// .ndjson (one JSON object per line).
func Load(name, path string, o Options) (*Feeder, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: data file is larger than %d MiB", path, MaxFileSize>>20)
	}
	fd := &Feeder{Name: name, mode: o.Mode, recycle: o.Recycle, shards: 1}
	if fd.mode == "" {
		fd.mode = Sequential
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		err = fd.readCSV(f, path)
	case ".jsonl", ".ndjson":
		err = fd.readJSONL(f, path)
	default:
		return nil, fmt.Errorf("%s: data files are .csv (with a header row) or .jsonl", path)
	}
	if err != nil {
		return nil, err
	}
	if len(fd.rows) == 0 {
		return nil, fmt.Errorf("%s: no data rows", path)
	}
	return fd, nil
}

func (fd *Feeder) setHeader(h []string, path string) error {
	fd.Header, fd.Columns = h, map[string]int{}
	for i, c := range h {
		c = strings.TrimSpace(c)
		if c == "" {
			return fmt.Errorf("%s: column %d has no name", path, i+1)
		}
		if _, dup := fd.Columns[c]; dup {
			return fmt.Errorf("%s: column %q appears twice", path, c)
		}
		fd.Columns[c] = i
	}
	return nil
}

func (fd *Feeder) readCSV(r io.Reader, path string) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: header row: %w", path, err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if err := fd.setHeader(head, path); err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(fd.rows) >= MaxRows {
			return fmt.Errorf("%s: more than %d rows", path, MaxRows)
		}
		fd.rows = append(fd.rows, rec)
	}
}

func (fd *Feeder) readJSONL(r io.Reader, path string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var objs []map[string]json.RawMessage
	var order []string
	seen := map[string]bool{}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("%s:%d: not a JSON object: %v", path, line, err)
		}
		for _, k := range keysInOrder(b, obj) {
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
		if len(objs) >= MaxRows {
			return fmt.Errorf("%s: more than %d rows", path, MaxRows)
		}
		objs = append(objs, obj)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if err := fd.setHeader(order, path); err != nil {
		return err
	}
	for _, obj := range objs {
		row := make([]string, len(order))
		for i, k := range order {
			row[i] = jsonText(obj[k])
		}
		fd.rows = append(fd.rows, row)
	}
	return nil
}

// keysInOrder returns obj's keys in the order they appear in b.
func keysInOrder(b []byte, obj map[string]json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return keys
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		if k, ok := t.(string); ok {
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	if len(keys) != len(obj) { // fall back on any oddity
		keys = keys[:0]
		for k := range obj {
			keys = append(keys, k)
		}
	}
	return keys
}

// jsonText is a JSON value as template text: strings unquoted, null
// empty, anything else as written.
func jsonText(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

// Len returns the number of rows.
func (fd *Feeder) Len() int { return len(fd.rows) }

// Shard makes the feeder hand out only the rows of shard i of n (from 0).
func (fd *Feeder) Shard(i, n int) {
	fd.shard, fd.shards = uint64(i), uint64(max(n, 1))
}

// Next returns the next row, or ErrExhausted when a unique feeder that
// does not recycle has handed out its rows.
func (fd *Feeder) Next() ([]string, error) {
	n := uint64(len(fd.rows))
	mine := (n - fd.shard + fd.shards - 1) / fd.shards // rows of this shard
	if mine == 0 {
		return nil, ErrExhausted
	}
	var k uint64
	switch fd.mode {
	case Random:
		k = rand.Uint64N(mine)
	case Unique:
		k = fd.next.Add(1) - 1
		if k >= mine {
			if !fd.recycle {
				return nil, ErrExhausted
			}
			k %= mine
		}
	default:
		k = (fd.next.Add(1) - 1) % mine
	}
	return fd.rows[fd.shard+k*fd.shards], nil
}
