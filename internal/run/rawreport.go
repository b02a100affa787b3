package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/outcome"
	"github.com/loadgate/loadgate/internal/results"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// rawInput is a raw results file read for a report: loadgate's own, or
// any file the vegeta CLI writes (gob, CSV, JSON).
type rawInput struct {
	names    []string
	index    map[string]int
	col      *report.Collector
	tries    []report.Try // the tries of the logical request being read
	l        report.Logical
	sent     uint64    // logical requests
	first    time.Time // the first try sent
	lastSend time.Time
	last     time.Time // the end of the last try to end
	damage   error
}

// ReadRaw computes a run's figures from its raw results alone.
func ReadRaw(path string, ths []threshold.Expr) (*Rendered, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, inputErr("", "%v", pathErr(err))
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(len(results.Magic))
	ri := &rawInput{index: map[string]int{}}
	scenario := filepath.Base(path)
	if results.IsResults(head) {
		scenario, err = ri.readResults(br, path)
	} else if g, gerr := results.NewGobReader(br); gerr == nil {
		ri.readGob(g)
	} else {
		err = ri.readVegeta(f, br, path)
	}
	if err != nil {
		return nil, err
	}
	if ri.col == nil {
		return nil, inputErr("", "%s holds no results", path)
	}
	return &Rendered{Report: report.Build(ri.input(path, scenario, ths)), Dir: filepath.Dir(path)}, nil
}

// readResults reads loadgate's own results file and returns the name of
// its scenario.
func (ri *rawInput) readResults(br *bufio.Reader, path string) (string, error) {
	rd, err := results.NewReader(br)
	if err != nil {
		return "", inputErr("", "%s: %v", path, err)
	}
	var r results.Result
	for {
		if err := rd.Next(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				return "", err
			}
			break
		}
		ri.add(rd.Header.Requests[r.Request].Name, r.Timestamp, r.Latency, r.Code, r.BytesIn, r.BytesOut, r.Error, r.Kind, r.More)
	}
	ri.damage = rd.Damage
	return rd.Header.Scenario, nil
}

// readGob reads the vegeta CLI's default format, fast.
func (ri *rawInput) readGob(g *results.GobReader) {
	var r results.GobResult
	for g.Next(&r) == nil {
		name := "default"
		if len(r.Attack) > 0 {
			name = ri.name(r.Attack)
		}
		var errText string
		if r.Code == 0 {
			errText = string(r.Error)
		}
		ri.add(name, r.Timestamp, r.Latency, r.Code, r.BytesIn, r.BytesOut, errText, outcome.None, false)
	}
	ri.damage = g.Damage
}

// readVegeta reads another format (CSV, JSON) or a gob stream of other
// types from the start of f with vegeta's own decoders.
func (ri *rawInput) readVegeta(f *os.File, br *bufio.Reader, path string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br.Reset(f)
	dec := vegeta.DecoderFor(br)
	if dec == nil {
		return inputErr("give a run folder, results.lgr, or a vegeta results file", "%s: not a results file loadgate or vegeta writes", path)
	}
	var r vegeta.Result
	for {
		if err := dec.Decode(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				ri.damage = fmt.Errorf("results file damaged after %d results: %v; results after it are lost", ri.count(), err)
			}
			break
		}
		name := r.Attack
		if name == "" {
			name = "default"
		}
		ri.add(name, r.Timestamp, r.Latency, r.Code, r.BytesIn, r.BytesOut, r.Error, outcome.None, false)
	}
	return nil
}

// add records one try; more says that more tries of the same logical
// request follow (loadgate's own files say so; vegeta's hold one try a
// request).
func (ri *rawInput) add(name string, ts time.Time, lat time.Duration, code uint16, in, out uint64, errText string, kind outcome.Kind, more bool) {
	i, ok := ri.index[name]
	if !ok {
		i = len(ri.names)
		ri.index[name] = i
		ri.names = append(ri.names, name)
	}
	if ri.first.IsZero() || ts.Before(ri.first) {
		ri.first = ts
	}
	if ts.After(ri.lastSend) {
		ri.lastSend = ts
	}
	if end := ts.Add(lat); end.After(ri.last) {
		ri.last = end
	}
	if kind == outcome.None && code == 0 {
		kind = outcome.Message(errText) // a file with no kinds
	}
	t := report.Try{Code: int(code), Err: kind, Timestamp: ts, Latency: lat, BytesIn: in, BytesOut: out}
	switch {
	case kind != outcome.None:
		t.Class = outcome.ClassOf(kind)
	case code < 200 || code >= 400:
		t.Class = outcome.ClassProtocol
	}
	ri.tries = append(ri.tries, t)
	if more {
		return
	}
	ri.l = report.Logical{Tries: len(ri.tries), Code: int(code), Class: t.Class, Timeout: kind == outcome.Timeout, E2E: ts.Add(lat).Sub(ri.tries[0].Timestamp)}
	for _, p := range ri.tries[:len(ri.tries)-1] {
		cause := strconv.Itoa(p.Code)
		if p.Code == 0 {
			cause = "network"
		}
		if p.Code < 300 || p.Code >= 400 || p.Err != outcome.None {
			ri.l.RetryCauses = append(ri.l.RetryCauses, cause)
		} else {
			ri.l.Tries-- // a redirect hop, not a retry
		}
	}
	ri.collector(i).Record(0, i, ri.tries, &ri.l)
	ri.tries = ri.tries[:0]
	ri.sent++
}

// input is what the report is built from: the figures read as one stage
// spanning them, with a note of any damage.
func (ri *rawInput) input(path, scenario string, ths []threshold.Expr) report.Input {
	c := ri.col
	c.Names, c.Methods, c.Paths = ri.names, make([]string, len(ri.names)), make([]string, len(ri.names))
	c.StageEnded(0, ri.last, false)
	c.Stages[0].Started, c.Stages[0].Planned = ri.first, sendWindow(ri.first, ri.lastSend, ri.count())
	in := report.Input{
		Collector: c, Thresholds: ths,
		Scenario: report.ScenarioInfo{Name: scenario, File: path, Target: "(from raw results)", Environment: "-"},
		Meta:     Meta(Sharding{Count: 1}),
	}
	if ri.damage != nil {
		in.Notes = append(in.Notes, ri.damage.Error())
	}
	return in
}

// sendWindow estimates the window in which n tries were sent, the first at
// first and the last at last: the span between them and one mean interval
// more, as the last was sent at the start of its share of the window (3
// requests sent 1/3 s apart at 3/s fill 1 s).
func sendWindow(first, last time.Time, n uint64) time.Duration {
	span := last.Sub(first)
	if n < 2 || span <= 0 {
		return span
	}
	return time.Duration(float64(span) * float64(n) / float64(n-1))
}

func (ri *rawInput) count() uint64 {
	if ri.col == nil {
		return 0
	}
	return ri.col.ByStage[0].Requests
}

// name returns the request name b, as a string kept from the first time
// it was seen, so that a name is not allocated per result.
func (ri *rawInput) name(b []byte) string {
	if i, ok := ri.index[string(b)]; ok {
		return ri.names[i]
	}
	return string(b)
}

// collector returns the figures, grown to hold request i.
func (ri *rawInput) collector(i int) *report.Collector {
	if ri.col == nil {
		ri.col = report.NewCollector(nil, nil, nil, nil, []report.StageInfo{{Name: "all"}})
	}
	for len(ri.col.ByRequest) <= i {
		ri.col.ByRequest = append(ri.col.ByRequest, report.NewStats())
		ri.col.Phases = append(ri.col.Phases, nil)
	}
	return ri.col
}

// IsRawFile reports whether path names a raw results file rather than a
// run folder or a report.json: a .json file is raw when it holds vegeta's
// JSON results (a line per result, each starting with its attack name).
func IsRawFile(path string) bool {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		return false
	}
	if !strings.HasSuffix(path, ".json") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(vegetaJSONStart))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == vegetaJSONStart
}

// vegetaJSONStart is how each line of vegeta's JSON results starts.
const vegetaJSONStart = `{"attack":`

// KilledRun renders the folder of a run that did not end (its process was
// killed) from its raw results, when they hold more than its last
// checkpoint (or there is none), marked incomplete; nil when the folder's
// figures are whole or the newer.
func KilledRun(dir string, env *Env) (*Rendered, error) {
	lgr := filepath.Join(dir, FileRaw)
	if _, err := os.Stat(lgr); err != nil {
		return nil, nil
	}
	var snap *report.Snapshot
	if f, err := os.Open(filepath.Join(dir, FileStats)); err == nil {
		snap, err = report.ReadSnapshot(f)
		f.Close()
		if err == nil && !snap.Checkpoint {
			return nil, nil // a run that ended
		}
	}
	var ths []threshold.Expr
	var checkpointed uint64
	if snap != nil {
		for _, src := range snap.Thresholds {
			if e, err := threshold.Parse(src); err == nil && !e.Windowed() {
				ths = append(ths, e)
			}
		}
		for _, r := range snap.Requests {
			checkpointed += r.Stats.Requests
		}
	}
	f := &results.File{Path: lgr}
	rd, err := f.Open()
	if err != nil {
		return nil, nil
	}
	var n uint64
	var res results.Result
	for rd.Next(&res) == nil {
		n++
	}
	f.Close()
	if snap != nil && n <= checkpointed {
		return nil, nil // the checkpoint holds as much, and more figures
	}
	r, err := ReadRaw(lgr, ths)
	if err != nil {
		return nil, err
	}
	r.Report.Interrupted, r.Report.Verdict = true, report.Interrupted
	r.Report.Stopped = "incomplete: the run did not end; rendered from its raw results (" + strconv.FormatUint(n, 10) + " tries)"
	if snap != nil {
		r.Report.Scenario = snap.Scenario
	}
	fmt.Fprintf(env.Stderr, "loadgate: warning: %s did not end; %s\n", dir, strings.TrimPrefix(r.Report.Stopped, "incomplete: the run did not end; "))
	return r, nil
}
