package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// waitStart is one request start seen by a test: when, and its token estimate.
type waitStart struct {
	at     time.Duration
	tokens int
}

// runWaits starts workers that each call Wait n times and records the starts,
// in fake time from the beginning of the bubble.
func runWaits(t *testing.T, l *Limiter, workers, n int, tokens func(w, i int) int) []waitStart {
	t.Helper()
	t0 := time.Now()
	var mu sync.Mutex
	var out []waitStart
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				tok := tokens(w, i)
				if err := l.Wait(t.Context(), tok); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				out = append(out, waitStart{time.Since(t0), tok})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b waitStart) int { return int(a.at - b.at) })
	return out
}

// maxInWindow is the largest count and token sum of starts in any
// half-open window [s, s+w) (windows starting at a start are the worst).
func maxInWindow(starts []waitStart, w time.Duration) (count, tokens int) {
	for i := range starts {
		c, tok := 0, 0
		for j := i; j < len(starts) && starts[j].at < starts[i].at+w; j++ {
			c++
			tok += starts[j].tokens
		}
		count, tokens = max(count, c), max(tokens, tok)
	}
	return count, tokens
}

func TestLimitRequestsPerMinuteAndSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(120, 0)
		starts := runWaits(t, l, 12, 25, func(int, int) int { return 0 })
		if len(starts) != 300 {
			t.Fatalf("%d starts, want 300", len(starts))
		}
		if c, _ := maxInWindow(starts, time.Minute); c > 120 {
			t.Errorf("%d starts in one 60 s window, limit 120", c)
		}
		if c, _ := maxInWindow(starts, time.Second); c > 2 {
			t.Errorf("%d starts in one 1 s window, limit 2 (RPM/60)", c)
		}
		// Not needlessly slow: 300 starts at 2/s take about 150 s.
		if last := starts[len(starts)-1].at; last > 151*time.Second {
			t.Errorf("last start at %v, want about 150 s", last)
		}
	})
}

func TestLimitTokensPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 60000 // one second's budget: 1,000 tokens
		l := NewLimiter(0, tpm)
		starts := runWaits(t, l, 8, 30, func(w, i int) int { return 300 + (w*37+i*91)%700 })
		_, tok := maxInWindow(starts, time.Minute)
		if tok > tpm {
			t.Errorf("%d tokens started in one 60 s window, limit %d", tok, tpm)
		}
		total := 0
		for _, s := range starts {
			total += s.tokens
		}
		// Throughput close to the limit: total tokens at 59/60 of tpm.
		want := time.Duration(float64(total-tpm/60) / (tpm * 59.0 / 60 / 60) * float64(time.Second))
		if last := starts[len(starts)-1].at; last > want+2*time.Second {
			t.Errorf("last start at %v, want about %v", last, want)
		}
	})
}

func TestLimitOversizedRequestGoesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 6000 // 100 tokens a second budget, 98.33 refill
		l := NewLimiter(0, tpm)
		t0 := time.Now()
		if err := l.Wait(t.Context(), 3*tpm); err != nil { // three minutes' budget
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("oversized request waited %v on a full bucket", d)
		}
		if err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		// The debt (18,000 − 100 tokens at 98.33/s) is paid before the next.
		if d := time.Since(t0); d < 182*time.Second || d > 183*time.Second {
			t.Errorf("next request after %v, want about 182 s", d)
		}
	})
}

func TestLimitBackoffPausesEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(600, 0) // one start every 0.1 s
		t0 := time.Now()
		var mu sync.Mutex
		var starts []time.Duration
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if err := l.Wait(t.Context(), 0); err != nil {
					t.Error(err)
				}
				mu.Lock()
				starts = append(starts, time.Since(t0))
				mu.Unlock()
			})
		}
		time.Sleep(350 * time.Millisecond) // four have started (0, 0.1, 0.2, 0.3 s)
		l.Backoff(10 * time.Second)        // a 429 with Retry-After: 10
		if got := l.PausedUntil().Sub(t0); got != 10350*time.Millisecond {
			t.Errorf("PausedUntil = %v after start, want 10.35 s", got)
		}
		l.Backoff(time.Second) // a shorter one does not shorten it
		wg.Wait()
		slices.Sort(starts)
		before := 0
		for _, s := range starts {
			if s < 350*time.Millisecond {
				before++
			} else if s < 10350*time.Millisecond {
				t.Errorf("start at %v during the backoff", s)
			}
		}
		if before != 4 {
			t.Errorf("%d starts before the backoff, want 4", before)
		}
		for i := 1; i < len(starts); i++ { // spaced after the pause too: no herd
			if gap := starts[i] - starts[i-1]; gap < 100*time.Millisecond {
				t.Errorf("starts %v and %v are %v apart, want ≥ 100 ms", starts[i-1], starts[i], gap)
			}
		}
		if !l.PausedUntil().IsZero() {
			t.Error("PausedUntil not zero after the pause")
		}
	})
}

func TestLimitBackoffBeforeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(0, 0) // even an unlimited limiter honours a backoff
		l.Backoff(5 * time.Second)
		t0 := time.Now()
		if err := l.Wait(t.Context(), 100); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 5*time.Second {
			t.Errorf("waited %v, want 5 s", d)
		}
	})
}

func TestLimitContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(1, 0)
		if err := l.Wait(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		t0 := time.Now()
		err := l.Wait(ctx, 0)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(t0); d != time.Second {
			t.Errorf("returned after %v, want 1 s (at the cancel)", d)
		}
		// Paused: cancel during the backoff returns too.
		l.Backoff(time.Hour)
		ctx2, cancel2 := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel2()
		if err := l.Wait(ctx2, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want deadline exceeded", err)
		}
		// An already-canceled context never waits.
		if err := l.Wait(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v for a canceled ctx", err)
		}
	})
}

func TestLimitUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		var nilLimiter *Limiter
		for _, l := range []*Limiter{NewLimiter(0, 0), nilLimiter} {
			for range 1000 {
				if err := l.Wait(t.Context(), 1e6); err != nil {
					t.Fatal(err)
				}
			}
		}
		nilLimiter.Backoff(time.Hour) // no panic
		if d := time.Since(t0); d != 0 {
			t.Errorf("unlimited waits took %v", d)
		}
	})
}
