package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/buildinfo"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/threshold"
	"github.com/loadgate/loadgate/report"
)

// Files of a run folder.
const (
	fileReport  = "report.json"
	fileSummary = "summary.txt"
	fileRaw     = "results.gob"
)

// runOne runs one scenario into dir. It returns the report whenever one
// could be built, with an error when the run failed part way.
func runOne(ctx context.Context, env *Env, sc *scenario.Scenario, dir string) (*report.Report, error) {
	base := sc.Target.BaseURL
	if base == scenario.Embedded {
		srv, err := fixtures.Start("127.0.0.1:0", fixtureOptions(sc.Fixture))
		if err != nil {
			return nil, fmt.Errorf("start the embedded fixture API: %w", err)
		}
		defer srv.Close()
		base = srv.URL
	}
	plan := buildPlan(sc, base)

	rawFile, err := os.Create(filepath.Join(dir, fileRaw))
	if err != nil {
		return nil, fmt.Errorf("create raw results file: %w", err)
	}
	raw := bufio.NewWriterSize(rawFile, 256<<10)
	rec := newRecorder(sc, plan, vegeta.NewEncoder(raw))

	fmt.Fprintf(env.Stderr, "loadgate: running %s (%s) against %s for %s -> %s\n",
		sc.Name, sc.File, displayTarget(sc, base), sc.TotalDuration(), dir)
	runErr := attack.Run(ctx, plan, rec)
	if errors.Is(runErr, context.Canceled) {
		runErr = nil // an interrupt: the report says so
	}
	if err := raw.Flush(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write raw results: %w", err)
	}
	if err := rawFile.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("write raw results: %w", err)
	}

	info := report.ScenarioInfo{
		Name: sc.Name, Description: sc.Description, File: sc.File,
		Target: displayTarget(sc, base), Environment: sc.Target.Environment,
	}
	exprs := make([]threshold.Expr, len(sc.Thresholds))
	for i, t := range sc.Thresholds {
		exprs[i] = t.Expr
	}
	rep := report.Build(rec.col, info, runMeta(), exprs)
	if runErr != nil && rep.Verdict == report.Pass {
		rep.Verdict = report.Fail
	}
	if err := writeRunFiles(env, dir, rep); err != nil {
		return rep, errors.Join(runErr, err)
	}
	return rep, runErr
}

func displayTarget(sc *scenario.Scenario, base string) string {
	if sc.Target.BaseURL == scenario.Embedded {
		return "embedded fixture API at " + base
	}
	return base
}

func runMeta() report.Meta {
	host, _ := os.Hostname() // an unknown host name is left empty
	return report.Meta{
		LoadgateVersion: buildinfo.Version, GoVersion: buildinfo.GoVersion(), Host: host,
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}
}

func writeRunFiles(env *Env, dir string, rep *report.Report) error {
	if err := writeJSONFile(filepath.Join(dir, fileReport), rep); err != nil {
		return fmt.Errorf("write %s: %w", fileReport, err)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, b.String())
	fmt.Fprintf(env.Stdout, "report    %s\n", filepath.Join(dir, fileReport))
	if err := os.WriteFile(filepath.Join(dir, fileSummary), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", fileSummary, err)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// buildPlan turns a scenario into requests and stages ready to send.
func buildPlan(sc *scenario.Scenario, base string) *attack.Plan {
	base = strings.TrimRight(base, "/")
	p := &attack.Plan{
		Client: attack.NewHTTPClient(attack.Client{
			Timeout: sc.HTTP.Timeout.D(), KeepAlive: *sc.HTTP.KeepAlive, HTTP2: sc.HTTP.HTTP2,
			MaxConnections: sc.HTTP.MaxConnections, InsecureTLS: sc.HTTP.InsecureTLS,
		}),
	}
	ua := sc.HTTP.UserAgent
	if ua == "" {
		ua = buildinfo.UserAgent()
	}
	for _, r := range sc.Requests {
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		if _, set := h["User-Agent"]; !set {
			h.Set("User-Agent", ua)
		}
		if r.Body.JSON && h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		w := 1
		if r.Weight != nil {
			w = *r.Weight
		}
		var body []byte
		if r.Body.Text != "" {
			body = []byte(r.Body.Text)
		}
		p.Requests = append(p.Requests, attack.Request{
			Name: r.Name, Method: r.Method, URL: base + r.Path, Header: h, Body: body, Weight: w,
		})
	}
	for _, st := range sc.Stages {
		as := attack.Stage{Name: st.Name, Duration: st.Duration.D(), Concurrency: st.Concurrency}
		if st.Open() {
			as.Open, as.Rate, as.RampTo = true, st.Rate.PerSecond, st.Rate.PerSecond
			if st.RampTo != nil {
				as.RampTo = st.RampTo.PerSecond
			}
		}
		p.Stages = append(p.Stages, as)
	}
	return p
}

func fixtureOptions(f scenario.Fixture) fixtures.Options {
	o := fixtures.Options{
		ClientID: f.ClientID, ClientSecret: f.ClientSecret, TokenTTL: f.TokenTTL.D(),
		APIKeys: f.APIKeys, AdminToken: f.AdminToken, SeedCustomers: f.SeedCustomers, Seed: f.Seed,
		RateLimit: fixtures.RateLimit{PerSecond: f.RateLimit.PerSecond, PerHour: f.RateLimit.PerHour, Cooldown: f.RateLimit.Cooldown.D()},
		Faults: fixtures.Faults{
			Latency: fixtures.Latency{
				Distribution: f.Latency.Distribution, Fixed: f.Latency.Fixed.D(), Min: f.Latency.Min.D(),
				Max: f.Latency.Max.D(), Mean: f.Latency.Mean.D(), StdDev: f.Latency.StdDev.D(),
				Median: f.Latency.Median.D(), Sigma: f.Latency.Sigma,
			},
			Error500Rate: f.Error500Rate, Error503Rate: f.Error503Rate, DropRate: f.DropRate,
			CorruptRate: f.CorruptRate, SlowBody: f.SlowBody.D(), StallEvery: f.StallEvery.D(),
			StallFor: f.StallFor.D(), FaultNode: f.FaultNode, FaultNodeShare: f.FaultNodeShare,
		},
	}
	if f.NoUADelay != nil {
		o.NoUADelay = f.NoUADelay.D()
		if o.NoUADelay == 0 {
			o.NoUADelay = -1
		}
	}
	return o
}

// recorder is the run's attack.Handler: it classifies each result, adds
// it to the figures and streams it to the raw results file.
type recorder struct {
	col    *report.Collector
	enc    vegeta.Encoder
	expect [][]bool // per request: acceptable status codes; nil means 2xx and 3xx
	out    report.Outcome
}

func newRecorder(sc *scenario.Scenario, p *attack.Plan, enc vegeta.Encoder) *recorder {
	names := make([]string, len(sc.Requests))
	methods := make([]string, len(sc.Requests))
	paths := make([]string, len(sc.Requests))
	rec := &recorder{enc: enc, expect: make([][]bool, len(sc.Requests))}
	for i, r := range sc.Requests {
		names[i], methods[i], paths[i] = r.Name, r.Method, r.Path
		if len(r.Expect.Status) > 0 {
			ok := make([]bool, 600)
			for _, c := range r.Expect.Status {
				ok[c] = true
			}
			rec.expect[i] = ok
		}
	}
	stages := make([]report.StageInfo, len(p.Stages))
	for i, st := range p.Stages {
		stages[i] = report.StageInfo{
			Name: st.Name, Open: st.Open, Rate: st.Rate, RampTo: st.RampTo,
			Concurrency: st.Concurrency, Planned: st.Duration, PlannedHits: st.Planned(),
		}
	}
	rec.col = report.NewCollector(names, methods, paths, stages)
	return rec
}

func (r *recorder) StageStart(i int, _ attack.Stage, at time.Time) { r.col.StageStarted(i, at) }

func (r *recorder) StageEnd(i int, at time.Time, interrupted bool) {
	r.col.StageEnded(i, at, interrupted)
}

func (r *recorder) Result(stage, req int, res *vegeta.Result) error {
	o := &r.out
	o.Code, o.Timestamp, o.Latency, o.BytesOut = int(res.Code), res.Timestamp, res.Latency, res.BytesOut
	o.BytesIn = res.BytesIn
	if o.BytesIn == 0 && res.Headers != nil {
		if cl := res.Headers.Get("Content-Length"); cl != "" {
			o.BytesIn, _ = strconv.ParseUint(cl, 10, 64) // a bad header counts as 0 bytes
			res.BytesIn = o.BytesIn
		}
	}
	switch {
	case o.Code == 0:
		o.OK, o.Err = false, report.ClassifyError(res.Error)
	case r.expect[req] != nil:
		o.OK = o.Code < len(r.expect[req]) && r.expect[req][o.Code]
	default:
		o.OK = o.Code >= 200 && o.Code < 400
	}
	r.col.Record(stage, req, o)
	res.Headers = nil // response headers are not kept in the raw results
	return r.enc(res)
}
