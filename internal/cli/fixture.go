package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/fixtures"
	"github.com/loadgate/loadgate/internal/scenario"
)

type fixtureFlags struct {
	addr                           string
	clientID, clientSecret         string
	tokenTTL, refreshTTL           time.Duration
	perDay                         int
	noUABlock                      float64
	apiKeys                        []string
	latency                        string
	e500, e503, drop, corrupt      float64
	slowBody, stallEvery, stallFor time.Duration
	faultNode                      string
	faultNodeShare                 float64
	perSecond, perHour             int
	cooldown                       time.Duration
	noUADelay                      time.Duration
	seedCustomers                  int
	seed                           uint64
	service                        fixtures.Service
}

func (f *fixtureFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&f.clientID, "client-id", fixtures.DefaultClientID, "OAuth2 client id accepted by /oauth/token")
	fs.StringVar(&f.clientSecret, "client-secret", fixtures.DefaultClientSecret, "OAuth2 client secret (or set LOADGATE_FIXTURE_CLIENT_SECRET)")
	fs.DurationVar(&f.tokenTTL, "token-ttl", fixtures.DefaultTokenTTL, "lifetime of access tokens")
	fs.DurationVar(&f.refreshTTL, "refresh-token-ttl", fixtures.DefaultRefreshTTL, "lifetime of refresh tokens")
	fs.StringSliceVar(&f.apiKeys, "api-key", []string{fixtures.DemoAPIKey}, "static bearer keys accepted on /v1 (repeat or comma-separate)")
	fs.StringVar(&f.latency, "latency", "", "added latency: fixed:50ms, uniform:10ms-90ms, normal:50ms~10ms or lognormal:40ms~0.5")
	fs.Float64Var(&f.e500, "error-500-rate", 0, "fraction of /v1 requests answered 500 (error_code 500301)")
	fs.Float64Var(&f.e503, "error-503-rate", 0, "fraction of /v1 requests answered 503")
	fs.Float64Var(&f.drop, "drop-rate", 0, "fraction of /v1 connections closed without a response")
	fs.Float64Var(&f.corrupt, "corrupt-rate", 0, "fraction of /v1 successes with a wrong field in the body")
	fs.DurationVar(&f.slowBody, "slow-body", 0, "send each response body in pieces over this long")
	fs.DurationVar(&f.stallEvery, "stall-every", 0, "pause all responses every this long (with --stall-for)")
	fs.DurationVar(&f.stallFor, "stall-for", 0, "length of each pause")
	fs.StringVar(&f.faultNode, "fault-node", "", "concentrate the 500s on this node (db-01 to db-04)")
	fs.Float64Var(&f.faultNodeShare, "fault-node-share", 0.98, "share of the 500s that --fault-node receives")
	fs.IntVar(&f.perSecond, "rate-limit-per-second", 0, "per-token limit per second (0: off); over it, 429 with Retry-After")
	fs.IntVar(&f.perHour, "rate-limit-per-hour", 0, "per-token limit per hour (0: off)")
	fs.IntVar(&f.perDay, "daily-cap", 0, "per-token requests per UTC day (a CRM's is commonly 50000; 0: off); over it 429 (429002)")
	fs.DurationVar(&f.cooldown, "rate-limit-cooldown", 0, "block a token that went over the limit for this long")
	fs.DurationVar(&f.noUADelay, "no-user-agent-delay", fixtures.DefaultNoUADelay, "delay of requests without a User-Agent (0: none)")
	fs.Float64Var(&f.noUABlock, "no-user-agent-block-rate", 0, "share of requests without a User-Agent blocked with 403 (403002)")
	fs.IntVar(&f.seedCustomers, "seed-customers", fixtures.DefaultSeedCustomer, "customers present at start")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the random choices, for repeatable faults (0: random)")
	fs.IntVar(&f.service.Workers, "workers", 0, "service model: workers, each serving one /v1 request for its latency (0: the model is off)")
	fs.IntVar(&f.service.Queue, "queue", 0, "service model: requests waiting for a worker at most; beyond it 503 (0: 8 a worker, -1: none)")
	fs.IntVar(&f.service.DBPool, "db-pool", 0, "service model: database connections data routes hold (0: no pool)")
	fs.DurationVar(&f.service.DBTimeout, "db-timeout", fixtures.DefaultDBTimeout, "service model: wait for a database connection before 500 (500301)")
	fs.DurationVar(&f.service.StaleAfter, "stale-after", 0, "service model: past this queue wait, lists come from a stale cache (0: off)")
	fs.DurationVar(&f.service.ShedAfter, "shed-after", 0, "service model: past this queue wait, an automatic limit sheds load with 429 (0: off)")
	fs.IntVar(&f.service.ShedRate, "shed-rate", fixtures.DefaultShedRate, "service model: the automatic limit, requests per second")
}

// parseLatency reads the --latency flag.
func parseLatency(s string) (fixtures.Latency, error) {
	if s == "" {
		return fixtures.Latency{}, nil
	}
	kind, args, _ := strings.Cut(s, ":")
	var l fixtures.Latency
	two := func(sep string) (string, string, error) {
		a, b, ok := strings.Cut(args, sep)
		if !ok {
			return "", "", fmt.Errorf("--latency %s wants two values separated by %q", kind, sep)
		}
		return a, b, nil
	}
	var err error
	switch kind {
	case "fixed":
		l.Fixed, err = scenario.ParseDuration(args)
	case "uniform":
		a, b, e := two("-")
		if e != nil {
			return l, e
		}
		if l.Min, err = scenario.ParseDuration(a); err == nil {
			l.Max, err = scenario.ParseDuration(b)
		}
	case "normal":
		a, b, e := two("~")
		if e != nil {
			return l, e
		}
		if l.Mean, err = scenario.ParseDuration(a); err == nil {
			l.StdDev, err = scenario.ParseDuration(b)
		}
	case "lognormal":
		a, b, e := two("~")
		if e != nil {
			return l, e
		}
		if l.Median, err = scenario.ParseDuration(a); err == nil {
			l.Sigma, err = strconv.ParseFloat(b, 64)
		}
	default:
		return l, fmt.Errorf("--latency %q: want fixed:D, uniform:D-D, normal:MEAN~STDDEV or lognormal:MEDIAN~SIGMA", s)
	}
	l.Distribution = kind
	if err != nil {
		return l, fmt.Errorf("--latency %q: %v", s, err)
	}
	return l, nil
}

func fixtureCommand() *command {
	c := &command{
		name:    "fixture",
		summary: "Serve the built-in CRM-like fixture API",
		usage:   "loadgate fixture [--addr 127.0.0.1:8080] [--client-id ID] [--client-secret S] [--token-ttl D] [fault flags]",
		details: `Serves the fixture API that 'target: {base_url: embedded}' starts inside a
run: OAuth2 tokens (POST /oauth/token), customers and orders under /v1 with
a CRM's field rules and error codes, rate limits and fault knobs. The
admin API (/admin/faults, /admin/reset, /admin/stats) changes faults while
it runs; it is on only when LOADGATE_ADMIN_TOKEN is set, and needs that
token in X-Admin-Token. Stop it with Ctrl-C.

Examples:
  loadgate fixture
  loadgate fixture --addr 127.0.0.1:9000 --latency normal:50ms~10ms --error-500-rate 0.01
  loadgate fixture --error-500-rate 0.05 --fault-node db-03
  LOADGATE_ADMIN_TOKEN=s3cret loadgate fixture --rate-limit-per-second 10
  loadgate fixture --workers 8 --latency fixed:50ms --queue 64   # a service of 160 requests/s`,
	}
	var f fixtureFlags
	c.flags = f.register
	c.run = func(ctx context.Context, env *Env, args []string) error {
		f = fixtureFlags{}
		fs := newFlagSet(c)
		f.register(fs)
		if err := parseFlags(c, fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usageErr("", "fixture takes no arguments, got %q", fs.Args())
		}
		opts, err := f.options(env, fs)
		if err != nil {
			return err
		}
		srv, err := fixtures.Start(f.addr, opts)
		if err != nil {
			return usageErr("check --addr and the fault flags", "%v", err)
		}
		fmt.Fprintf(env.Stderr, "loadgate: fixture API listening on %s (client id %s; admin API %s; metrics at /metrics); Ctrl-C stops it\n",
			srv.URL, f.clientID, map[bool]string{true: "on", false: "off"}[opts.AdminToken != ""])
		fmt.Fprintf(env.Stderr, "loadgate: %s\n", srv.API.Options().Service)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
		if n, last := srv.API.ServerErrors(); n > 0 {
			fmt.Fprintf(env.Stderr, "loadgate: the fixture's HTTP server logged %d errors; the last: %s\n", n, last)
		}
		return err
	}
	return c
}

// options turns the flags (and the environment's secrets) into the
// fixture's options.
func (f *fixtureFlags) options(env *Env, fs *pflag.FlagSet) (fixtures.Options, error) {
	lat, err := parseLatency(f.latency)
	if err != nil {
		return fixtures.Options{}, usageErr("", "%v", err)
	}
	secret := f.clientSecret
	if v, ok := env.LookupEnv("LOADGATE_FIXTURE_CLIENT_SECRET"); ok && !fs.Changed("client-secret") {
		secret = v
	}
	admin, _ := env.LookupEnv("LOADGATE_ADMIN_TOKEN")
	opts := fixtures.Options{
		ClientID: f.clientID, ClientSecret: secret, TokenTTL: f.tokenTTL, RefreshTTL: f.refreshTTL, APIKeys: f.apiKeys,
		NoUABlockRate: f.noUABlock, AdminToken: admin, NoUADelay: f.noUADelay, SeedCustomers: f.seedCustomers, Seed: f.seed,
		RateLimit: fixtures.RateLimit{PerSecond: f.perSecond, PerHour: f.perHour, PerDay: f.perDay, Cooldown: f.cooldown},
		Faults: fixtures.Faults{
			Latency: lat, Error500Rate: f.e500, Error503Rate: f.e503, DropRate: f.drop, CorruptRate: f.corrupt,
			SlowBody: f.slowBody, StallEvery: f.stallEvery, StallFor: f.stallFor,
			FaultNode: f.faultNode, FaultNodeShare: f.faultNodeShare,
		},
		Service: f.service,
	}
	if !fs.Changed("db-timeout") && f.service.DBPool == 0 {
		opts.Service.DBTimeout = 0
	}
	if !fs.Changed("shed-rate") && f.service.ShedAfter == 0 {
		opts.Service.ShedRate = 0
	}
	if f.noUADelay == 0 {
		opts.NoUADelay = -1
	}
	if f.seedCustomers == 0 {
		opts.SeedCustomers = -1
	}
	return opts, nil
}
