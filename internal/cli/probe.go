package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/probe"
	"github.com/loadgate/loadgate/internal/run"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/template"
	"github.com/loadgate/loadgate/internal/threshold"
)

type probeOptions struct {
	count      int
	interval   time.Duration
	timeout    time.Duration
	thresholds []string
	format     string
	ca         string
	insecure   bool
	method     string
	allowProd  bool
	allowWrite bool
}

func (o *probeOptions) register(fs *pflag.FlagSet) {
	fs.IntVarP(&o.count, "count", "n", 10, "tries, each on a new connection")
	fs.DurationVar(&o.interval, "interval", time.Second, "time between the starts of tries")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "limit of each try")
	fs.StringArrayVar(&o.thresholds, "threshold", nil, "a probe threshold, such as 'connect_p95 < 100ms' or 'timeout_rate <= 0.1%' (repeat for more; default: error_rate == 0)")
	fs.StringVarP(&o.format, "format", "f", "text", "text or json")
	fs.StringVar(&o.ca, "ca", "", "trust the certificate authorities in this PEM file instead of the system's")
	fs.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate checks (phases are still timed)")
	fs.StringVar(&o.method, "method", http.MethodGet, "HTTP method of the tries")
	fs.BoolVar(&o.allowProd, "allow-production", false, "allow probing a production target")
	fs.BoolVar(&o.allowWrite, "allow-writes", false, "allow a POST, PUT, PATCH or DELETE probe of production (with --allow-production)")
}

func probeCommand() *command {
	c := &command{
		name:    "probe",
		summary: "Test connectivity: DNS, connect, TLS and time to first byte over N tries",
		usage:   "loadgate probe URL|SCENARIO [--count N] [--interval D] [--timeout D] [--threshold EXPR]... [--format text|json]",
		details: `Makes N tries, each on a new connection, and times the DNS lookup, the TCP
connect, the TLS handshake and the time to first byte of each. The summary
gives min, p50, p95 and max per phase and the timeout, DNS-error,
connect-error and TLS-error rates; TLS problems are named plainly (expired,
wrong host, unknown authority). Given a scenario, it probes the scenario's
target (the embedded fixture API is started for it) with the path and
headers of its first GET request and the scenario's auth (an OAuth2 token
is fetched once, before the tries). A try answered 4xx or 5xx is not a
success.

Probe thresholds: dns_, connect_, tls_, ttfb_ and total_ followed by min, p50,
p95 or max (ms); error_rate, success_rate, timeout_rate, dns_error_rate,
connect_error_rate, tls_error_rate (%). Without --threshold, every try must
succeed (error_rate == 0). The exit code is 1 when a threshold fails.

Examples:
  loadgate probe https://api.example.com/health
  loadgate probe https://api.example.com/health --count 50 --interval 200ms --threshold 'connect_p95 < 100ms' --threshold 'timeout_rate <= 0.1%'
  loadgate probe scenarios/normal.yaml --format json`,
	}
	var o probeOptions
	c.flags = o.register
	c.run = func(ctx context.Context, env *Env, args []string) error {
		o = probeOptions{}
		fs := newFlagSet(c)
		o.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageErr("give a URL or a scenario file", "probe: want one URL or scenario, got %d arguments", fs.NArg())
		}
		return runProbe(ctx, env, &o, fs.Arg(0))
	}
	return c
}

// runProbe probes target, a URL or a scenario file, prints the tries and
// their summary, and returns the exit the thresholds call for.
func runProbe(ctx context.Context, env *Env, o *probeOptions, target string) error {
	if o.format != "text" && o.format != "json" {
		return usageErr("", "--format %q: want text or json", o.format)
	}
	if o.count < 1 || o.count > 100000 {
		return usageErr("", "--count must be from 1 to 100000")
	}
	ths, err := probeThresholds(o.thresholds)
	if err != nil {
		return err
	}
	po := probe.Options{Count: o.count, Interval: o.interval, Timeout: o.timeout, Insecure: o.insecure, Method: strings.ToUpper(o.method)}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return usageErr("", "--ca: %v", cleanPathErr(err))
		}
		po.RootCAs = x509.NewCertPool()
		if !po.RootCAs.AppendCertsFromPEM(pem) {
			return usageErr("", "--ca %s holds no PEM certificate", o.ca)
		}
	}
	env.learnURL(target)
	if strings.HasSuffix(target, ".yaml") || strings.HasSuffix(target, ".yml") {
		stop, err := aimAtScenario(ctx, env, &po, target, o)
		if err != nil {
			return err
		}
		defer stop()
	} else if err := aimAtURL(env, &po, target, o); err != nil {
		return err
	}
	if o.format == "text" {
		fmt.Fprintf(env.Stdout, "probing %s: %d tries, each on a new connection\n", po.URL, o.count)
		po.OnTry = func(t probe.Try) { writeTry(env.Stdout, t) }
	}
	tries := probe.Run(ctx, po)
	sum := probe.Summarize(po.URL, tries)
	results, pass := evalProbe(sum, ths)
	if o.format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		verdict := "pass"
		if !pass {
			verdict = "fail"
		}
		if err := enc.Encode(map[string]any{"summary": sum, "tries": tries, "thresholds": results, "verdict": verdict}); err != nil {
			return withCode(ExitRunFail, err, "")
		}
	} else {
		writeProbeSummary(env.Stdout, sum, results, pass)
	}
	if ctx.Err() != nil {
		return verdictErr{ExitRunFail}
	}
	if !pass {
		return verdictErr{ExitFail}
	}
	return nil
}

// probeThresholds parses the --threshold flags, error_rate == 0 when there
// are none, and refuses what is not a probe metric.
func probeThresholds(srcs []string) ([]threshold.Expr, error) {
	if len(srcs) == 0 {
		srcs = []string{"error_rate == 0"}
	}
	var ths []threshold.Expr
	for _, src := range srcs {
		e, err := threshold.Parse(src)
		if err != nil {
			return nil, usageErr("", "--threshold: %v", err)
		}
		if !e.Metric.InProbe() || e.Windowed() || len(e.Labels) > 0 {
			return nil, usageErr("probe metrics: dns_, connect_, tls_, ttfb_, total_ + min/p50/p95/max, and error_rate, timeout_rate, dns_error_rate, connect_error_rate, tls_error_rate",
				"--threshold %q: %s is not a probe metric", src, e.Metric.Name)
		}
		ths = append(ths, e)
	}
	return ths, nil
}

// aimAtScenario points po at the target of the scenario file path, with
// the path and headers of its first GET request that needs no data; the
// embedded fixture API is started for it, and stop closes it.
func aimAtScenario(ctx context.Context, env *Env, po *probe.Options, path string, o *probeOptions) (stop func(), err error) {
	sc, err := scenario.Load(path, env.LookupEnv)
	if err != nil {
		return nil, withCode(ExitUsage, cleanPathErr(err), "")
	}
	env.learn(sc)
	stop = func() {}
	base := sc.Target.BaseURL
	if base == scenario.Embedded {
		srv, err := fixtures.Start("127.0.0.1:0", run.FixtureOptions(sc.Fixture))
		if err != nil {
			return nil, withCode(ExitRunFail, err, "")
		}
		stop = func() { srv.Close() }
		base = srv.URL
	}
	po.URL, po.Header = strings.TrimRight(base, "/")+"/", http.Header{}
	for _, r := range sc.Requests {
		if r.Method == http.MethodGet && !r.PathT.UsesRow && len(r.PathT.Takes)+len(r.PathT.Picks) == 0 {
			po.URL = strings.TrimRight(base, "/") + string(r.PathT.Render(&template.Context{Now: time.Now()}, nil))
			for k, v := range r.Headers {
				po.Header.Set(k, v)
			}
			break
		}
	}
	po.Insecure = po.Insecure || sc.HTTP.InsecureTLS
	if sc.Target.BaseURL != scenario.Embedded {
		probed := *sc
		probed.Requests = []scenario.Request{{Name: "probe", Method: po.Method}}
		if _, err := guard(env, []*scenario.Scenario{&probed}, o.allowProd, o.allowWrite); err != nil {
			stop()
			return nil, err
		}
	}
	// The scenario's auth: a try the target refuses for want of a token
	// says nothing about connectivity.
	a, client := run.ScenarioAuth(sc, base)
	name, value, err := attack.HeaderFor(ctx, a, client, env.Secrets.AddSecret)
	if err != nil {
		stop()
		return nil, withCode(ExitRunFail, fmt.Errorf("probe: %w", err), "the probe uses the scenario's auth; check auth: in "+sc.File)
	}
	if name != "" {
		po.Header.Set(name, value)
	}
	return stop, nil
}

// aimAtURL points po at the URL target once it is known to be one and the
// production guard lets it through.
func aimAtURL(env *Env, po *probe.Options, target string, o *probeOptions) error {
	if err := scenario.CheckBaseURL(strings.SplitN(target, "?", 2)[0]); err != nil && !strings.Contains(err.Error(), "query") {
		if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
			return usageErr("probe takes an http:// or https:// URL, or a scenario file (.yaml)", "%q is not a URL or a scenario file", target)
		}
	}
	po.URL = target
	probed := &scenario.Scenario{File: "probe", Target: scenario.Target{BaseURL: target}, Requests: []scenario.Request{{Name: "probe", Method: po.Method}}}
	if _, err := guard(env, []*scenario.Scenario{probed}, o.allowProd, o.allowWrite); err != nil {
		return err
	}
	return nil
}

type probeThreshold struct {
	Expr   string  `json:"expr"`
	Actual float64 `json:"actual"`
	Text   string  `json:"actual_text"`
	Pass   bool    `json:"pass"`
}

func evalProbe(s probe.Summary, ths []threshold.Expr) ([]probeThreshold, bool) {
	pass := true
	var out []probeThreshold
	for _, e := range ths {
		v, _ := s.Metric(e.Metric.Name)
		ok := e.Holds(v)
		pass = pass && ok
		text := e.Format(v)
		if v != v { // NaN cannot be written in JSON
			v = -1
		}
		out = append(out, probeThreshold{Expr: e.Source, Actual: v, Text: text, Pass: ok})
	}
	return out, pass
}

func msText(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return threshold.FormatValue(threshold.Duration, float64(d)/1e6)
}

func writeTry(w io.Writer, t probe.Try) {
	if t.Failure != "" {
		fmt.Fprintf(w, "%3d  %-10s dns %-8s connect %-8s tls %-8s  %s\n", t.N, "FAILED", msText(t.DNS), msText(t.Connect), msText(t.TLS), t.Error)
		return
	}
	fmt.Fprintf(w, "%3d  %-10s dns %-8s connect %-8s tls %-8s ttfb %-8s total %-8s %s\n",
		t.N, fmt.Sprint("status ", t.Status), msText(t.DNS), msText(t.Connect), msText(t.TLS), msText(t.TTFB), msText(t.Total), t.Remote)
}

func writeProbeSummary(w io.Writer, s probe.Summary, ths []probeThreshold, pass bool) {
	fmt.Fprintf(w, "\n%d of %d tries succeeded\n\n", s.Successes, s.Tries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ttries\tmin\tp50\tp95\tmax\t")
	for _, name := range []string{"dns", "connect", "tls", "ttfb", "total"} {
		p, ok := s.Phases[name]
		if !ok {
			continue
		}
		f := func(v float64) string { return threshold.FormatValue(threshold.Duration, v) }
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, p.N, f(p.Min), f(p.P50), f(p.P95), f(p.Max))
	}
	tw.Flush()
	pct := func(v float64) string { return threshold.FormatValue(threshold.Ratio, v) }
	fmt.Fprintf(w, "\nerrors    timeout %s, dns %s, connect %s, tls %s\n", pct(s.TimeoutRate), pct(s.DNSErrorRate), pct(s.ConnectErrorRate), pct(s.TLSErrorRate))
	for msg, n := range s.Errors {
		fmt.Fprintf(w, "          %d× %s\n", n, msg)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "threshold\tactual\tresult\t")
	for _, t := range ths {
		res := "pass"
		if !t.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", t.Expr, t.Text, res)
	}
	tw.Flush()
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\nverdict   %s\n", verdict)
}
