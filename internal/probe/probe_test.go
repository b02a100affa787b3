package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsServer serves over TLS with a certificate for names (DNS names or
// IPs), valid from notBefore to notAfter, signed by a fresh CA; it returns
// the server and a pool holding that CA.
func tlsServer(t *testing.T, names []string, notBefore, notAfter time.Time) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgate test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return srv, pool
}

func TestProbeTLS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good, goodCA := tlsServer(t, []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredCA := tlsServer(t, []string{"127.0.0.1"}, now.Add(-72*time.Hour), now.Add(-24*time.Hour))
	wrongHost, wrongCA := tlsServer(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	tests := []struct {
		name    string
		url     string
		pool    *x509.CertPool
		failure string
		msg     string
	}{
		{"trusted", good.URL, goodCA, "", ""},
		{"unknown authority", good.URL, nil, FailTLS, "certificate signed by an unknown authority"},
		{"expired", expired.URL, expiredCA, FailTLS, "certificate expired (valid from"},
		{"wrong host", wrongHost.URL, wrongCA, FailTLS, "wrong host: the certificate is for api.example.com, not 127.0.0.1"},
		{"plain HTTP on https", strings.Replace(httptest.NewServer(http.NotFoundHandler()).URL, "http:", "https:", 1), nil, FailTLS, "did not answer with TLS"},
	}
	for _, tc := range tests {
		tries := Run(context.Background(), Options{URL: tc.url, Count: 3, Interval: time.Millisecond, RootCAs: tc.pool})
		s := Summarize(tc.url, tries)
		if len(tries) != 3 {
			t.Fatalf("%s: %d tries", tc.name, len(tries))
		}
		for _, tr := range tries {
			if tr.Failure != tc.failure || !strings.Contains(tr.Error, tc.msg) {
				t.Errorf("%s: failure %q %q, want %q containing %q", tc.name, tr.Failure, tr.Error, tc.failure, tc.msg)
			}
			if tr.Connect <= 0 || tr.TLS <= 0 && tc.failure == "" {
				t.Errorf("%s: connect %v, tls %v not timed", tc.name, tr.Connect, tr.TLS)
			}
		}
		if tc.failure == "" {
			if s.SuccessRate != 1 || s.Phases["tls"].N != 3 || s.Phases["ttfb"].P50 <= 0 || s.Status[200] != 3 {
				t.Errorf("%s: %+v", tc.name, s)
			}
		} else if s.TLSErrorRate != 1 {
			t.Errorf("%s: tls error rate %v", tc.name, s.TLSErrorRate)
		}
	}
}

func TestProbeConnectAndDNS(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	s := Summarize(closed, Run(context.Background(), Options{URL: closed, Count: 4, Interval: time.Millisecond}))
	if s.ConnectErrorRate != 1 || s.ErrorRate != 1 || len(s.Errors) != 1 || !strings.Contains(firstKey(s.Errors), "connect: connection refused") {
		t.Errorf("closed port: %+v", s)
	}
	dns := Summarize("http://no-such-host.invalid/", Run(context.Background(), Options{URL: "http://no-such-host.invalid/", Count: 2, Interval: time.Millisecond}))
	if dns.DNSErrorRate != 1 || !strings.Contains(firstKey(dns.Errors), "DNS: no such host no-such-host.invalid") {
		t.Errorf(".invalid: %+v", dns)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

func TestProbeTimeoutAndMetrics(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	s := Summarize(slow.URL, Run(context.Background(), Options{URL: slow.URL, Count: 2, Interval: time.Millisecond, Timeout: 100 * time.Millisecond}))
	if s.TimeoutRate != 1 || !strings.Contains(firstKey(s.Errors), "timeout waiting for the response") {
		t.Errorf("timeouts: %+v", s)
	}
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer fast.Close()
	sum := Summarize(fast.URL, Run(context.Background(), Options{URL: fast.URL, Count: 20, Interval: 0}))
	for _, name := range []string{"connect_p95", "ttfb_p50", "total_max", "error_rate", "timeout_rate"} {
		v, ok := sum.Metric(name)
		if !ok || v < 0 || v > 1000 {
			t.Errorf("%s = %v %v", name, v, ok)
		}
	}
	if v, _ := sum.Metric("tls_p95"); v == v {
		t.Errorf("tls_p95 of a plain HTTP probe = %v, want NaN", v)
	}
	if sum.Phases["connect"].N != 20 {
		t.Errorf("each try should open a connection: %d connects", sum.Phases["connect"].N)
	}
}
