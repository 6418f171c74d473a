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

// goWaits starts workers that each call Wait n times; the function it
// returns waits for them and gives the starts, sorted, in fake time from
// the call.
func goWaits(t *testing.T, l *Limiter, workers, n int) func() []time.Duration {
	t0 := time.Now()
	var mu sync.Mutex
	var starts []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range n {
				if err := l.Wait(t.Context(), 0); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				starts = append(starts, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	return func() []time.Duration {
		wg.Wait()
		slices.Sort(starts)
		return starts
	}
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
	for _, rpm := range []int{120, 61, 90} {
		synctest.Test(t, func(t *testing.T) {
			l := NewLimiter(rpm, 0)
			starts := runWaits(t, l, 12, 25, func(int, int) int { return 0 })
			if len(starts) != 300 {
				t.Fatalf("%d starts, want 300", len(starts))
			}
			if c, _ := maxInWindow(starts, time.Minute); c > rpm {
				t.Errorf("rpm %d: %d starts in one 60 s window", rpm, c)
			}
			perSec := (rpm + 59) / 60
			if c, _ := maxInWindow(starts, time.Second); c > perSec {
				t.Errorf("rpm %d: %d starts in one 1 s window, limit %d (ceil(RPM/60))", rpm, c, perSec)
			}
			// Not needlessly slow: evenly spaced at 60 s/rpm, plus the margin
			// (at most 5%).
			want := time.Duration(float64(len(starts)-1) / float64(rpm) * float64(time.Minute))
			if last := starts[len(starts)-1].at; last > want+want/16 {
				t.Errorf("rpm %d: last start at %v, want about %v", rpm, last, want)
			}
		})
	}
}

func TestLimitTokensPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 60000 // one second's budget: 1,000 tokens
		l := NewLimiter(0, tpm)
		starts := runWaits(t, l, 8, 30, func(w, i int) int { return 300 + (w*37+i*91)%700 })
		if _, tok := maxInWindow(starts, time.Minute); tok > tpm {
			t.Errorf("%d tokens started in one 60 s window, limit %d", tok, tpm)
		}
		if _, tok := maxInWindow(starts, time.Second); tok > tpm/60 {
			t.Errorf("%d tokens started in one 1 s window, limit %d (TPM/60)", tok, tpm/60)
		}
		total := 0
		for _, s := range starts {
			total += s.tokens
		}
		// Throughput: whole requests fill each second's budget only partly,
		// so allow a third less than the limit.
		want := time.Duration(float64(total) / (tpm / 60) * 1.5 * float64(time.Second))
		if last := starts[len(starts)-1].at; last > want {
			t.Errorf("last start at %v, want at most %v", last, want)
		}
	})
}

func TestLimitRequestsAndTokensTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rpm, tpm = 600, 30000 // 10 requests and 500 tokens a second
		l := NewLimiter(rpm, tpm)
		starts := runWaits(t, l, 6, 40, func(w, i int) int { return 50 + (w*13+i*7)%200 })
		c, tok := maxInWindow(starts, time.Second)
		if c > rpm/60 || tok > tpm/60 {
			t.Errorf("1 s window: %d starts, %d tokens (limits %d, %d)", c, tok, rpm/60, tpm/60)
		}
		c, tok = maxInWindow(starts, time.Minute)
		if c > rpm || tok > tpm {
			t.Errorf("60 s window: %d starts, %d tokens (limits %d, %d)", c, tok, rpm, tpm)
		}
	})
}

func TestLimitOversizedRequestGoesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 6000 // 100 tokens a second
		l := NewLimiter(0, tpm)
		t0 := time.Now()
		if err := l.Wait(t.Context(), 3*tpm); err != nil { // three minutes' budget
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("oversized request waited %v on an empty log", d)
		}
		if err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		// Its 18,000 tokens are paid at 100 a second before the next starts.
		if d := time.Since(t0); d != 180*time.Second+windowMargin {
			t.Errorf("next request after %v, want 180 s", d)
		}
		// An oversized one starts alone: not within a second of the last.
		t1 := time.Now()
		if err := l.Wait(t.Context(), 150); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t1); d != time.Second+windowMargin {
			t.Errorf("oversized request %v after a small one, want 1 s", d)
		}
	})
}

// TestLimitSentMovesTheWindow: a request granted at 0 but sent at 300 ms
// (a slow connect) counts from 300 ms, so the next waits for that.
func TestLimitSentMovesTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(60, 0) // one a second
		t0 := time.Now()
		s, err := l.Acquire(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		s.Sent(time.Now())
		if err := l.Wait(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != 1300*time.Millisecond+windowMargin {
			t.Errorf("second start at %v, want 1.3 s", d)
		}
		var none *Slot
		none.Sent(time.Now()) // no panic
	})
}

// TestLimitPendingStartCountsInEveryWindow: a request granted at 0 whose
// headers go out only at 2 s (a slow connect) counts in every window while
// it is pending, so requests granted meanwhile still keep the windows once
// its start is known. The old limiter checked them against its grant time
// and then moved it: starts at 0.5, 1.05, 1.55 and 2.0 s, three in a
// second at --rpm 120. A grant never reported sent counts from its
// Release.
func TestLimitPendingStartCountsInEveryWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(120, 0) // two a second, 0.5 s apart
		t0 := time.Now()
		var slow time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			s, err := l.Acquire(t.Context(), 0)
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Second)
			s.Sent(time.Now())
			slow = time.Since(t0)
		}()
		synctest.Wait() // granted, pending
		starts := runWaits(t, l, 1, 3, func(int, int) int { return 0 })
		<-done
		// runWaits measures from its call: t0 too, no fake time has passed.
		starts = append(starts, waitStart{at: slow})
		slices.SortFunc(starts, func(a, b waitStart) int { return int(a.at - b.at) })
		if c, _ := maxInWindow(starts, time.Second); c > 2 {
			t.Errorf("%d starts in one 1 s window, limit 2: %v", c, starts)
		}
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].at - starts[i-1].at; gap < 500*time.Millisecond {
				t.Errorf("starts %v and %v are %v apart, want ≥ 0.5 s", starts[i-1].at, starts[i].at, gap)
			}
		}

		// Released without Sent: counted as started at the release.
		l = NewLimiter(60, 0)
		s, err := l.Acquire(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		time.Sleep(300 * time.Millisecond)
		s.Release()
		s.Sent(time.Now().Add(time.Hour)) // too late: the release counted
		if err := l.Wait(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t1); d != 1300*time.Millisecond+windowMargin {
			t.Errorf("next start %v after a grant released at 0.3 s, want 1.35 s", d)
		}
	})
}

// TestLimitBackoffResumesAtItsEnd: waiters that meet a backoff start when
// it ends, spaced as before: they hold back nothing while they wait (the
// old limiter kept the slots they had reserved, adding one spacing per
// waiter to the pause).
func TestLimitBackoffResumesAtItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(120, 0) // one start every 0.5 s
		wait := goWaits(t, l, 4, 3)
		time.Sleep(1200 * time.Millisecond) // starts at 0, 0.5, 1.01
		l.Backoff(time.Second)              // a 429 with Retry-After: 1, until 2.2 s
		starts := wait()
		var after []time.Duration
		for _, s := range starts {
			switch {
			case s < 1200*time.Millisecond:
			case s < 2200*time.Millisecond:
				t.Errorf("start at %v during the backoff", s)
			default:
				after = append(after, s)
			}
		}
		if len(after) == 0 || after[0] != 2200*time.Millisecond {
			t.Fatalf("starts after the backoff %v, want the first at 2.2 s (its end)", after)
		}
		for i := 1; i < len(after); i++ {
			if gap := after[i] - after[i-1]; gap < 500*time.Millisecond || gap > 500*time.Millisecond+windowMargin {
				t.Errorf("starts %v and %v are %v apart, want 0.5 s", after[i-1], after[i], gap)
			}
		}
	})
}

func TestLimitBackoffPausesEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(600, 0) // one start every 0.1 s
		t0 := time.Now()
		wait := goWaits(t, l, 20, 1)
		time.Sleep(350 * time.Millisecond) // four have started (0, 0.1, 0.2, 0.3 s)
		l.Backoff(10 * time.Second)        // a 429 with Retry-After: 10
		if got := l.PausedUntil().Sub(t0); got != 10350*time.Millisecond {
			t.Errorf("PausedUntil = %v after start, want 10.35 s", got)
		}
		l.Backoff(time.Second) // a shorter one does not shorten it
		starts := wait()
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
