// Package probe tests connectivity to a URL: N tries, each on a new
// connection, timing DNS lookup, TCP connect, TLS handshake and time to
// first byte, and naming what failed plainly.
package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/metric"
)

// Options configure a probe.
type Options struct {
	URL      string
	Method   string // default GET
	Header   http.Header
	Count    int           // tries; default 10
	Interval time.Duration // between the starts of tries; default 1s
	Timeout  time.Duration // per try; default 10s
	// RootCAs, when set, are the authorities trusted instead of the
	// system's; Insecure skips certificate checks.
	RootCAs  *x509.CertPool
	Insecure bool
	// OnTry, when set, receives each try as it ends.
	OnTry func(Try)
}

// Failure kinds of a try.
const (
	FailDNS     = "dns"
	FailConnect = "connect"
	FailTLS     = "tls"
	FailTimeout = "timeout"
	FailHTTP    = "http"   // the connection held but the exchange failed
	FailStatus  = "status" // the target answered 4xx or 5xx
)

// Try is one probe try. Durations are zero for phases that did not happen.
type Try struct {
	N       int           `json:"n"`
	Start   time.Time     `json:"start"`
	DNS     time.Duration `json:"dns_ns"`
	Connect time.Duration `json:"connect_ns"`
	TLS     time.Duration `json:"tls_ns"`
	TTFB    time.Duration `json:"ttfb_ns"` // from the start of the try
	Total   time.Duration `json:"total_ns"`
	Status  int           `json:"status"`
	Remote  string        `json:"remote_addr,omitempty"`
	// Failure is dns, connect, tls, timeout, http or status; empty on
	// success.
	Failure string `json:"failure,omitempty"`
	Error   string `json:"error,omitempty"` // said plainly
}

// Run makes the tries. It stops early, returning what it has, when ctx is
// done.
func Run(ctx context.Context, o Options) []Try {
	if o.Count <= 0 {
		o.Count = 10
	}
	if o.Interval < 0 {
		o.Interval = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	var out []Try
	next := time.Now()
	for i := 1; i <= o.Count; i++ {
		if i > 1 {
			next = next.Add(o.Interval)
			t := time.NewTimer(time.Until(next))
			select {
			case <-ctx.Done():
				t.Stop()
				return out
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return out
		}
		t := once(ctx, o, i)
		out = append(out, t)
		if o.OnTry != nil {
			o.OnTry(t)
		}
	}
	return out
}

// once makes one try on a new connection.
func once(ctx context.Context, o Options, n int) Try {
	tr := &http.Transport{
		DisableKeepAlives:   true,
		TLSClientConfig:     &tls.Config{RootCAs: o.RootCAs, InsecureSkipVerify: o.Insecure}, //nolint:gosec // only when asked
		TLSHandshakeTimeout: o.Timeout,
		DialContext:         (&net.Dialer{Timeout: o.Timeout}).DialContext,
		Proxy:               http.ProxyFromEnvironment,
	}
	defer tr.CloseIdleConnections()
	t := Try{N: n, Start: time.Now()}
	var dnsStart, connStart, tlsStart time.Time
	var stage string
	trace := &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { dnsStart, stage = time.Now(), FailDNS },
		DNSDone:  func(httptrace.DNSDoneInfo) { t.DNS = time.Since(dnsStart) },
		ConnectStart: func(string, string) {
			connStart, stage = time.Now(), FailConnect
		},
		ConnectDone: func(_, addr string, err error) {
			t.Connect = time.Since(connStart)
			if err == nil {
				t.Remote = addr
			}
		},
		TLSHandshakeStart:    func() { tlsStart, stage = time.Now(), FailTLS },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { t.TLS = time.Since(tlsStart) },
		GotConn:              func(httptrace.GotConnInfo) { stage = FailHTTP },
		GotFirstResponseByte: func() { t.TTFB = time.Since(t.Start) },
	}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(ctx, trace), o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, o.Method, o.URL, nil)
	if err != nil {
		t.Failure, t.Error = FailHTTP, err.Error()
		return t
	}
	for k, v := range o.Header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		t.Status = resp.StatusCode
	}
	t.Total = time.Since(t.Start)
	switch {
	case err != nil:
		t.Failure, t.Error = classify(err, stage)
	case t.Status >= 400:
		t.Failure, t.Error = FailStatus, fmt.Sprintf("the target answered %d %s", t.Status, http.StatusText(t.Status))
	}
	return t
}

// classify names a failure and says it plainly.
func classify(err error, stage string) (string, string) {
	var dnsErr *net.DNSError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var certErr x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return FailDNS, fmt.Sprintf("DNS: no such host %s", dnsErr.Name)
		}
		if dnsErr.IsTimeout {
			return FailDNS, fmt.Sprintf("DNS: lookup of %s timed out", dnsErr.Name)
		}
		return FailDNS, "DNS: " + dnsErr.Error()
	case errors.As(err, &certErr) && certErr.Reason == x509.Expired:
		return FailTLS, fmt.Sprintf("TLS: certificate expired (valid from %s to %s)",
			certErr.Cert.NotBefore.UTC().Format(time.DateOnly), certErr.Cert.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(err, &certErr):
		return FailTLS, "TLS: certificate not valid: " + certErr.Error()
	case errors.As(err, &hostErr):
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return FailTLS, fmt.Sprintf("TLS: wrong host: the certificate is for %s, not %s", strings.Join(names, ", "), hostErr.Host)
	case errors.As(err, &authErr):
		return FailTLS, fmt.Sprintf("TLS: certificate signed by an unknown authority (issuer %q)", authErr.Cert.Issuer.CommonName)
	case errors.As(err, &recErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return FailTLS, "TLS: the server did not answer with TLS (plain HTTP on an https URL?)"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		where := map[string]string{FailDNS: "during DNS lookup", FailConnect: "during connect", FailTLS: "during the TLS handshake", FailHTTP: "waiting for the response"}[stage]
		return FailTimeout, strings.TrimSpace("timeout " + where)
	case stage == FailConnect || stage == "" && strings.Contains(err.Error(), "connect:"):
		msg := err.Error()
		if i := strings.LastIndex(msg, "connect: "); i >= 0 {
			msg = msg[i+len("connect: "):]
		}
		return FailConnect, "connect: " + msg
	case stage == FailTLS:
		return FailTLS, "TLS: " + err.Error()
	}
	return FailHTTP, err.Error()
}

// Phase is a summary of one phase over the tries where it happened.
type Phase struct {
	N   int     `json:"n"`
	Min float64 `json:"min_ms"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	Max float64 `json:"max_ms"`
}

// Summary is the probe's figures.
type Summary struct {
	URL       string           `json:"url"`
	Tries     int              `json:"tries"`
	Successes int              `json:"successes"`
	Phases    map[string]Phase `json:"phases_ms"` // dns, connect, tls, ttfb, total
	// Rates of failed tries, as fractions of all tries.
	ErrorRate        float64        `json:"error_rate"`
	SuccessRate      float64        `json:"success_rate"`
	TimeoutRate      float64        `json:"timeout_rate"`
	DNSErrorRate     float64        `json:"dns_error_rate"`
	ConnectErrorRate float64        `json:"connect_error_rate"`
	TLSErrorRate     float64        `json:"tls_error_rate"`
	Status           map[int]int    `json:"status_codes"`
	Errors           map[string]int `json:"errors"` // plain message -> tries
	fails            map[string]int // tries by the phase that failed
}

// Summarize computes a probe's figures. Percentiles are exact (nearest
// rank) over the tries.
func Summarize(url string, tries []Try) Summary {
	s := Summary{URL: url, Tries: len(tries), Phases: map[string]Phase{}, Status: map[int]int{}, Errors: map[string]int{}}
	vals := map[string][]time.Duration{}
	fails := map[string]int{}
	for _, t := range tries {
		if t.Status > 0 {
			s.Status[t.Status]++
		}
		if t.Failure == "" {
			s.Successes++
		} else {
			fails[t.Failure]++
			s.Errors[t.Error]++
		}
		for name, d := range map[string]time.Duration{"dns": t.DNS, "connect": t.Connect, "tls": t.TLS, "ttfb": t.TTFB} {
			if d > 0 {
				vals[name] = append(vals[name], d)
			}
		}
		if t.Failure == "" || t.Failure == FailStatus {
			vals["total"] = append(vals["total"], t.Total) // an answer, even a refusal, took this long
		}
	}
	s.fails = fails
	for name, v := range vals {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		rank := func(q float64) float64 {
			i := int(math.Ceil(q/100*float64(len(v))-1e-9)) - 1
			return ms(v[max(i, 0)])
		}
		s.Phases[name] = Phase{N: len(v), Min: ms(v[0]), P50: rank(50), P95: rank(95), Max: ms(v[len(v)-1])}
	}
	if n := float64(len(tries)); n > 0 {
		s.ErrorRate = float64(len(tries)-s.Successes) / n
		s.SuccessRate = float64(s.Successes) / n
		s.TimeoutRate = float64(fails[FailTimeout]) / n
		s.DNSErrorRate = float64(fails[FailDNS]) / n
		s.ConnectErrorRate = float64(fails[FailConnect]) / n
		s.TLSErrorRate = float64(fails[FailTLS]) / n
	}
	return s
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Metric returns a probe metric: "connect_p95", "timeout_rate", ...; NaN
// when the phase never happened, false for a metric a probe does not have.
func (s Summary) Metric(name string) (float64, bool) {
	d, ok := metric.Lookup(name)
	if !ok || !d.InProbe() {
		return 0, false
	}
	f := metric.New()
	f.Tries, f.Logical, f.Successes = float64(s.Tries), float64(s.Tries), float64(s.Successes)
	f.Timeouts = float64(s.fails[FailTimeout])
	f.PhaseErrors = map[string]float64{"dns": float64(s.fails[FailDNS]), "connect": float64(s.fails[FailConnect]), "tls": float64(s.fails[FailTLS])}
	f.Phases = map[string]metric.Stats{}
	for name, p := range s.Phases {
		f.Phases[name] = metric.Stats{Min: p.Min, P50: p.P50, P95: p.P95, Max: p.Max,
			Mean: math.NaN(), StdDev: math.NaN(), P90: math.NaN(), P99: math.NaN(), P999: math.NaN()}
	}
	return d.Read(f, nil), true
}
