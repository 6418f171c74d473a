package dashscope

import (
	"context"
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
//   - the wait honours Retry-After (seconds or an HTTP date; also
//     retry-after-ms), else is capped exponential backoff with full jitter;
//     it ends early when ctx is done;
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
	if retryAfter > 0 && retryAfter <= maxRetryAfter {
		return retryAfter
	}
	ceil := c.backoffMax
	if shift := attempt - 1; shift < 32 {
		if d := c.backoffBase << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
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
