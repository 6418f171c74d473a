package pipeline

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Limiter paces request starts by requests per minute and by estimated
// tokens per minute, and holds one backoff shared by every worker.
// DashScope counts both limits per account and model, per minute and also
// per second as RPM/60 and TPM/60 (reference/dashscope-notes.md §5). A nil
// *Limiter does not limit.
//
// A request's start is the moment its headers have been written (see
// [Slot.Sent]): the first moment the service can count it. Its body may
// still be uploading: on a slow uplink, bodies of requests started a
// spacing apart can finish arriving close together, which the limiter
// neither sees nor controls (the service counts requests as they begin).
//
// The guarantee, over the starts:
//
//   - no 1 s window holds more than ceil(rpm/60) starts and no 60 s window
//     more than rpm;
//   - no 1 s window holds more than ceil(tpm/60) estimated tokens and no
//     60 s window more than tpm;
//   - nothing is granted while a [Limiter.Backoff] is in force.
//
// Grants and starts are the same instants to the limiter: a request is
// granted ([Limiter.Acquire]) before it is sent, and until it reports its
// start ([Slot.Sent]) or gives its grant back ([Slot.Release], counted as
// a start at that moment, the latest it can have started) it is pending:
// it counts in every window, wherever its start will fall, so no grant
// made meanwhile can break a window once that start is known. Decisions
// are therefore only ever taken on starts as they really happened, or on
// the worst case of those still to happen.
//
// Windows are checked on a log of recent starts (a sliding window, not a
// token bucket, whose burst lets a full bucket add a second's worth on top
// of the steady rate), each stretched by windowMargin so that jitter
// between the moment vision sends and the moment the server counts stays
// inside the limit. Request starts are also spaced evenly, 60 s/rpm apart,
// so a burst of workers does not trip DashScope's "Request rate increased
// too quickly": the next start is spaced from the previous one's real
// start, for which the limiter waits up to sendWait after its grant.
//
// One request estimated above a second's token budget cannot fit any 1 s
// window: it starts alone (no token-charged start in the second before it)
// and is charged as debt from its start: no other token-charged request
// starts until its tokens have been paid at the per-second rate. Above the
// minute's budget it also waits for an empty minute window. It always goes
// through, and the average stays within the limit.
//
// Waiters are served first come, first served: one at a time computes when
// it may start, sleeps until then (or until a pending start is known) and
// checks again (a backoff or a start may have moved that time later).
// Nothing is reserved ahead, so a waiter that gives up (its context ended)
// or meets a backoff holds back no one.
type Limiter struct {
	perSec, perMin int           // request caps (0: none)
	tokSec, tokMin int           // token caps (0: none)
	spacing        time.Duration // between request starts
	turn           chan struct{} // the waiter holding it schedules its start

	mu      sync.Mutex
	starts  []*start      // recent starts, sorted by time
	pending []*start      // granted, not started yet
	changed chan struct{} // closed, and replaced, when a pending start is known
	pause   time.Time     // no request is granted before this
	tokFree time.Time     // no token-charged request is granted before this (debt)
	// observe, when set (tests), sees every grant, start and backoff as
	// the limiter records it, under its lock.
	observe func(limitEvent)
}

// windowMargin widens each window: a start is checked against the starts
// in the last 1 s + windowMargin (60 s + windowMargin), so that arrival
// times at the server, which lag the send times measured here by network
// and scheduling delays that vary from request to request (tens of
// milliseconds on a busy machine or a long network path), still keep the
// limits. It costs at most 5% of throughput when the per-second limit
// binds (0.1% otherwise), against a 429 that pauses every worker for a
// second or more.
const windowMargin = 50 * time.Millisecond

// sendWait bounds how long the next start waits for a pending one to say
// when it really started (its connection being made, its headers being
// written) before it is spaced from that one's grant instead. Windows
// never use this bound: a pending start counts in all of them until known.
const sendWait = time.Second

// never is a time no wait reaches (a limit that only a pending start's
// resolution can lift).
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// start is one request start: when it was sent (while pending, when it
// was granted) and its token estimate.
type start struct {
	at      time.Time
	tokens  int
	pending bool
}

// limitEvent is what the limiter recorded, for tests (Limiter.observe).
type limitEvent struct {
	kind   string    // "grant", "start" or "backoff"
	at     time.Time // when granted, started, or the backoff was begun
	tokens int       // charged to the start
	until  time.Time // the end of a backoff
}

// Slot is one request start granted by [Limiter.Acquire].
type Slot struct {
	l *Limiter
	s *start
}

// NewLimiter returns a limiter for rpm requests and tpm estimated tokens per
// minute; 0 (or less) leaves that dimension unlimited.
func NewLimiter(rpm, tpm int) *Limiter {
	l := &Limiter{turn: make(chan struct{}, 1), changed: make(chan struct{})}
	if rpm > 0 {
		l.perSec, l.perMin = ceilDiv(rpm, 60), rpm
		l.spacing = time.Minute / time.Duration(rpm)
	}
	if tpm > 0 {
		l.tokSec, l.tokMin = ceilDiv(tpm, 60), tpm
	}
	return l
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Wait blocks until a request estimated at tokens may start, or ctx ends
// (returning ctx's error), and counts it as started on return: it is
// [Limiter.Acquire] for callers that cannot tell when the request is
// really sent, and send at once.
func (l *Limiter) Wait(ctx context.Context, tokens int) error {
	s, err := l.Acquire(ctx, tokens)
	s.Sent(time.Now())
	return err
}

// Acquire blocks until a request estimated at tokens may start and grants
// it; the caller then sends it and reports the moment its headers are
// written with [Slot.Sent], and calls [Slot.Release] once the attempt is
// over (a grant never reported sent is counted as started then). It
// honours a Backoff in force when it is called or begun while it waits.
// When ctx ends first it returns ctx's error and nothing is recorded.
func (l *Limiter) Acquire(ctx context.Context, tokens int) (*Slot, error) {
	if err := ctx.Err(); err != nil || l == nil {
		return nil, err
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		l.mu.Lock()
		now := time.Now()
		at := l.earliest(now, tokens)
		if !at.After(now) {
			s := l.grant(now, tokens)
			l.mu.Unlock()
			return s, nil
		}
		changed := l.changed
		l.mu.Unlock()
		if err := sleepCtx(ctx, at.Sub(now), changed); err != nil {
			return nil, err
		}
	}
}

// earliest is when a request of n tokens may start, given the starts so
// far and those pending (none is added meanwhile: the caller holds the
// turn). Each limit is met from some time on, so the latest of those times
// meets them all; never when only a pending start can lift one.
func (l *Limiter) earliest(now time.Time, n int) time.Time {
	l.prune(now)
	t := later(now, l.pause)
	if l.perSec > 0 {
		if last, ok := l.lastStart(now); ok {
			t = later(t, last.Add(l.spacing))
		}
		t = later(t, l.nthLatest(l.perSec).Add(time.Second+windowMargin))
		t = later(t, l.nthLatest(l.perMin).Add(time.Minute+windowMargin))
	}
	if l.tokSec > 0 && n > 0 {
		t = later(t, l.tokFree)
		t = later(t, l.tokenRoom(time.Second, l.tokSec, n))
		t = later(t, l.tokenRoom(time.Minute, l.tokMin, n))
	}
	return t
}

// lastStart is the start the next one is spaced from: the latest known,
// or a pending one taken as starting now (so the next waits for it to be
// known), up to sendWait after its grant.
func (l *Limiter) lastStart(now time.Time) (time.Time, bool) {
	var t time.Time
	ok := len(l.starts) > 0
	if ok {
		t = l.starts[len(l.starts)-1].at
	}
	for _, p := range l.pending {
		ok = true
		eff := later(p.at, now)
		if limit := p.at.Add(sendWait); eff.After(limit) {
			eff = limit
		}
		t = later(t, eff)
	}
	return t, ok
}

// nthLatest is the time of the k-th most recent start, pending ones
// counting as the most recent (never), or the zero time.
func (l *Limiter) nthLatest(k int) time.Time {
	if k <= len(l.pending) {
		return never
	}
	if i := len(l.starts) - (k - len(l.pending)); i >= 0 {
		return l.starts[i].at
	}
	return time.Time{}
}

// tokenRoom is the earliest time at which the token-charged starts of the
// window w before it sum to at most limit−n (to nothing when n alone is
// over limit), as older starts leave the window; pending starts are in
// every window.
func (l *Limiter) tokenRoom(w time.Duration, limit, n int) time.Time {
	room := max(limit-n, 0)
	for _, p := range l.pending {
		room -= p.tokens
	}
	if room < 0 {
		return never
	}
	sum := 0
	for _, s := range l.starts {
		sum += s.tokens
	}
	var t time.Time
	for _, s := range l.starts {
		if sum <= room {
			break
		}
		if s.tokens > 0 {
			t = s.at.Add(w + windowMargin) // from then on s is out of the window
			sum -= s.tokens
		}
	}
	return t
}

// grant records a pending start granted at now.
func (l *Limiter) grant(now time.Time, n int) *Slot {
	if l.tokSec == 0 {
		n = 0
	}
	if l.perSec == 0 && n == 0 {
		return nil // nothing to count
	}
	s := &start{at: now, tokens: n, pending: true}
	l.pending = append(l.pending, s)
	l.notify(limitEvent{kind: "grant", at: now, tokens: n})
	return &Slot{l: l, s: s}
}

// started turns the pending s into a start at t (not before its grant),
// charges an oversized one's debt from then, and wakes the waiter.
func (l *Limiter) started(s *start, t time.Time) {
	if !s.pending {
		return
	}
	s.pending, s.at = false, later(s.at, t)
	l.pending = slices.DeleteFunc(l.pending, func(p *start) bool { return p == s })
	i := len(l.starts)
	for i > 0 && l.starts[i-1].at.After(s.at) {
		i--
	}
	l.starts = slices.Insert(l.starts, i, s)
	if l.tokSec > 0 && s.tokens > l.tokSec {
		// Oversized: charge the rest of its tokens as debt at the per-second rate.
		debt := time.Duration(math.Ceil(float64(s.tokens) / float64(l.tokSec) * float64(time.Second)))
		l.tokFree = later(l.tokFree, s.at.Add(debt+windowMargin))
	}
	l.notify(limitEvent{kind: "start", at: s.at, tokens: s.tokens})
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *Limiter) notify(e limitEvent) {
	if l.observe != nil {
		l.observe(e)
	}
}

// prune drops starts that no window can hold any more.
func (l *Limiter) prune(now time.Time) {
	cut := now.Add(-time.Minute - windowMargin)
	i := 0
	for i < len(l.starts) && !l.starts[i].at.After(cut) {
		i++
	}
	if i > 0 {
		l.starts = append(l.starts[:0], l.starts[i:]...)
	}
}

// Sent records that the request of s started at t: its headers were
// written (after any connecting), the first moment the service can count
// it. Only the first Sent or Release of a slot counts. A nil Slot is
// ignored.
func (s *Slot) Sent(t time.Time) {
	if s == nil {
		return
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.started(s.s, t)
}

// Release ends the slot's attempt: a slot never reported sent (its
// attempt failed before its headers went out, or its sender cannot tell)
// is counted as started now, the latest it can have started. A nil Slot
// is ignored.
func (s *Slot) Release() { s.Sent(time.Now()) }

// Backoff pauses every waiter for d from now, e.g. for a 429's Retry-After.
// A shorter backoff never shortens one already in force.
func (l *Limiter) Backoff(d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pause = later(l.pause, now.Add(d))
	l.notify(limitEvent{kind: "backoff", at: now, until: l.pause})
}

// PausedUntil is the end of the backoff in force, or the zero time.
func (l *Limiter) PausedUntil() time.Time {
	if l == nil {
		return time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Now().Before(l.pause) {
		return l.pause
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sleepCtx waits d, until wake is closed, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
