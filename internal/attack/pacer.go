package attack

import (
	"math"
	"time"
)

// pacer paces an open-model stage: a rate that goes linearly from From to
// To (per second) over Length. Hit n (from 0) is due at the time when the
// integral of the rate reaches n, so hit 0 leaves at once and a constant
// rate r sends exactly r*Length hits.
//
// vegeta's ConstantPacer counts expected hits with integer division, which
// makes catch-up coarse at low rates; this one is exact and also gives the
// intended send time of every hit.
//
// A shard (Shard of Shards, from 0) sends the hits of the whole schedule
// whose number is Shard modulo Shards: the shards of a split run send
// exactly the whole run's hits, between them, each at its planned time.
type pacer struct {
	From, To float64 // per second, of the whole run
	Length   time.Duration
	Shard    uint64
	Shards   uint64 // 0 or 1: not split
}

// global returns the number, in the whole schedule, of this shard's hit n.
func (p pacer) global(n uint64) uint64 {
	if p.Shards <= 1 {
		return n
	}
	return p.Shard + n*p.Shards
}

// slope is the rate's change per second, per second.
func (p pacer) slope() float64 {
	if p.Length <= 0 {
		return 0
	}
	return (p.To - p.From) / p.Length.Seconds()
}

// Due returns the time, from the stage start, when hit n is due.
func (p pacer) Due(n uint64) time.Duration {
	a, r0, x := p.slope(), p.From, float64(n)
	var t float64
	switch {
	case math.Abs(a) < 1e-12:
		if r0 <= 0 {
			return time.Duration(math.MaxInt64)
		}
		t = x / r0
	default:
		// r0*t + a*t*t/2 = x
		disc := r0*r0 + 2*a*x
		if disc < 0 {
			return time.Duration(math.MaxInt64)
		}
		t = (-r0 + math.Sqrt(disc)) / a
	}
	if t*1e9 >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(t * 1e9)
}

// Pace implements vegeta.Pacer.
func (p pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	due := p.Due(p.global(hits))
	if due == time.Duration(math.MaxInt64) || p.Length > 0 && due >= p.Length {
		return 0, true
	}
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// Rate implements vegeta.Pacer: this shard's rate at elapsed, per second.
func (p pacer) Rate(elapsed time.Duration) float64 {
	return (p.From + p.slope()*elapsed.Seconds()) / float64(max(p.Shards, 1))
}

// Planned is the number of hits this shard sends in full.
func (p pacer) Planned() float64 {
	whole := (p.From + p.To) / 2 * p.Length.Seconds()
	if p.Shards <= 1 {
		return whole
	}
	// The whole schedule has ceil(whole) hits, numbered from 0.
	all := uint64(math.Ceil(whole - 1e-9))
	if all <= p.Shard {
		return 0
	}
	return float64((all - p.Shard + p.Shards - 1) / p.Shards)
}

// sleeper is the pacer vegeta's attacker is given: it waits for each hit
// itself, to within a few tens of microseconds, and tells the attacker to
// send at once. vegeta would time.Sleep, and a Go program whose goroutines
// are all waiting sleeps in the network poller, whose timeout counts whole
// milliseconds: at low rates every hit would leave about half a
// millisecond late, on average, and up to a whole one, and
// coordinated-omission-corrected latencies, measured from when hits were
// due, would carry that lateness.
//
// Waits under sleepAlone are left to vegeta: at such rates the runtime is
// busy and its timers fire on time, while a system call for every hit
// would cost more than it saves.
type sleeper struct{ pacer }

const sleepAlone = 100 * time.Microsecond

func (s sleeper) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	wait, stop := s.pacer.Pace(elapsed, hits)
	if stop || wait < sleepAlone {
		return wait, stop
	}
	due := time.Now().Add(wait)
	if wait > 2*time.Millisecond {
		time.Sleep(wait - 2*time.Millisecond) // the bulk of a long wait
	}
	if rest := time.Until(due); rest > 0 {
		sleepPrecise(rest)
	}
	return 0, false
}
