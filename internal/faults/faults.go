// Package faults injects network faults between loadgate and its target
// with Shopify's toxiproxy, run in-process as a loopback TCP proxy: added
// latency and jitter, a bandwidth limit, connections reset, stalled or
// closed slowly, each for a share of the connections and, optionally, for
// a window of the run.
package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Fault types.
const (
	Latency   = "latency"    // Latency ± Jitter added to the data
	Bandwidth = "bandwidth"  // at most RateKBps kilobytes a second
	Reset     = "reset"      // the connection reset (TCP RST) after After
	Timeout   = "timeout"    // no data passes; closed after After (0: held)
	SlowClose = "slow_close" // the close delayed by Delay
)

// Fault is one network fault.
type Fault struct {
	Type      string
	Latency   time.Duration
	Jitter    time.Duration
	RateKBps  int64
	After     time.Duration // reset, timeout
	Delay     time.Duration // slow_close
	Toxicity  float64       // share of connections affected, 0 to 1 (default 1)
	Direction string        // downstream (responses, the default), upstream (requests) or both
	// From and To bound the fault in time, from the start of the run; To
	// 0 means until the end.
	From, To time.Duration
}

// Describe says what the fault does, for reports.
func (f Fault) Describe() string {
	var what string
	switch f.Type {
	case Latency:
		what = "latency " + f.Latency.String()
		if f.Jitter > 0 {
			what += " ± " + f.Jitter.String()
		}
	case Bandwidth:
		what = fmt.Sprintf("bandwidth %d KB/s", f.RateKBps)
	case Reset:
		what = "connection reset"
		if f.After > 0 {
			what += " after " + f.After.String()
		}
	case Timeout:
		what = "stall"
		if f.After > 0 {
			what += ", closed after " + f.After.String()
		}
	case SlowClose:
		what = "close delayed by " + f.Delay.String()
	}
	if f.Toxicity < 1 {
		what += fmt.Sprintf(", %g%% of connections", f.Toxicity*100)
	}
	if f.Direction != "" && f.Direction != "downstream" {
		what += ", " + f.Direction
	}
	return what
}

// Validate checks a fault.
func (f Fault) Validate() error {
	var errs []error
	switch f.Type {
	case Latency:
		if f.Latency <= 0 {
			errs = append(errs, errors.New("latency needs latency above zero"))
		}
		if f.Jitter < 0 || f.Jitter > f.Latency {
			errs = append(errs, errors.New("jitter must be from 0 to latency"))
		}
	case Bandwidth:
		if f.RateKBps <= 0 {
			errs = append(errs, errors.New("bandwidth needs rate above zero, in KB/s"))
		}
	case Reset, Timeout:
		if f.After < 0 {
			errs = append(errs, errors.New("after must not be negative"))
		}
	case SlowClose:
		if f.Delay <= 0 {
			errs = append(errs, errors.New("slow_close needs delay above zero"))
		}
	default:
		return fmt.Errorf("type %q is not latency, bandwidth, reset, timeout or slow_close", f.Type)
	}
	if f.Toxicity <= 0 || f.Toxicity > 1 {
		errs = append(errs, errors.New("toxicity must be a fraction above 0, at most 1"))
	}
	switch f.Direction {
	case "", "downstream", "upstream", "both":
	default:
		errs = append(errs, fmt.Errorf("direction %q is not downstream, upstream or both", f.Direction))
	}
	if f.From < 0 || f.To < 0 || f.To != 0 && f.To <= f.From {
		errs = append(errs, errors.New("from and to must not be negative, and to must come after from"))
	}
	return errors.Join(errs...)
}

func (f Fault) attributes() map[string]int64 {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	switch f.Type {
	case Latency:
		return map[string]int64{"latency": ms(f.Latency), "jitter": ms(f.Jitter)}
	case Bandwidth:
		return map[string]int64{"rate": f.RateKBps}
	case Reset, Timeout:
		return map[string]int64{"timeout": ms(f.After)}
	case SlowClose:
		return map[string]int64{"delay": ms(f.Delay)}
	}
	return nil
}

func (f Fault) toxicType() string {
	if f.Type == Reset {
		return "reset_peer"
	}
	return f.Type
}

// Applied records when a fault was in force during a run.
type Applied struct {
	Fault
	Start, End time.Time // zero End: until the end of the run
}

// Proxy is an in-process toxiproxy in front of one upstream address.
type Proxy struct {
	proxy  *toxiproxy.Proxy
	faults []Fault

	mu      sync.Mutex
	applied []Applied
	active  map[int]bool
}

// Start starts a proxy on a loopback port in front of upstream
// ("host:port").
func Start(upstream string, faults []Fault) (*Proxy, error) {
	for i, f := range faults {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("fault %d: %w", i, err)
		}
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "loadgate", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start the fault proxy: %w", err)
	}
	return &Proxy{proxy: p, faults: faults, active: map[int]bool{}}, nil
}

// Addr is the proxy's loopback address: connections to the upstream go
// here instead.
func (p *Proxy) Addr() string { return p.proxy.Listen }

// Begin puts in force the faults that start with the run (from 0), before
// its first request: Run, in a goroutine of its own, could come after it.
func (p *Proxy) Begin() error {
	for i, f := range p.faults {
		if f.From <= 0 {
			if err := p.add(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run puts the faults in force on their schedule, from start, until ctx
// is done. Faults Begin put in force are not added again.
func (p *Proxy) Run(ctx context.Context, start time.Time) error {
	type event struct {
		at  time.Duration
		i   int
		add bool
	}
	var events []event
	for i, f := range p.faults {
		events = append(events, event{f.From, i, true})
		if f.To > 0 {
			events = append(events, event{f.To, i, false})
		}
	}
	// In time order; at the same time, removals first.
	for i := 1; i < len(events); i++ {
		for j := i; j > 0 && (events[j].at < events[j-1].at || events[j].at == events[j-1].at && !events[j].add && events[j-1].add); j-- {
			events[j], events[j-1] = events[j-1], events[j]
		}
	}
	for _, e := range events {
		t := time.NewTimer(time.Until(start.Add(e.at)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		var err error
		if e.add {
			p.mu.Lock()
			on := p.active[e.i]
			p.mu.Unlock()
			if on {
				continue
			}
			err = p.add(e.i)
		} else {
			err = p.remove(ctx, e.i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Proxy) add(i int) error {
	f := p.faults[i]
	dirs := []string{"downstream"}
	switch f.Direction {
	case "upstream":
		dirs = []string{"upstream"}
	case "both":
		dirs = []string{"downstream", "upstream"}
	}
	tox := f.Toxicity
	for _, d := range dirs {
		body, _ := json.Marshal(map[string]any{ // plain values always encode
			"name": fmt.Sprintf("fault-%d-%s", i, d), "type": f.toxicType(), "stream": d,
			"toxicity": tox, "attributes": f.attributes(),
		})
		if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
			return fmt.Errorf("fault %d (%s): %w", i, f.Type, err)
		}
	}
	p.mu.Lock()
	p.applied = append(p.applied, Applied{Fault: f, Start: time.Now()})
	p.active[i] = true
	p.mu.Unlock()
	return nil
}

func (p *Proxy) remove(ctx context.Context, i int) error {
	for _, d := range []string{"downstream", "upstream"} {
		// A direction the fault was not added for is simply absent.
		_ = p.proxy.Toxics.RemoveToxic(ctx, fmt.Sprintf("fault-%d-%s", i, d))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := len(p.applied) - 1; k >= 0; k-- {
		if p.applied[k].Fault == p.faults[i] && p.applied[k].End.IsZero() {
			p.applied[k].End = time.Now()
			break
		}
	}
	delete(p.active, i)
	return nil
}

// Applied returns when each fault was in force.
func (p *Proxy) Applied() []Applied {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Applied(nil), p.applied...)
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.proxy.Stop()
}
