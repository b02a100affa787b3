// Package outfile writes loadgate's output files, all of them through one
// place: every secret masked in every form it may take (text files; images
// hold no text loadgate wrote as such), and each file whole or not at all.
package outfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/loadgate/loadgate/internal/redact"
)

// Writer writes output files with the secrets its redactor knows masked.
type Writer struct {
	Redactor *redact.Redactor
	// Write, when set, writes a whole file in place of the disk (a test's
	// disk that fills).
	Write func(path string, data []byte) error
}

// WriteFile writes data to path whole: to a temporary file beside it, then
// renamed into place, so a reader (or a crash) never sees part of it and a
// failed write leaves no empty file behind.
func (w *Writer) WriteFile(path string, data []byte) error {
	if w != nil && w.Redactor != nil && !binary(path) {
		data = w.Redactor.Bytes(data)
	}
	if w != nil && w.Write != nil {
		return w.Write(path, data)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Stream returns a writer to dst that masks each write: each write must
// hold whole texts (a log line, a line of the terminal).
func (w *Writer) Stream(dst io.Writer) io.Writer {
	if w == nil || w.Redactor == nil {
		return dst
	}
	return w.Redactor.Writer(dst)
}

func binary(path string) bool {
	return strings.HasSuffix(path, ".png") || strings.HasSuffix(path, ".gob") || strings.HasSuffix(path, ".lgr")
}
