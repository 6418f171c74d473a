package dashscope

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The retry policy, after openai-go's requestconfig and restic's retry
// backend:
//
//   - retried: connection errors, 408, 429, 500, 502, 503 and 504, and
//     timeouts that happened before the request was completely sent;
//   - never retried: other statuses (400, 401, 403, 404, 413 …), errors
//     returned by the caller's callbacks, undecodable 2xx bodies, a canceled
//     context, a Retry-After longer than two minutes, and — unless
//     WithRetryAfterSentTimeout — a timeout after the request was sent,
//     because the service may already have run and billed it
//     (https://github.com/langgenius/dify-official-plugins/pull/3659);
//   - a stream is retried only if it failed before any delta reached the
//     caller;
//   - a connection that drops after the request was completely sent is
//     treated like a timeout after sending: not replayed unless
//     WithRetryAfterSentTimeout (Go's transport itself still retries a
//     request that never left on a stale keep-alive connection);
//   - the wait honours Retry-After (seconds or an HTTP date; also
//     retry-after-ms), else is capped exponential backoff with jitter; it
//     ends early when ctx is done;
//   - a 429 without Retry-After backs off for DashScope's per-minute
//     windows (requests and tokens per minute, reference/dashscope-notes.md
//     §6): attempt n waits a random time in [c/2, c] with
//     c = min(60 s, 4 s·2^(n-1)), so the default 5 retries wait 2–4, 4–8,
//     8–16, 16–32 and 30–60 s, at least a minute in all; other failures wait
//     [0, min(30 s, 1 s·2^(n-1))] (full jitter) for 3 retries;
//   - WithOnRetry's hook sees every retry with its delay and cause.

// retryableStatus reports whether an HTTP status is worth another attempt.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryDelay is the wait before attempt+1: the server's Retry-After when it
// gave a usable one, else a random duration in [0, min(max, base·2^(attempt-1))].
func (c *Client) retryDelay(attempt int, retryAfter time.Duration) time.Duration {
	return jitter(retryAfter, backoffCeil(c.backoffBase, c.backoffMax, attempt), 0)
}

// isRateLimited reports whether err is a 429 (also one announced inside a
// stream), which has its own retry count and backoff.
func isRateLimited(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusTooManyRequests || apiErr.Class().IsRateLimit())
}

// rateLimitDelay is the wait before retry n of a 429: the server's
// Retry-After when usable, else a random duration in [c/2, c] with
// c = min(max, base·2^(n-1)) ("equal jitter": never near zero, so a retry
// does not land in the same per-minute window at once).
func (c *Client) rateLimitDelay(n int, retryAfter time.Duration) time.Duration {
	ceil := backoffCeil(c.rateLimitBase, c.rateLimitMax, n)
	return jitter(retryAfter, ceil, ceil/2)
}

// backoffCeil is min(max, base·2^(n-1)), safe from overflow.
func backoffCeil(base, max time.Duration, n int) time.Duration {
	ceil := max
	if shift := n - 1; shift < 32 {
		if d := base << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	return ceil
}

// jitter returns retryAfter when the server gave a usable one, else a
// random duration in [floor, ceil].
func jitter(retryAfter, ceil, floor time.Duration) time.Duration {
	if retryAfter > 0 && retryAfter <= maxRetryAfter {
		return retryAfter
	}
	if ceil <= 0 {
		return 0
	}
	return floor + time.Duration(rand.Int64N(int64(ceil-floor)+1))
}

// parseRetryAfter reads retry-after-ms, then Retry-After as seconds or as
// an HTTP date. It returns 0 when there is none or it is in the past.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// sleepContext waits for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
