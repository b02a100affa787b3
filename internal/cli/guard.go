package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

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
// config file and LOADGATE_PRODUCTION_HOSTS.
func productionHosts(env *Env) ([]string, error) {
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
		return hosts, nil
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return hosts, nil
	}
	if err != nil {
		return nil, usageErr("", "%s: %v", p, err)
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
	return append(hosts, c.ProductionHosts...), nil
}

// isProduction reports whether the scenario's target is production: its
// environment says so, or its host is listed as a production host.
func isProduction(sc *scenario.Scenario, hosts []string) (bool, string) {
	switch sc.Target.Environment {
	case "production", "prod", "live":
		return true, fmt.Sprintf("target.environment is %q", sc.Target.Environment)
	}
	if sc.Target.BaseURL == scenario.Embedded {
		return false, ""
	}
	u, err := url.Parse(sc.Target.BaseURL)
	if err != nil {
		return false, ""
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if ok, _ := path.Match(h, host); ok || h == host {
			return true, fmt.Sprintf("host %s is listed as production (%s)", host, h)
		}
	}
	return false, ""
}

// guard refuses to load a production target unless allowed, and refuses
// writes to it unless those are allowed too.
func guard(env *Env, scs []*scenario.Scenario, allowProd, allowWrites bool) error {
	hosts, err := productionHosts(env)
	if err != nil {
		return err
	}
	for _, sc := range scs {
		prod, why := isProduction(sc, hosts)
		if !prod {
			continue
		}
		if !allowProd {
			return usageErr("if you mean to load production, say so with --allow-production",
				"%s: refusing to send load to production: %s", sc.File, why)
		}
		for _, r := range sc.Requests {
			switch r.Method {
			case "POST", "PUT", "PATCH", "DELETE":
				if !allowWrites {
					return usageErr("writes to production also need --allow-writes",
						"%s: request %s is a %s to production (%s)", sc.File, r.Name, r.Method, why)
				}
			}
		}
	}
	return nil
}
