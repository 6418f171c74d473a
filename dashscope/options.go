package dashscope

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Base URLs of the DashScope regions (scheme and host only; the client
// appends the endpoint paths). Keys are region-specific: a key used in the
// wrong region fails with 401 InvalidApiKey. Source: "DashScope API
// reference", https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope .
const (
	BaseURLIntl = "https://dashscope-intl.aliyuncs.com"        // Singapore, region "intl"
	BaseURLUS   = "https://dashscope-us.aliyuncs.com"          // US (Virginia), region "us"
	BaseURLCN   = "https://dashscope.aliyuncs.com"             // China (Beijing), region "cn"
	BaseURLHK   = "https://cn-hongkong.dashscope.aliyuncs.com" // China (Hong Kong), region "hk"
)

// Defaults, chosen as follows.
const (
	// DefaultRegion is Singapore, the international deployment.
	DefaultRegion = "intl"
	// DefaultMaxRetries retries a call that failed with a connection
	// error, 408 or 5xx three times.
	DefaultMaxRetries = 3
	// DefaultBackoffBase and DefaultBackoffMax bound the full-jitter backoff
	// of those: retry n waits a random time in [0, min(max, base·2^(n-1))].
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 30 * time.Second
	// DefaultRateLimitRetries retries a 429 five times. DashScope's limits
	// are requests and tokens per minute (reference/dashscope-notes.md §6:
	// "usually clears within a minute"), so the retries of a 429 without
	// Retry-After span at least a minute: see DefaultRateLimitBackoffBase.
	DefaultRateLimitRetries = 5
	// DefaultRateLimitBackoffBase and DefaultRateLimitBackoffMax shape the
	// backoff of a 429 without Retry-After: retry n waits a random time in
	// [c/2, c], c = min(max, base·2^(n-1)): 2–4 s, 4–8 s, 8–16 s, 16–32 s,
	// 30–60 s (60–120 s in all).
	DefaultRateLimitBackoffBase = 4 * time.Second
	DefaultRateLimitBackoffMax  = 60 * time.Second
	// maxUploadTimeout caps the per-attempt timeout of an upload: the
	// DashScope Python SDK allows an upload 3600 s
	// (reference/dashscope-notes.md §2, step 2).
	maxUploadTimeout = time.Hour
	// minUploadRate is the slowest upload speed the scaled upload timeout
	// allows for: the request timeout plus one second per 64 KiB.
	minUploadRate = 64 << 10
	// DefaultConnectTimeout bounds dialing and the TLS handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds one attempt of a non-streaming call, from
	// sending the request to reading the whole response, and the wait for the
	// response headers of a stream. The service itself cuts a non-streaming
	// call at 300 s and returns the partial text, so this leaves a margin.
	DefaultRequestTimeout = 330 * time.Second
	// DefaultStreamIdleTimeout fails a stream that sends no byte for this
	// long while the connection stays open (seen in the wild, see
	// https://github.com/Nerovix/kouhai-bot/pull/46).
	DefaultStreamIdleTimeout = 90 * time.Second
	// DefaultUserAgent is sent unless WithUserAgent replaces it.
	DefaultUserAgent = "vision-dashscope-go/1"
	// maxRetryAfter is the longest Retry-After the client waits for; a longer
	// one ends the retries and the caller sees APIError.RetryAfter.
	maxRetryAfter = 2 * time.Minute
	// idleConnTimeout drops pooled connections early: stale keep-alive
	// connections caused 300 s read timeouts in the Python SDK
	// (https://github.com/langgenius/dify-official-plugins/issues/3624).
	idleConnTimeout = 30 * time.Second
)

// Doer sends an HTTP request; *http.Client implements it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// RetryInfo describes a retry about to happen; see WithOnRetry.
type RetryInfo struct {
	Op      string        // the operation, e.g. "generate", "upload"
	Attempt int           // the attempt that failed, starting at 1
	Delay   time.Duration // the wait before the next attempt
	Err     error         // why the attempt failed
}

// Option configures a Client in NewClient.
type Option func(*Client) error

// RegionBaseURL returns the base URL of a region: "intl" (Singapore), "us"
// (Virginia), "cn" (Beijing) or "hk" (Hong Kong).
func RegionBaseURL(region string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(region)) {
	case "intl":
		return BaseURLIntl, nil
	case "us":
		return BaseURLUS, nil
	case "cn":
		return BaseURLCN, nil
	case "hk":
		return BaseURLHK, nil
	}
	return "", fmt.Errorf("dashscope: unknown region %s (want intl, us, cn or hk)", shown(region))
}

// RegionOfHost returns the region whose base URL has host (e.g.
// "dashscope.aliyuncs.com" → "cn"), and false for any other host (a test
// server, a proxy, a workspace domain).
func RegionOfHost(host string) (string, bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, r := range []string{"intl", "us", "cn", "hk"} {
		base, _ := RegionBaseURL(r)
		if u, err := url.Parse(base); err == nil && u.Host == host {
			return r, true
		}
	}
	return "", false
}

// WithRegion selects the region's base URL; see RegionBaseURL.
func WithRegion(region string) Option {
	return func(c *Client) error {
		u, err := RegionBaseURL(region)
		if err != nil {
			return err
		}
		return c.setBaseURL(u)
	}
}

// WithBaseURL sets the scheme and host (and optionally a path prefix) of the
// service, e.g. "https://{WorkspaceId}.ap-southeast-1.maas.aliyuncs.com" or a
// test server "http://127.0.0.1:8080". The client appends
// /api/v1/services/aigc/multimodal-generation/generation,
// /compatible-mode/v1/chat/completions and /api/v1/uploads.
func WithBaseURL(base string) Option {
	return func(c *Client) error { return c.setBaseURL(base) }
}

func (c *Client) setBaseURL(base string) error {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return errors.New("dashscope: invalid base URL")
	}
	if LooksLikeKey(base) {
		return errors.New("dashscope: invalid base URL: the value looks like an API key (not shown); want http(s)://host")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("dashscope: invalid base URL %q: want http(s)://host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("dashscope: invalid base URL %q: no user info, query or fragment allowed", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	// The SDKs' base URLs end in /api/v1 or /compatible-mode/v1 (seed 000
	// line 23); this client appends those itself.
	for _, suffix := range []string{"/api/v1", "/compatible-mode/v1"} {
		if strings.HasSuffix(u.Path, suffix) {
			return fmt.Errorf("dashscope: invalid base URL %q: give the scheme and host only, e.g. %s; the client appends %s/…", u.Redacted(), BaseURLIntl, suffix)
		}
	}
	c.baseURL = u
	return nil
}

// WithHTTPClient makes the client send requests through d (an *http.Client
// or any Doer). The connect timeout of WithTimeouts then belongs to d.
func WithHTTPClient(d Doer) Option {
	return func(c *Client) error {
		if d == nil {
			return errors.New("dashscope: nil HTTP client")
		}
		c.doer = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// WithWorkspace sends X-DashScope-WorkSpace: id, for calls in a
// sub-workspace.
func WithWorkspace(id string) Option {
	return func(c *Client) error {
		c.workspace = id
		return nil
	}
}

// WithMaxRetries sets how many times a call that failed with a connection
// error, a timeout before sending, 408 or 5xx is retried. 0 disables every
// retry, 429s included; otherwise a 429 is retried
// max(n, DefaultRateLimitRetries) times unless WithRateLimitRetries says
// otherwise.
func WithMaxRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("dashscope: negative max retries %d", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRateLimitRetries sets how many times a 429 is retried, whatever
// WithMaxRetries says.
func WithRateLimitRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return fmt.Errorf("dashscope: negative rate-limit retries %d", n)
		}
		c.rateLimitRetries, c.rateLimitSet = n, true
		return nil
	}
}

// WithRateLimitBackoff sets the base and the cap of the backoff after a 429
// without Retry-After (see DefaultRateLimitBackoffBase).
func WithRateLimitBackoff(base, max time.Duration) Option {
	return backoffOption("rate-limit backoff", base, max, func(c *Client) (*time.Duration, *time.Duration) {
		return &c.rateLimitBase, &c.rateLimitMax
	})
}

// WithUploadTimeout sets the per-attempt timeout of a file upload to OSS.
// By default it grows with the file: the request timeout plus one second
// per 64 KiB, at most an hour (the Python SDK's upload timeout).
func WithUploadTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("dashscope: invalid upload timeout %v", d)
		}
		c.uploadTimeout = d
		return nil
	}
}

// uploadTimeoutFor is the per-attempt timeout of uploading size bytes.
func (c *Client) uploadTimeoutFor(size int64) time.Duration {
	if c.uploadTimeout > 0 {
		return c.uploadTimeout
	}
	if c.requestTimeout <= 0 {
		return 0 // timeouts disabled
	}
	d := c.requestTimeout + time.Duration(size/minUploadRate)*time.Second
	return min(max(d, c.requestTimeout), maxUploadTimeout)
}

// WithOnRetry calls fn before every retry wait, e.g. to print
// "retrying in 2s". fn must not block.
func WithOnRetry(fn func(RetryInfo)) Option {
	return func(c *Client) error {
		c.onRetry = fn
		return nil
	}
}

// WithTimeouts sets the connect, per-attempt request and stream idle
// timeouts (see DefaultConnectTimeout, DefaultRequestTimeout,
// DefaultStreamIdleTimeout). A zero value keeps the default, a negative one
// disables that timeout.
func WithTimeouts(connect, request, streamIdle time.Duration) Option {
	return func(c *Client) error {
		set := func(dst *time.Duration, v time.Duration) {
			switch {
			case v < 0:
				*dst = 0
			case v > 0:
				*dst = v
			}
		}
		set(&c.connectTimeout, connect)
		set(&c.requestTimeout, request)
		set(&c.streamIdleTimeout, streamIdle)
		return nil
	}
}

// WithBackoff sets the base and the cap of the retry backoff.
func WithBackoff(base, max time.Duration) Option {
	return backoffOption("backoff", base, max, func(c *Client) (*time.Duration, *time.Duration) {
		return &c.backoffBase, &c.backoffMax
	})
}

// backoffOption validates base and max and stores them in the fields pick
// returns.
func backoffOption(what string, base, max time.Duration, pick func(*Client) (*time.Duration, *time.Duration)) Option {
	return func(c *Client) error {
		if base <= 0 || max < base {
			return fmt.Errorf("dashscope: invalid %s base %v, max %v", what, base, max)
		}
		b, m := pick(c)
		*b, *m = base, max
		return nil
	}
}

// WithRetryAfterSentTimeout lets the client replay a request that timed out,
// or whose connection dropped, after it had been sent completely. By
// default it does not: the service may have accepted, run and billed the
// request, and replaying it doubles the cost. The DashScope Python SDK
// maintainers made the same decision when a stale-connection bug produced
// 300 s read timeouts
// (https://github.com/langgenius/dify-official-plugins/pull/3659). Timeouts
// and connection errors before the request was fully sent are always
// retried.
func WithRetryAfterSentTimeout(enable bool) Option {
	return func(c *Client) error {
		c.retryAfterSent = enable
		return nil
	}
}

// WithUploadCache sets where Upload remembers account + host + model +
// content hash → oss:// URL; the default is an in-memory cache, nil
// disables caching. Package pipeline has a persistent one
// (pipeline.OpenUploadCache).
func WithUploadCache(cache UploadCache) Option {
	return func(c *Client) error {
		c.cache = cache
		return nil
	}
}

// WithClock replaces time.Now for upload-policy and upload-cache expiry
// (for tests).
func WithClock(now func() time.Time) Option {
	return func(c *Client) error {
		if now == nil {
			return errors.New("dashscope: nil clock")
		}
		c.now = now
		return nil
	}
}
