package template

import (
	"math/rand/v2"
	"sync"
)

// DefaultPoolSize bounds each capture pool; past it the oldest value goes.
const DefaultPoolSize = 10_000

// Pools hold values captured from responses (a created customer's id, say)
// for later requests to use: take removes a value, pick leaves it.
type Pools struct {
	mu  sync.Mutex
	m   map[string]*ring
	max int
}

type ring struct {
	vals       []string
	head, size int
}

// NewPools makes empty pools of the given names, each holding at most
// max values (0 means DefaultPoolSize).
func NewPools(names []string, max int) *Pools {
	if max <= 0 {
		max = DefaultPoolSize
	}
	p := &Pools{m: map[string]*ring{}, max: max}
	for _, n := range names {
		p.m[n] = &ring{vals: make([]string, max)}
	}
	return p
}

// Put adds v to the pool name.
func (p *Pools) Put(name, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.m[name]
	if r == nil {
		return
	}
	if r.size == len(r.vals) {
		r.head = (r.head + 1) % len(r.vals)
		r.size--
	}
	r.vals[(r.head+r.size)%len(r.vals)] = v
	r.size++
}

// Take removes and returns the oldest value of the pool.
func (p *Pools) Take(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.m[name]
	if r == nil || r.size == 0 {
		return "", false
	}
	v := r.vals[r.head]
	r.vals[r.head] = ""
	r.head = (r.head + 1) % len(r.vals)
	r.size--
	return v, true
}

// Pick returns a random value of the pool, leaving it there.
func (p *Pools) Pick(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.m[name]
	if r == nil || r.size == 0 {
		return "", false
	}
	return r.vals[(r.head+rand.IntN(r.size))%len(r.vals)], true
}

// Len returns the number of values in the pool.
func (p *Pools) Len(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.m[name]; r != nil {
		return r.size
	}
	return 0
}
