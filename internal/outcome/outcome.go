// Package outcome names what became of an HTTP try that failed (its error
// kind) and of a logical request (its class), and sorts Go errors into
// kinds by their types. The transport and the body readers classify where
// an error is born; messages are read only in files that other tools wrote.
package outcome

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Kind names why a try failed. A try answered with a status and then
// broken (a bad body, say) has both the status and a kind.
type Kind uint8

// The kinds. None is a try that did not fail.
const (
	None Kind = iota
	// Network: the target could not be reached or did not answer in time.
	Timeout // a deadline passed anywhere in the try
	Refused
	Reset
	DNS
	TLS
	Closed // the connection closed before the answer was whole
	Other  // a network failure of no other kind
	// Protocol: the target answered, but not with valid HTTP.
	Malformed    // the response head was not HTTP
	HeadTooLarge // the response head passed http.max_header_bytes
	BadFraming   // the body's framing was broken (a bad chunk)
	BadEncoding  // the body's content encoding could not be decoded
	TooManyHops  // more redirects than http.redirects allows
	// Loadgate's side.
	System  // the request could not be made: no descriptors, an invalid request
	Aborted // cut by loadgate when the run was interrupted
	NumKinds
)

var kindNames = [NumKinds]string{
	"", "timeout", "refused", "reset", "dns", "tls", "closed", "other",
	"malformed", "head_too_large", "bad_framing", "bad_encoding", "redirect_loop",
	"system", "aborted",
}

func (k Kind) String() string {
	if k >= NumKinds {
		return "other"
	}
	return kindNames[k]
}

// KindNamed returns the kind of a name String gives, and false for a name
// it does not know.
func KindNamed(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name && k != 0 {
			return Kind(k), true
		}
	}
	return None, false
}

// Class is the class of a logical request's outcome: the four classes of
// failure, or success.
type Class uint8

// Outcome classes.
const (
	ClassOK       Class = iota
	ClassNetwork        // no answer: DNS, refused, timeout, reset, TLS
	ClassProtocol       // a status the request did not expect, or a broken answer
	ClassBusiness       // the expected status, but a check failed
	ClassSystem         // loadgate's side could not make or finish the request
	NumClasses
)

var classNames = [NumClasses]string{"ok", "network", "protocol", "business", "system"}

func (c Class) String() string { return classNames[c] }

// ClassNamed returns the class of a name String gives.
func ClassNamed(name string) (Class, bool) {
	for c, n := range classNames {
		if n == name {
			return Class(c), true
		}
	}
	return ClassOK, false
}

// ClassOf returns the class of a failed try's kind.
func ClassOf(k Kind) Class {
	switch {
	case k == System || k == Aborted:
		return ClassSystem
	case k >= Malformed && k <= TooManyHops:
		return ClassProtocol
	}
	return ClassNetwork
}

// Error is an error whose kind is known where it happened.
type Error struct {
	Kind Kind
	// Code is the status the target sent before the try failed (a
	// redirect loop's last answer), 0 for none.
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap gives err the kind k, unless err already carries one. A nil err
// stays nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	var ke *Error
	if errors.As(err, &ke) {
		return err
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the kind err carries, or None.
func KindOf(err error) Kind {
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Kind
	}
	return None
}

// IO returns the kind of an error from a network operation (a dial, a
// read, a write) by its type, and false when its type says nothing: the
// caller knows then what was going on (parsing a head, decoding a body)
// and names the kind itself.
func IO(err error) (Kind, bool) {
	if err == nil {
		return None, false
	}
	if k := KindOf(err); k != None {
		return k, true
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return Timeout, true
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EADDRNOTAVAIL),
		errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return System, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Reset, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return Closed, true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return DNS, true
	}
	if isTLS(err) {
		return TLS, true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return Other, true // unreachable, and the like
	}
	return None, false
}

func isTLS(err error) bool {
	var (
		alert  tls.AlertError
		rec    tls.RecordHeaderError
		verify *tls.CertificateVerificationError
		ua     x509.UnknownAuthorityError
		host   x509.HostnameError
		inval  x509.CertificateInvalidError
	)
	return errors.As(err, &alert) || errors.As(err, &rec) || errors.As(err, &verify) ||
		errors.As(err, &ua) || errors.As(err, &host) || errors.As(err, &inval)
}

// Message returns the kind of a transport error known only by its message,
// as in results files that the vegeta CLI wrote. loadgate's own files
// carry each try's kind.
func Message(msg string) Kind {
	switch {
	case strings.HasPrefix(msg, "aborted"):
		return Aborted
	case strings.Contains(msg, "too many open files") || strings.Contains(msg, "cannot assign requested address"):
		return System
	case strings.Contains(msg, "Timeout exceeded") || strings.Contains(msg, "timeout") ||
		strings.Contains(msg, "deadline exceeded"):
		return Timeout
	case strings.Contains(msg, "connection refused"):
		return Refused
	case strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe"):
		return Reset
	case strings.Contains(msg, "no such host") || strings.Contains(msg, "server misbehaving") ||
		strings.Contains(msg, "lookup "):
		return DNS
	case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return TLS
	case strings.Contains(msg, "stopped after") && strings.Contains(msg, "redirects"):
		return TooManyHops
	case strings.Contains(msg, "gzip:") || strings.Contains(msg, "flate:"):
		return BadEncoding
	case strings.Contains(msg, "chunk"):
		return BadFraming
	case strings.Contains(msg, "exceeded") && strings.Contains(msg, "headers"):
		return HeadTooLarge
	case strings.Contains(msg, "malformed HTTP") || strings.Contains(msg, "unsupported transfer encoding") ||
		strings.Contains(msg, "bad Content-Length") || strings.Contains(msg, "invalid header") ||
		strings.Contains(msg, "malformed MIME"):
		return Malformed
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "server closed") ||
		strings.Contains(msg, "closed network connection"):
		return Closed
	}
	return Other
}
