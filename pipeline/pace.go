package pipeline

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qwen-vision/vision/dashscope"
)

// defaultThrottlePause is the shared pause after a 429 without Retry-After:
// DashScope's limits are enforced per second as well as per minute
// (reference/dashscope-notes.md §5), so one second lets the window pass.
const defaultThrottlePause = time.Second

// PaceAttempts wraps the HTTP client of a *dashscope.Client so that every
// retry the client makes inside one of Run's requests first waits for the
// run's limiter, and a 429 pauses every worker of the run for its
// Retry-After (one shared backoff instead of N workers hammering the
// server). Requests not made by Run (uploads, other callers) pass through
// unchanged. Build the client with
//
//	dashscope.NewClient(key, dashscope.WithHTTPClient(pipeline.PaceAttempts(httpClient)))
//
// A nil next uses http.DefaultClient.
func PaceAttempts(next dashscope.Doer) dashscope.Doer {
	if next == nil {
		next = http.DefaultClient
	}
	return pacedDoer{next}
}

type pacedDoer struct{ next dashscope.Doer }

type paceKey struct{}

// pace is the state of one request of a run, carried in its context.
type pace struct {
	lim      *Limiter
	tokens   int
	first    *Slot // the first attempt's start, granted by Run before sending
	attempts atomic.Int32
	onRetry  func(attempt int, cause string)

	mu     sync.Mutex
	cause  string // what the last attempt got
	slot   *Slot  // granted by WaitAttempt for the next Do
	waited bool   // WaitAttempt ran for the next Do
}

func withPace(ctx context.Context, p *pace) context.Context {
	return context.WithValue(ctx, paceKey{}, p)
}

func (p *pace) setCause(c string) {
	p.mu.Lock()
	p.cause = c
	p.mu.Unlock()
}

func (p *pace) lastCause() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

// WaitAttempt implements dashscope.AttemptWaiter: the client calls it
// before every attempt, before the attempt's request timeout starts, so a
// retry's wait for the limiter is not counted as the server's time (a
// wait longer than --request-timeout turned into a timeout of a request
// never sent). Run waited for the first attempt itself; retries wait here.
func (d pacedDoer) WaitAttempt(ctx context.Context) error {
	p, _ := ctx.Value(paceKey{}).(*pace)
	if p == nil {
		return nil
	}
	slot, err := p.wait(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.slot, p.waited = slot, true
	p.mu.Unlock()
	return nil
}

// wait counts an attempt and, for a retry, reports it and waits for the
// limiter; it returns the attempt's slot.
func (p *pace) wait(ctx context.Context) (*Slot, error) {
	if n := p.attempts.Add(1); n > 1 {
		if p.onRetry != nil {
			p.onRetry(int(n), p.lastCause())
		}
		return p.lim.Acquire(ctx, p.tokens)
	}
	return p.first, nil
}

func (d pacedDoer) Do(req *http.Request) (*http.Response, error) {
	p, _ := req.Context().Value(paceKey{}).(*pace)
	if p == nil {
		return d.next.Do(req)
	}
	p.mu.Lock()
	slot, waited := p.slot, p.waited
	p.slot, p.waited = nil, false
	p.mu.Unlock()
	if !waited { // a client that does not call WaitAttempt: wait here
		var err error
		if slot, err = p.wait(req.Context()); err != nil {
			return nil, err
		}
	}
	// The attempt starts when its headers have been written, after any
	// connecting: the first moment the server can count it (its body may
	// take longer to upload). Until then the limiter counts it as pending;
	// an attempt that never got its headers out is counted when it ends.
	trace := &httptrace.ClientTrace{WroteHeaders: func() { slot.Sent(time.Now()) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := d.next.Do(req)
	slot.Release()
	switch {
	case err != nil:
		if req.Context().Err() != nil {
			p.setCause("timeout")
		} else {
			p.setCause("network")
		}
	case resp.StatusCode == http.StatusTooManyRequests:
		p.setCause("429")
		p.lim.Backoff(retryAfter(resp.Header))
	case resp.StatusCode >= 300:
		p.setCause(strconv.Itoa(resp.StatusCode))
	}
	return resp, err
}

// retryAfter reads Retry-After in seconds (or retry-after-ms); HTTP dates
// and missing values give the default pause.
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	if s, err := strconv.ParseFloat(h.Get("Retry-After"), 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	return defaultThrottlePause
}
