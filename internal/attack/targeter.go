package attack

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/loadgate/loadgate/internal/feeder"
	"github.com/loadgate/loadgate/internal/template"
)

// targeter picks requests by weight, renders their templates and tags each
// URL with "#request.hit" in the fragment, which is never sent: the tag
// comes back on the result and attributes it exactly.
type targeter struct {
	reqs      []Request
	order     []int
	picks     atomic.Uint64
	hitN      atomic.Uint64
	seqs      []atomic.Uint64
	needsPool []bool
	takes     [][]string
	picksOf   [][]string
	fallback  int // a request that needs no pool
	pools     *template.Pools
	hits      *hitStore
	unique    string
	exhausted atomic.Pointer[string]
	shard     uint64
	shards    uint64
	// closedEnd is when the closed-model stage running ends (Unix ns), 0
	// during an open-model stage.
	closedEnd atomic.Int64
}

// errStageOver is a worker's turn that came after its stage ended.
var errStageOver = errors.New("the stage is over")

func newTargeter(p *Plan, hits *hitStore) *targeter {
	t := &targeter{
		reqs: p.Requests, order: schedule(p.Requests), seqs: make([]atomic.Uint64, len(p.Requests)),
		pools: p.Pools, hits: hits, fallback: -1, shard: uint64(p.Shard), shards: uint64(max(p.Shards, 1)),
		unique: hex.EncodeToString(p.RunID[:4]),
	}
	for i, r := range p.Requests {
		var takes, picks []string
		for _, tp := range r.templates() {
			takes = append(takes, tp.Takes...)
			picks = append(picks, tp.Picks...)
		}
		t.takes = append(t.takes, takes)
		t.picksOf = append(t.picksOf, picks)
		need := len(takes)+len(picks) > 0
		t.needsPool = append(t.needsPool, need)
		if !need && t.fallback < 0 {
			t.fallback = i
		}
	}
	if t.fallback < 0 {
		t.fallback = 0
	}
	return t
}

func (r *Request) templates() []*template.Template {
	var out []*template.Template
	if r.PathT != nil {
		out = append(out, r.PathT)
	}
	if r.BodyT != nil {
		out = append(out, r.BodyT)
	}
	for _, h := range r.HeaderT {
		out = append(out, h)
	}
	return out
}

func (r *Request) static() bool {
	return r.PathT == nil && len(r.HeaderT) == 0 && r.BodyT == nil && r.Feeder == nil
}

// draw takes the pool values request i needs; false when a pool is empty.
func (t *targeter) draw(i int) (map[string]string, bool) {
	if t.pools == nil {
		return nil, false
	}
	got := map[string]string{}
	for _, p := range t.takes[i] {
		v, ok := t.pools.Take(p)
		if !ok {
			for q, v := range got { // give back what was taken
				t.pools.Put(q, v)
			}
			return nil, false
		}
		got[p] = v
	}
	for _, p := range t.picksOf[i] {
		v, ok := t.pools.Pick(p)
		if !ok {
			for _, q := range t.takes[i] {
				t.pools.Put(q, got[q])
			}
			return nil, false
		}
		got[p] = v
	}
	return got, true
}

// target is the vegeta.Targeter. It runs on the attacker's workers, many
// at once.
// Kept whole: the per-request hot path; a call per step costs measurable
// throughput (make bench).
func (t *targeter) target(tgt *vegeta.Target) error {
	if end := t.closedEnd.Load(); end != 0 && time.Now().UnixNano() >= end {
		return errStageOver
	}
	k := t.picks.Add(1) - 1
	i := -1
	var taken map[string]string
	for try := 0; try < len(t.order); try++ {
		c := t.order[(k+uint64(try))%uint64(len(t.order))]
		if !t.needsPool[c] {
			i = c
			break
		}
		if got, ok := t.draw(c); ok {
			i, taken = c, got
			break
		}
	}
	if i < 0 {
		i = t.fallback
	}
	hid := t.hitN.Add(1)
	r := &t.reqs[i]
	var tag [40]byte
	tb := append(tag[:0], '#')
	tb = strconv.AppendInt(tb, int64(i), 10)
	tb = append(tb, '.')
	tb = strconv.AppendUint(tb, hid, 10)
	if r.static() {
		tgt.Method, tgt.URL, tgt.Header, tgt.Body = r.Method, r.URL+string(tb), r.Header, r.Body
		if r.KeepSent {
			t.hits.get(hid).sent = r.Body
		}
		return nil
	}
	c := template.Context{
		Seq: (t.seqs[i].Add(1)-1)*t.shards + t.shard, Now: time.Now(), Unique: t.unique, Count: hid, Taken: taken,
	}
	if r.Feeder != nil {
		row, err := r.Feeder.Next()
		if err != nil {
			name := r.Feeder.Name
			t.exhausted.CompareAndSwap(nil, &name)
			return feeder.ErrExhausted
		}
		c.Row = row
	}
	tgt.Method = r.Method
	if r.PathT != nil {
		b := make([]byte, 0, len(r.Base)+64)
		b = append(b, r.Base...)
		b = r.PathT.Render(&c, b)
		tgt.URL = string(append(b, tb...))
	} else {
		tgt.URL = r.URL + string(tb)
	}
	tgt.Header = r.Header
	if len(r.HeaderT) > 0 {
		h := make(http.Header, len(r.Header)+len(r.HeaderT))
		for k, v := range r.Header {
			h[k] = v
		}
		for k, ht := range r.HeaderT {
			v := string(ht.Render(&c, nil))
			h[k] = []string{v}
			if r.Hide[k] {
				rec := t.hits.get(hid)
				rec.hidden = append(rec.hidden, v)
				if _, token, ok := strings.Cut(v, " "); ok {
					rec.hidden = append(rec.hidden, strings.TrimSpace(token)) // of "Bearer <token>"
				}
			}
		}
		tgt.Header = h
	}
	tgt.Body = r.Body
	if r.BodyT != nil {
		tgt.Body = r.BodyT.Render(&c, nil)
	}
	if r.KeepSent {
		t.hits.get(hid).sent = tgt.Body
	}
	return nil
}
