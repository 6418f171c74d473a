package pipeline

import (
	"context"
	"math"
	"sync"
	"time"
)

// Limiter paces request starts by requests per minute and by estimated
// tokens per minute, and holds one backoff shared by every worker.
// DashScope counts both limits per account and model, per minute and also
// per second as RPM/60 and TPM/60 (reference/dashscope-notes.md §5). A nil
// *Limiter does not limit.
//
// The guarantee, over the times requests are really sent (see [Slot.Sent]):
//
//   - no 1 s window holds more than ceil(rpm/60) starts and no 60 s window
//     more than rpm;
//   - no 1 s window holds more than ceil(tpm/60) estimated tokens and no
//     60 s window more than tpm;
//   - nothing starts while a [Limiter.Backoff] is in force.
//
// Windows are checked on a log of recent starts (a sliding window, not a
// token bucket, whose burst lets a full bucket add a second's worth on top
// of the steady rate), each stretched by windowMargin so that jitter
// between the moment vision sends and the moment the server counts stays
// inside the limit. Request starts are also spaced evenly, 60 s/rpm apart,
// so a burst of workers does not trip DashScope's "Request rate increased
// too quickly".
//
// One request estimated above a second's token budget cannot fit any 1 s
// window: it starts alone (no token-charged start in the second before it)
// and is charged as debt: no other token-charged request starts until its
// tokens have been paid at the per-second rate. Above the minute's budget
// it also waits for an empty minute window. It always goes through, and the
// average stays within the limit.
//
// Waiters are served first come, first served: one at a time computes when
// it may start, sleeps until then and checks again (a backoff or a
// correction may have moved that time later). Nothing is reserved ahead,
// so a waiter that gives up (its context ended) or meets a backoff holds
// back no one.
type Limiter struct {
	perSec, perMin int           // request caps (0: none)
	tokSec, tokMin int           // token caps (0: none)
	spacing        time.Duration // between request starts
	turn           chan struct{} // the waiter holding it schedules its start

	mu      sync.Mutex
	starts  []*start  // recent starts, sorted by time
	pause   time.Time // no request starts before this
	tokFree time.Time // no token-charged request starts before this (debt)
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

// start is one request start: when it was sent and its token estimate.
type start struct {
	at     time.Time
	tokens int
}

// Slot is one request start granted by [Limiter.Acquire].
type Slot struct {
	l *Limiter
	s *start
}

// NewLimiter returns a limiter for rpm requests and tpm estimated tokens per
// minute; 0 (or less) leaves that dimension unlimited.
func NewLimiter(rpm, tpm int) *Limiter {
	l := &Limiter{turn: make(chan struct{}, 1)}
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
// (returning ctx's error). It is [Limiter.Acquire] for callers that cannot
// tell when the request is really sent.
func (l *Limiter) Wait(ctx context.Context, tokens int) error {
	_, err := l.Acquire(ctx, tokens)
	return err
}

// Acquire blocks until a request estimated at tokens may start, records
// its start now and returns it; the caller should then send at once and
// report the real send time with [Slot.Sent]. It honours a Backoff in force
// when it is called or begun while it waits. When ctx ends first it returns
// ctx's error and nothing is recorded.
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
			s := l.record(now, tokens)
			l.mu.Unlock()
			return s, nil
		}
		l.mu.Unlock()
		if err := sleepCtx(ctx, at.Sub(now)); err != nil {
			return nil, err
		}
	}
}

// earliest is when a request of n tokens may start, given the starts so
// far (none is added meanwhile: the caller holds the turn). Each limit is
// met from some time on, so the latest of those times meets them all.
func (l *Limiter) earliest(now time.Time, n int) time.Time {
	l.prune(now)
	t := later(now, l.pause)
	if l.perSec > 0 && len(l.starts) > 0 {
		t = later(t, l.starts[len(l.starts)-1].at.Add(l.spacing))
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

// nthLatest is the time of the k-th most recent start, or the zero time.
func (l *Limiter) nthLatest(k int) time.Time {
	if i := len(l.starts) - k; i >= 0 {
		return l.starts[i].at
	}
	return time.Time{}
}

// tokenRoom is the earliest time at which the token-charged starts of the
// window w before it sum to at most limit−n (to nothing when n alone is
// over limit), as older starts leave the window.
func (l *Limiter) tokenRoom(w time.Duration, limit, n int) time.Time {
	room := limit - n
	if room < 0 {
		room = 0
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

// record adds a start at now.
func (l *Limiter) record(now time.Time, n int) *Slot {
	if l.tokSec == 0 {
		n = 0
	}
	if l.perSec == 0 && n == 0 {
		return &Slot{l: l, s: &start{at: now}} // nothing to count
	}
	s := &start{at: now, tokens: n}
	l.starts = append(l.starts, s)
	if n > l.tokSec {
		// Oversized: charge the rest of its tokens as debt at the per-second rate.
		debt := time.Duration(math.Ceil(float64(n) / float64(l.tokSec) * float64(time.Second)))
		l.tokFree = later(l.tokFree, now.Add(debt+windowMargin))
	}
	return &Slot{l: l, s: s}
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

// Sent records that the request of s was really sent at t (e.g. when its
// headers were written, after connecting), if that is later than when it
// was granted; later starts are then spaced from t. A nil Slot is ignored.
func (s *Slot) Sent(t time.Time) {
	if s == nil || s.l == nil {
		return
	}
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.After(s.s.at) {
		return
	}
	if s.s.tokens > l.tokSec && l.tokSec > 0 {
		l.tokFree = l.tokFree.Add(t.Sub(s.s.at)) // the debt runs from the real start
	}
	s.s.at = t
	// Keep the log sorted: move the start after any granted before t.
	i := len(l.starts) - 1
	for i >= 0 && l.starts[i] != s.s {
		i--
	}
	for ; i >= 0 && i+1 < len(l.starts) && l.starts[i+1].at.Before(t); i++ {
		l.starts[i], l.starts[i+1] = l.starts[i+1], l.starts[i]
	}
}

// Backoff pauses every waiter for d from now, e.g. for a 429's Retry-After.
// A shorter backoff never shortens one already in force.
func (l *Limiter) Backoff(d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	until := time.Now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pause = later(l.pause, until)
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

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
