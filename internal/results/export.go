package results

import (
	"errors"
	"fmt"
	"io"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Export formats: what the vegeta CLI reads.
const (
	FormatGob  = "gob"
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Export writes every result of rd in a vegeta format ("vegeta report"
// reads them). It returns the number written; a damaged file is exported
// up to its damage, which rd.Damage then names.
func Export(rd *Reader, w io.Writer, format string) (uint64, error) {
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
	var r Result
	var v vegeta.Result
	var n uint64
	for {
		if err := rd.Next(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		req := rd.Header.Requests[r.Request]
		v = vegeta.Result{
			Attack: req.Name, Seq: n, Code: r.Code, Timestamp: r.Timestamp, Latency: r.Latency,
			BytesOut: r.BytesOut, BytesIn: r.BytesIn, Error: r.Error, Method: req.Method, URL: req.URL,
		}
		if r.URL != "" {
			v.URL = r.URL
		}
		if err := enc.Encode(&v); err != nil {
			return n, err
		}
		n++
	}
}
