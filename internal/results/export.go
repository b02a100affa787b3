package results

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Export formats: what the vegeta CLI reads.
const (
	FormatGob  = "gob"
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Export writes every result of a results file in a vegeta format ("vegeta
// report" and "vegeta plot" read them), in the file's order. open opens the
// file from its start; it is read twice: vegeta plot wants each attack's
// (request's) results numbered from 0 in the order they were sent, and a
// file holds them in the order they ended. It returns the number written; a
// damaged file is exported up to its damage, which the Reader open gave
// last then names.
func Export(open func() (*Reader, error), w io.Writer, format string) (uint64, error) {
	var enc vegeta.Encoder
	switch format {
	case FormatGob:
		enc = vegeta.NewEncoder(w)
	case FormatCSV:
		enc = vegeta.NewCSVEncoder(w)
	case FormatJSON:
		enc = vegeta.NewJSONEncoder(w)
	default:
		return 0, fmt.Errorf("format %q: want gob, csv or json", format)
	}
	seqs, err := sendOrder(open)
	if err != nil {
		return 0, err
	}
	rd, err := open()
	if err != nil {
		return 0, err
	}
	var r Result
	var v vegeta.Result
	var n uint64
	for ; n < uint64(len(seqs)); n++ {
		if err := rd.Next(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return n, err
		}
		req := rd.Header.Requests[r.Request]
		v = vegeta.Result{
			Attack: req.Name, Seq: seqs[n], Code: r.Code, Timestamp: r.Timestamp, Latency: r.Latency,
			BytesOut: r.BytesOut, BytesIn: r.BytesIn, Error: r.Error, Method: req.Method, URL: req.URL,
		}
		if r.URL != "" {
			v.URL = r.URL
		}
		if err := enc.Encode(&v); err != nil {
			return n, err
		}
	}
	return n, nil
}

// sendOrder numbers the results of each request in the order they were
// sent: the number of the file's result i is at index i.
func sendOrder(open func() (*Reader, error)) ([]uint64, error) {
	rd, err := open()
	if err != nil {
		return nil, err
	}
	type sent struct {
		at int64
		i  uint32
	}
	var byReq [][]sent
	var r Result
	var n uint32
	for ; ; n++ {
		if err := rd.Next(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		for len(byReq) <= r.Request {
			byReq = append(byReq, nil)
		}
		byReq[r.Request] = append(byReq[r.Request], sent{r.Timestamp.UnixNano(), n})
	}
	seqs := make([]uint64, n)
	for _, s := range byReq {
		slices.SortFunc(s, func(a, b sent) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.i, b.i)) })
		for k, x := range s {
			seqs[x.i] = uint64(k)
		}
	}
	return seqs, nil
}

// File is a results file on disk, read from its start as often as asked.
type File struct {
	Path string
	f    *os.File
	rd   *Reader
}

// Open opens the file again from its start.
func (s *File) Open() (*Reader, error) {
	s.Close()
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, err
	}
	rd, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f, s.rd = f, rd
	return rd, nil
}

// Close closes the file.
func (s *File) Close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// Damage is the damage the last reading found, or nil.
func (s *File) Damage() error {
	if s.rd == nil {
		return nil
	}
	return s.rd.Damage
}
