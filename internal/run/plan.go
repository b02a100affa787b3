package run

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/buildinfo"
	"github.com/loadgate/loadgate/internal/check"
	"github.com/loadgate/loadgate/internal/redact"
	"github.com/loadgate/loadgate/internal/scenario"
	"github.com/loadgate/loadgate/internal/template"
)

// prepared is a scenario made ready to run against a base URL.
type prepared struct {
	sc       *scenario.Scenario
	plan     *attack.Plan
	checkers []*check.Checker
	redactor *redact.Redactor
}

// maxCodeBody is how much of a body is kept when only its business error
// code is read from it.
const maxCodeBody = 16 << 10

// httpClient builds a run's HTTP client from the scenario's settings;
// redirect sends connections for an address to another (a fault proxy).
func httpClient(sc *scenario.Scenario, redirect map[string]string) *attack.HTTPClient {
	return attack.NewHTTPClient(attack.Client{
		Timeout: sc.HTTP.Timeout.D(), KeepAlive: *sc.HTTP.KeepAlive, HTTP2: sc.HTTP.HTTP2,
		MaxConnections: sc.HTTP.MaxConnections, InsecureTLS: sc.HTTP.InsecureTLS,
		MaxHeaderBytes: sc.MaxHeaderBytes(), Redirect: redirect,
	})
}

// prepare builds the plan, checkers and redactor of a scenario, for this
// process's part of the run.
func prepare(env *Env, sc *scenario.Scenario, base string, sh Sharding) *prepared {
	base = strings.TrimRight(base, "/")
	red := runRedactor(env, sc)
	p := &attack.Plan{
		Client:      httpClient(sc, nil),
		RequestID:   true,
		Secret:      red.AddSecret,
		GroupBy:     sc.GroupErrorsBy.Header,
		GroupByJSON: sc.GroupErrorsBy.JSON,
		Shard:       sh.Index,
		Shards:      sh.Count,
	}
	_, _ = rand.Read(p.RunID[:]) // crypto/rand.Read never fails on supported platforms
	if pools := sc.Pools(); len(pools) > 0 {
		p.Pools = template.NewPools(pools, 0)
	}
	ua := sc.HTTP.UserAgent
	if ua == "" {
		ua = buildinfo.UserAgent()
	}
	out := &prepared{sc: sc, plan: p, redactor: red}
	needBodies := sc.GroupErrorsBy.JSON != ""
	for i := range sc.Requests {
		r := &sc.Requests[i]
		ck := check.New(sc, r)
		ck.Hide(red.SensitiveField)
		out.checkers = append(out.checkers, ck)
		needBodies = needBodies || len(ck.Names()) > 0 || len(r.Capture) > 0
		p.Requests = append(p.Requests, attackRequest(sc, i, base, ua, red, ck.NeedsSent, sh))
	}
	p.MaxBody = 0
	switch {
	case needBodies:
		p.MaxBody = sc.MaxBodyBytes()
	case sc.CodePath() != "":
		// Error codes only: they sit at the top of an error's body, and
		// a target's endless answers then cost little memory.
		p.MaxBody = min(sc.MaxBodyBytes(), maxCodeBody)
	}
	p.Auth, p.TokenClient = ScenarioAuth(sc, base)
	p.Stages = planStages(sc, sh)
	return out
}

// runRedactor returns the run's redactor: it knows the scenario's fields
// and secrets, and the secrets it learns (OAuth2 tokens) reach what the
// command prints, too.
func runRedactor(env *Env, sc *scenario.Scenario) *redact.Redactor {
	parent := env.Secrets
	if parent == nil {
		parent = redact.New(nil)
	}
	red := parent.Child(sc.Redact)
	for _, v := range sc.Secrets() {
		red.AddSecret(v)
	}
	return red
}

// attackRequest turns request i of the scenario into the attacker's form:
// what is static rendered once, the rest kept as templates.
func attackRequest(sc *scenario.Scenario, i int, base, ua string, red *redact.Redactor, keepSent bool, sh Sharding) attack.Request {
	r := &sc.Requests[i]
	w := 1
	if r.Weight != nil {
		w = *r.Weight
	}
	ar := attack.Request{Name: r.Name, Method: r.Method, Weight: w, Header: http.Header{}, KeepSent: keepSent}
	if r.PathT.Static() {
		ar.URL = base + string(r.PathT.Render(&template.Context{}, nil))
	} else {
		ar.Base, ar.PathT = base, r.PathT
	}
	setHeaders(&ar, r, ua, red)
	if r.BodyT.Static() {
		if r.Body.Text != "" {
			ar.Body = []byte(r.Body.Text)
		}
	} else {
		ar.BodyT = r.BodyT
	}
	if r.Data != "" {
		ar.Feeder = sc.Data[r.Data].Feeder
		ar.Feeder.Shard(sh.Index, sh.Count)
	}
	ar.Retry = retryPolicy(sc.RetryFor(i))
	if ar.Redirects = sc.RedirectsFor(i); ar.Redirects == 0 {
		ar.Redirects = attack.NoRedirects
	}
	return ar
}

// setHeaders gives ar the headers of r, static ones rendered, with a
// User-Agent of ua and a JSON Content-Type unless r sets them.
func setHeaders(ar *attack.Request, r *scenario.Request, ua string, red *redact.Redactor) {
	for k, t := range r.HeadersT {
		if t.Static() {
			ar.Header.Set(k, string(t.Render(&template.Context{}, nil)))
			continue
		}
		if ar.HeaderT == nil {
			ar.HeaderT = map[string]*template.Template{}
		}
		ar.HeaderT[http.CanonicalHeaderKey(k)] = t
		if red.SensitiveHeader(k) {
			// Rendered per request, so not known before: each
			// request's value is masked in what is written about it.
			if ar.Hide == nil {
				ar.Hide = map[string]bool{}
			}
			ar.Hide[http.CanonicalHeaderKey(k)] = true
		}
	}
	if _, set := ar.Header["User-Agent"]; !set && ar.HeaderT["User-Agent"] == nil {
		ar.Header.Set("User-Agent", ua)
	}
	if r.Body.JSON && ar.Header.Get("Content-Type") == "" && ar.HeaderT["Content-Type"] == nil {
		ar.Header.Set("Content-Type", "application/json")
	}
}

// planStages returns the scenario's stages as this shard runs them.
func planStages(sc *scenario.Scenario, sh Sharding) []attack.Stage {
	var stages []attack.Stage
	for _, st := range sc.Stages {
		as := attack.Stage{Name: st.Name, Duration: st.Duration.D(), Shard: sh.Index, Shards: sh.Count, MaxWorkers: st.MaxWorkers}
		// A part's workers: the whole split as evenly as whole numbers go.
		as.Concurrency = st.Concurrency / sh.Count
		if sh.Index < st.Concurrency%sh.Count {
			as.Concurrency++
		}
		if st.Open() {
			as.Open, as.Rate, as.RampTo = true, st.Rate.PerSecond, st.Rate.PerSecond
			if st.RampTo != nil {
				as.RampTo = st.RampTo.PerSecond
			}
		}
		stages = append(stages, as)
	}
	return stages
}

func retryPolicy(r *scenario.Retry) *attack.RetryPolicy {
	if r == nil || r.On429 == nil && r.On5xx == nil && r.OnNetwork == nil {
		return nil
	}
	rule := func(x *scenario.RetryRule) *attack.RetryRule {
		if x == nil || x.Max == 0 {
			return nil
		}
		out := &attack.RetryRule{
			Max: x.Max, Delay: x.Delay.D(), Exponential: x.Backoff != "fixed", Cap: x.Cap.D(),
			RetryAfter: x.RetryAfter == nil || *x.RetryAfter,
		}
		if out.Delay == 0 {
			out.Delay = time.Second
		}
		if out.Cap == 0 {
			out.Cap = 30 * time.Second
		}
		return out
	}
	return &attack.RetryPolicy{On429: rule(r.On429), On5xx: rule(r.On5xx), OnNetwork: rule(r.OnNetwork)}
}

func FixtureOptions(f scenario.Fixture) fixtures.Options {
	o := fixtures.Options{
		ClientID: f.ClientID, ClientSecret: f.ClientSecret, TokenTTL: f.TokenTTL.D(), RefreshTTL: f.RefreshTTL.D(),
		NoUABlockRate: f.NoUABlockRate,
		APIKeys:       f.APIKeys, AdminToken: f.AdminToken, SeedCustomers: f.SeedCustomers, Seed: f.Seed,
		RateLimit: fixtures.RateLimit{PerSecond: f.RateLimit.PerSecond, PerHour: f.RateLimit.PerHour, PerDay: f.RateLimit.PerDay, Cooldown: f.RateLimit.Cooldown.D()},
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
		Service: fixtures.Service{
			Workers: f.Workers, Queue: f.Queue, DBPool: f.DBPool, DBTimeout: f.DBTimeout.D(),
			StaleAfter: f.StaleAfter.D(), ShedAfter: f.ShedAfter.D(), ShedRate: f.ShedRate,
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

// ScenarioAuth is the scenario's auth against base, and for OAuth2 the
// client its token requests go through.
func ScenarioAuth(sc *scenario.Scenario, base string) (attack.Auth, *http.Client) {
	switch a := sc.Auth; a.Type {
	case scenario.AuthOAuth2:
		tokenURL := a.TokenURL
		if strings.HasPrefix(tokenURL, "/") {
			tokenURL = strings.TrimRight(base, "/") + tokenURL
		}
		client := attack.NewHTTPClient(attack.Client{Timeout: sc.HTTP.Timeout.D(), KeepAlive: true, InsecureTLS: sc.HTTP.InsecureTLS}).Client
		return attack.Auth{Kind: "oauth2", TokenURL: tokenURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret, Scopes: a.Scopes}, client
	case scenario.AuthBearer, scenario.AuthAPIKey:
		return attack.Auth{Kind: a.Type, Token: a.Token, Header: a.Header}, nil
	}
	return attack.Auth{}, nil
}
