// Package reqlog writes the request log: one JSON line (log/slog) per
// failed request and one per sampled success, in a file of bounded size.
package reqlog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"time"
)

// Entry is one logged request.
type Entry struct {
	Time         time.Time
	RequestID    string
	Request      string
	Stage        string
	Method       string
	URL          string // redacted
	Status       int
	ErrorType    string // ok, network, protocol, business, system
	ErrorKind    string // for network and system errors: timeout, refused, ...
	ErrorCode    string
	Error        string // redacted
	RetryCount   int
	LatencyMS    float64
	FailedChecks []string
}

// Log writes entries to w until MaxBytes have been written; past that it
// counts the entries it drops.
type Log struct {
	bw      *bufio.Writer
	cw      *capped
	logger  *slog.Logger
	lines   uint64
	dropped uint64
}

type capped struct {
	w       io.Writer
	n, max  int64
	dropped bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		c.dropped = true
		return len(p), nil
	}
	c.n += int64(len(p))
	return c.w.Write(p)
}

// New returns a log writing to w, at most maxBytes. mask, when not nil,
// wraps what each line is written to (a line is one write), to mask the
// secrets in it.
func New(w io.Writer, maxBytes int64, mask func(io.Writer) io.Writer) *Log {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &capped{w: bw, max: maxBytes}
	var lines io.Writer = cw
	if mask != nil {
		lines = mask(cw)
	}
	h := slog.NewJSONHandler(lines, &slog.HandlerOptions{Level: slog.LevelDebug})
	return &Log{bw: bw, cw: cw, logger: slog.New(h)}
}

// Full reports whether the cap was reached; callers may skip building
// entries then.
func (l *Log) Full() bool { return l.cw.dropped && l.cw.max-l.cw.n < 256 }

// Write logs one entry.
func (l *Log) Write(e *Entry) {
	if l.Full() {
		l.dropped++
		return
	}
	level := slog.LevelInfo
	if e.ErrorType != "ok" {
		level = slog.LevelError
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", e.RequestID),
		slog.String("request", e.Request),
		slog.String("stage", e.Stage),
		slog.String("method", e.Method),
		slog.String("url", e.URL),
		slog.Int("status", e.Status),
		slog.String("error_type", e.ErrorType),
	)
	if e.ErrorKind != "" {
		attrs = append(attrs, slog.String("error_kind", e.ErrorKind))
	}
	if e.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", e.ErrorCode))
	}
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
	}
	attrs = append(attrs, slog.Int("retry_count", e.RetryCount), slog.Float64("latency_ms", e.LatencyMS))
	if len(e.FailedChecks) > 0 {
		attrs = append(attrs, slog.Any("failed_checks", e.FailedChecks))
	}
	before := l.cw.n
	r := slog.NewRecord(e.Time, level, "request", 0)
	r.AddAttrs(attrs...)
	_ = l.logger.Handler().Handle(context.Background(), r) // writes to memory; errors surface at Flush
	if l.cw.n > before {
		l.lines++
	} else {
		l.dropped++
	}
}

// Drop counts an entry not written because the cap was reached.
func (l *Log) Drop() { l.dropped++ }

// Lines and Dropped count the entries written and those past the cap.
func (l *Log) Lines() uint64   { return l.lines }
func (l *Log) Dropped() uint64 { return l.dropped }

// Flush writes what is buffered.
func (l *Log) Flush() error { return l.bw.Flush() }
