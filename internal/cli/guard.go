package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loadgate/loadgate/internal/attack"
	"github.com/loadgate/loadgate/internal/scenario"
)

// userConfig is ~/.config/loadgate/config.yaml.
type userConfig struct {
	// ProductionHosts are treated as production whatever a scenario's
	// environment says: host names, or patterns such as *.prod.example.com.
	ProductionHosts []string `yaml:"production_hosts"`
}

// configPath returns the user config file's path: LOADGATE_CONFIG, or
// config.yaml under $XDG_CONFIG_HOME/loadgate or ~/.config/loadgate.
func configPath(env *Env) string {
	if p, ok := env.LookupEnv("LOADGATE_CONFIG"); ok && p != "" {
		return p
	}
	if x, ok := env.LookupEnv("XDG_CONFIG_HOME"); ok && x != "" {
		return filepath.Join(x, "loadgate", "config.yaml")
	}
	if h, ok := env.LookupEnv("HOME"); ok && h != "" {
		return filepath.Join(h, ".config", "loadgate", "config.yaml")
	}
	return ""
}

// productionHosts reads the hosts that are production from the user
// config file and LOADGATE_PRODUCTION_HOSTS. A config file that
// LOADGATE_CONFIG names must be there: a guard whose list cannot be read
// would let production through.
func productionHosts(env *Env) (*prodHosts, error) {
	var hosts []string
	if v, ok := env.LookupEnv("LOADGATE_PRODUCTION_HOSTS"); ok {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
	}
	p := configPath(env)
	if p == "" {
		return newProdHosts(hosts), nil
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		if named, ok := env.LookupEnv("LOADGATE_CONFIG"); !ok || named == "" {
			return newProdHosts(hosts), nil
		}
	}
	if err != nil {
		return nil, usageErr("LOADGATE_CONFIG names the user config, which lists production hosts: it must be readable",
			"%v", cleanPathErr(err))
	}
	var c userConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := strings.TrimPrefix(te.Errors[0], "line ")
			line, rest, _ := strings.Cut(msg, ": ")
			return nil, usageErr("the user config holds production_hosts: [host, *.domain]", "%s:%s: %s", p, line, rest)
		}
		return nil, usageErr("the user config holds production_hosts: [host, *.domain]", "%s: %v", p, err)
	}
	return newProdHosts(append(hosts, c.ProductionHosts...)), nil
}

// prodHosts are the hosts listed as production. An entry is a name, a
// pattern (*.prod.example.com) or an address, with or without a port; a
// name stands for its addresses too, and an address for every name that
// resolves to it.
type prodHosts struct {
	entries []prodEntry
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	mu      sync.Mutex
	addrs   map[string][]netip.Addr // what names resolved to
}

type prodEntry struct {
	raw     string
	name    string     // lower case, no trailing dot; "" for an address
	addr    netip.Addr // an address entry, unmapped
	port    string     // "" for any port
	pattern bool
}

func newProdHosts(list []string) *prodHosts {
	p := &prodHosts{addrs: map[string][]netip.Addr{}, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
	for _, raw := range list {
		e := prodEntry{raw: raw}
		host := strings.ToLower(strings.TrimSpace(raw))
		if h, port, err := net.SplitHostPort(host); err == nil {
			host, e.port = h, port
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		if a, err := netip.ParseAddr(host); err == nil {
			e.addr = a.Unmap()
		} else {
			e.name, e.pattern = host, strings.ContainsAny(host, "*?[")
		}
		p.entries = append(p.entries, e)
	}
	return p
}

// resolve returns the addresses of a name (an address stands for itself),
// asking the resolver once per name; a name that does not resolve has
// none.
func (p *prodHosts) resolve(host string) []netip.Addr {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	p.mu.Lock()
	addrs, ok := p.addrs[host]
	p.mu.Unlock()
	if ok {
		return addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	found, _ := p.lookup(ctx, host)
	for i := range found {
		found[i] = found[i].Unmap()
	}
	p.mu.Lock()
	p.addrs[host] = found
	p.mu.Unlock()
	return found
}

// match reports why the host of u is production, or "" when it is not.
func (p *prodHosts) match(u *url.URL) string {
	if p == nil || len(p.entries) == 0 || u == nil || u.Host == "" {
		return ""
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		if port == "" {
			port = "80"
		}
	}
	var addrs []netip.Addr // of the host, looked up when needed
	for _, e := range p.entries {
		if e.port != "" && e.port != port {
			continue
		}
		switch {
		case e.pattern:
			if ok, _ := path.Match(e.name, host); ok {
				return fmt.Sprintf("host %s is listed as production (%s)", host, e.raw)
			}
			continue
		case e.name == host:
			return fmt.Sprintf("host %s is listed as production (%s)", host, e.raw)
		}
		if addrs == nil {
			addrs = p.resolve(host)
		}
		listed := []netip.Addr{e.addr}
		if e.name != "" {
			listed = p.resolve(e.name)
		}
		for _, a := range addrs {
			if slices.Contains(listed, a) {
				return fmt.Sprintf("host %s is %s, listed as production (%s)", host, a, e.raw)
			}
		}
	}
	return ""
}

// isProduction reports whether the scenario's target is production: its
// environment says so, or a host it sends to (its base URL, its OAuth2
// token URL) is listed as a production host.
func isProduction(sc *scenario.Scenario, hosts *prodHosts) (bool, string) {
	switch sc.Target.Environment {
	case "production", "prod", "live":
		return true, fmt.Sprintf("target.environment is %q", sc.Target.Environment)
	}
	if sc.Target.BaseURL == scenario.Embedded {
		return false, ""
	}
	for _, raw := range []string{sc.Target.BaseURL, sc.Auth.TokenURL} {
		if u, err := url.Parse(raw); err == nil {
			if why := hosts.match(u); why != "" {
				return true, why
			}
		}
	}
	return false, ""
}

// guard refuses to load a production target unless allowed, and refuses
// writes to it unless those are allowed too. It returns the check that the
// run applies to every redirect a request follows.
func guard(env *Env, scs []*scenario.Scenario, allowProd, allowWrites bool) (attack.HostGuard, error) {
	hosts, err := productionHosts(env)
	if err != nil {
		return nil, err
	}
	for _, sc := range scs {
		prod, why := isProduction(sc, hosts)
		if !prod {
			continue
		}
		if !allowProd {
			return nil, usageErr("if you mean to load production, say so with --allow-production",
				"%s: refusing to send load to production: %s", sc.File, why)
		}
		for _, r := range sc.Requests {
			if isWrite(r.Method) && !allowWrites {
				return nil, usageErr("writes to production also need --allow-writes",
					"%s: request %s is a %s to production (%s)", sc.File, r.Name, r.Method, why)
			}
		}
	}
	return func(u *url.URL, method string) error {
		why := hosts.match(u)
		switch {
		case why == "":
			return nil
		case !allowProd:
			return fmt.Errorf("refused a redirect to production: %s (--allow-production allows it)", why)
		case isWrite(method) && !allowWrites:
			return fmt.Errorf("refused a %s redirected to production: %s (--allow-writes allows it)", method, why)
		}
		return nil
	}, nil
}

func isWrite(method string) bool {
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}
