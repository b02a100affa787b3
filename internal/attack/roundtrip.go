package attack

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/loadgate/loadgate/internal/outcome"
)

// RetryRule bounds and spaces the retries of one class of outcome.
type RetryRule struct {
	Max         int           // retries after the first try
	Delay       time.Duration // the first wait
	Exponential bool          // double the wait each time
	Cap         time.Duration // bound on any wait
	RetryAfter  bool          // honour a Retry-After header, within Cap
}

// RetryPolicy says which outcomes are retried. 4xx other than 429 are
// never retried; a 401 with OAuth2 gets one token refresh and one retry.
type RetryPolicy struct {
	On429, On5xx, OnNetwork *RetryRule
}

// wait returns the wait before retry number n (from 0).
func (r *RetryRule) wait(n int, resp *http.Response) time.Duration {
	limit := r.Cap
	if limit <= 0 {
		limit = 30 * time.Second
	}
	if r.RetryAfter && resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, limit)
		}
	}
	d := r.Delay
	if r.Exponential {
		for range n {
			d *= 2
			if d >= limit {
				break
			}
		}
	}
	return min(d, limit)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		// Beyond any cap, and short of overflowing a Duration.
		return time.Duration(min(s, 1<<30)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// Attempt is one HTTP try of a logical request: a retry, or a redirect
// hop.
type Attempt struct {
	Start   time.Time
	Code    int           // the status the target sent, 0 for none
	Kind    outcome.Kind  // why it failed, None when it did not
	Err     string        // as http.Client reports it: `Get "url": ...`
	Latency time.Duration // 0 for the last try: the result has it
	BytesIn int64         // body bytes received
	// BytesOut is the body bytes sent.
	BytesOut int64
	Group    string // the group-by header of the response
	// Hop marks a redirect answer that was followed, not a retry.
	Hop bool
}

// hitRecord is what a hit leaves behind for its result: the body sent,
// for checks that compare with it, the tries, when there were several,
// and what the result itself cannot tell.
type hitRecord struct {
	sent     []byte
	attempts []Attempt
	resent   int
	hidden   []string // values of secret headers sent
	// kind is why the last try failed, found where it failed; code is
	// the status it was answered with before it failed (a broken body).
	kind outcome.Kind
	code int
	// bytesIn is the body bytes of the last try's answer, when the
	// result's body and Content-Length cannot tell (chunked, gzip).
	bytesIn int64
	counted bool
}

// hitStore holds hit records between the send and the result. It holds
// only the hits in flight.
type hitStore struct {
	// n counts the records held, so that taking from an empty store (the
	// common case: no retries, no checks on the body sent) costs an
	// atomic load rather than a lock.
	n      atomic.Int64
	shards [64]struct {
		sync.Mutex
		m map[uint64]*hitRecord
	}
}

func newHitStore() *hitStore {
	s := &hitStore{}
	for i := range s.shards {
		s.shards[i].m = map[uint64]*hitRecord{}
	}
	return s
}

func (s *hitStore) get(hid uint64) *hitRecord {
	sh := &s.shards[hid%64]
	sh.Lock()
	defer sh.Unlock()
	r := sh.m[hid]
	if r == nil {
		r = &hitRecord{}
		sh.m[hid] = r
		s.n.Add(1)
	}
	return r
}

func (s *hitStore) take(hid uint64) *hitRecord {
	if s.n.Load() == 0 {
		return nil
	}
	sh := &s.shards[hid%64]
	sh.Lock()
	defer sh.Unlock()
	r, ok := sh.m[hid]
	if ok {
		delete(sh.m, hid)
		s.n.Add(-1)
	}
	return r
}

// parseTag reads the "request.hit" tag the targeter puts in the URL
// fragment.
func parseTag(frag string) (req int, hid uint64, ok bool) {
	a, b, found := strings.Cut(frag, ".")
	if !found {
		return 0, 0, false
	}
	r, err1 := strconv.Atoi(a)
	h, err2 := strconv.ParseUint(b, 10, 64)
	return r, h, err1 == nil && err2 == nil
}

// RequestID is the id of hit hid of a run: a UUID (version 8) made of the
// run's id and the hit number, sent as X-Request-ID and written in the
// request log, so no table of ids is kept.
func RequestID(run [8]byte, hid uint64) string {
	var id uuid.UUID
	copy(id[:8], run[:])
	binary.BigEndian.PutUint64(id[8:], hid)
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id.String()
}
