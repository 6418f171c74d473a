package pipeline

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces requests by requests per minute and by estimated tokens per
// minute, and holds one backoff shared by every worker. DashScope counts
// both limits per account and model, per minute and also per second as
// RPM/60 and TPM/60 (reference/dashscope-notes.md §5). A nil *Limiter does
// not limit.
//
// Requests: one token bucket with burst 1 and one request every 60s/rpm,
// plus 0.1% and 1µs. Evenly spaced starts are the only token-bucket setting
// that keeps both windows: no 60 s window holds more than rpm starts and no
// 1 s window more than ceil(rpm/60). (A burst of rpm/60 would let a full
// bucket add a second's worth on top of the steady rate: rpm + rpm/60 in
// one minute, twice RPM/60 in one second.) The 0.1% margin absorbs rounding
// in the bucket's arithmetic and costs 0.1% of throughput.
//
// Tokens: a bucket holding one second's budget B = tpm/60, refilled at
// (tpm−B)/60 per second, so that no 60 s window admits more than tpm
// (B + 60·(tpm−B)/60 = tpm) for requests up to B; throughput is 59/60 of
// tpm. A request is charged its whole estimate. One larger than B (a long
// video can exceed a second's or even a minute's budget) is charged in
// chunks of B: it starts when the first chunk is due and the rest is debt
// that later requests wait out, so it always goes through and the average
// stays at the limit. Estimates are estimates; after an idle second, up to
// 2B tokens may start within one second.
type Limiter struct {
	req *rate.Limiter // nil: no request limit
	tok *rate.Limiter // nil: no token limit

	mu    sync.Mutex
	pause time.Time // no request starts before this
	gen   int       // incremented by each Backoff that extends pause
}

// NewLimiter returns a limiter for rpm requests and tpm estimated tokens per
// minute; 0 (or less) leaves that dimension unlimited.
func NewLimiter(rpm, tpm int) *Limiter {
	l := &Limiter{}
	if rpm > 0 {
		interval := time.Minute / time.Duration(rpm)
		interval += interval/1000 + time.Microsecond // margin for rounding
		l.req = rate.NewLimiter(rate.Every(interval), 1)
	}
	if tpm > 0 {
		b := max(1, tpm/60)
		l.tok = rate.NewLimiter(rate.Limit(float64(tpm-b)/60), b)
		if tpm-b <= 0 { // tpm < 2: keep some refill
			l.tok.SetLimit(rate.Limit(float64(tpm) / 60))
		}
	}
	return l
}

// Wait blocks until a request estimated at tokens may start, or ctx ends
// (returning ctx's error). It honours a Backoff that is in force when it is
// called or that begins while it waits: such a waiter takes a fresh place in
// the queue after the pause, so paused workers do not start together.
func (l *Limiter) Wait(ctx context.Context, tokens int) error {
	if l == nil {
		return ctx.Err()
	}
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		rs, gen, delay := l.reserve(tokens)
		if err := sleepCtx(ctx, delay); err != nil {
			now := time.Now()
			for _, r := range rs {
				r.CancelAt(now) // give back what was not used
			}
			return err
		}
		l.mu.Lock()
		paused := l.gen != gen
		l.mu.Unlock()
		if !paused {
			return nil
		}
		// A Backoff began while we waited: our reserved slot is spent (the
		// server refused traffic anyway); queue again after the pause.
	}
}

// reserve takes the request slot and the token chunks, returning when the
// request may start.
func (l *Limiter) reserve(tokens int) ([]*rate.Reservation, int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var rs []*rate.Reservation
	var delay time.Duration
	take := func(lim *rate.Limiter, n int, counts bool) {
		r := lim.ReserveN(now, n) // n ≤ burst, so always OK
		rs = append(rs, r)
		if d := r.DelayFrom(now); counts && d > delay {
			delay = d
		}
	}
	if l.req != nil {
		take(l.req, 1, true)
	}
	if l.tok != nil && tokens > 0 {
		b := l.tok.Burst()
		for first := true; tokens > 0; first = false {
			n := min(tokens, b)
			take(l.tok, n, first) // later chunks are debt for the next requests
			tokens -= n
		}
	}
	return rs, l.gen, delay
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
	if until.After(l.pause) {
		l.pause = until
		l.gen++
	}
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

func (l *Limiter) waitPause(ctx context.Context) error {
	for {
		l.mu.Lock()
		d := time.Until(l.pause)
		l.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
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
