package dashscope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint paths, appended to the base URL.
const (
	pathGeneration = "/api/v1/services/aigc/multimodal-generation/generation"
	pathChat       = "/compatible-mode/v1/chat/completions"
	pathUploads    = "/api/v1/uploads"
)

// Client calls DashScope. It is safe for concurrent use. Create it with
// NewClient.
type Client struct {
	apiKey    string
	baseURL   *url.URL
	doer      Doer
	userAgent string
	workspace string

	maxRetries        int
	rateLimitRetries  int  // retries of a 429; see effectiveRateLimitRetries
	rateLimitSet      bool // WithRateLimitRetries was given
	onRetry           func(RetryInfo)
	connectTimeout    time.Duration
	requestTimeout    time.Duration
	streamIdleTimeout time.Duration
	backoffBase       time.Duration
	backoffMax        time.Duration
	rateLimitBase     time.Duration
	rateLimitMax      time.Duration
	uploadTimeout     time.Duration // 0: scaled by size, see uploadTimeoutFor
	retryAfterSent    bool

	secrets *Redactor // the key and key-shaped strings; see Redact

	cache UploadCache
	now   func() time.Time
	// sleep waits before a retry; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	policyMu sync.Mutex
	policies map[string]*Policy
}

// NewClient returns a client that authenticates with apiKey. Without options
// it talks to the Singapore region (DefaultRegion) with the defaults
// documented on the Default constants.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	apiKey = strings.TrimSpace(apiKey)
	if err := CheckKey(apiKey); err != nil {
		return nil, err
	}
	c := &Client{
		apiKey:            apiKey,
		userAgent:         DefaultUserAgent,
		maxRetries:        DefaultMaxRetries,
		connectTimeout:    DefaultConnectTimeout,
		requestTimeout:    DefaultRequestTimeout,
		streamIdleTimeout: DefaultStreamIdleTimeout,
		backoffBase:       DefaultBackoffBase,
		backoffMax:        DefaultBackoffMax,
		rateLimitBase:     DefaultRateLimitBackoffBase,
		rateLimitMax:      DefaultRateLimitBackoffMax,
		cache:             NewMemoryCache(),
		now:               time.Now,
		sleep:             sleepContext,
		policies:          map[string]*Policy{},
		secrets:           NewRedactor(true, apiKey),
	}
	if err := c.setBaseURL(BaseURLIntl); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.doer == nil {
		c.doer = c.defaultHTTPClient()
	}
	if !c.rateLimitSet {
		// One knob by default: no retries means none for 429 either;
		// otherwise a 429 gets enough attempts to outlast a minute window.
		c.rateLimitRetries = 0
		if c.maxRetries > 0 {
			c.rateLimitRetries = max(c.maxRetries, DefaultRateLimitRetries)
		}
	}
	return c, nil
}

func (c *Client) defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: c.connectTimeout, KeepAlive: 30 * time.Second}
	tr.DialContext = d.DialContext
	tr.TLSHandshakeTimeout = c.connectTimeout
	tr.IdleConnTimeout = idleConnTimeout
	// Timeouts are per attempt (see attempt); the http.Client has none so
	// that streams can run as long as they keep sending.
	return &http.Client{Transport: tr}
}

// BaseURL returns the base URL the client appends endpoint paths to.
func (c *Client) BaseURL() string { return c.baseURL.String() }

// String describes the client without revealing the API key.
func (c *Client) String() string {
	return fmt.Sprintf("dashscope.Client{BaseURL: %q, Key: %q}", c.baseURL.String(), RedactKey(c.apiKey))
}

// GoString is String, so %#v does not print the key either.
func (c *Client) GoString() string { return c.String() }

func (c *Client) endpoint(path string) string {
	u := *c.baseURL
	u.Path += path
	return u.String()
}

// call is one logical API call, possibly made of several attempts.
type call struct {
	op      string // for messages: "generate", "chat completion", "upload" …
	method  string
	url     string
	header  http.Header
	body    *body // nil: no body
	stream  bool
	noAuth  bool // do not send the API key (OSS upload)
	idempot bool // safe to replay after a timeout (GET)
	// partial: a response marked x-dashscope-partialresponse is decoded as
	// an answer whatever its status (generation calls).
	partial bool
	// timeout replaces the client's request timeout for this call (uploads).
	timeout time.Duration
	// decodeErr turns a non-2xx response into an error; nil: JSON APIError.
	decodeErr func(resp *http.Response, data []byte) *APIError
	// decode consumes a 2xx response.
	decode func(resp *http.Response, body io.Reader, st *attemptState) error
}

// attemptState is what one attempt learned about itself.
type attemptState struct {
	sent      atomic.Bool // the whole request was handed to the connection
	delivered bool        // a stream delta reached the caller
	// redact scrubs secrets from response text before anything cuts it
	// (nil: identity, for decoders used outside an attempt).
	redact func(string) string
}

// scrub returns b with the API key and key-like strings redacted. It runs
// on the whole raw text before any truncation: a cut through the key would
// leave a prefix that neither the exact match nor the sk-… pattern finds.
func (st *attemptState) scrub(b []byte) string {
	if st == nil || st.redact == nil {
		return string(b)
	}
	return st.redact(string(b))
}

// stopError carries an error returned by a caller's callback; it is never
// retried and is returned unwrapped.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// decodeError marks a 2xx response whose body could not be understood. It
// is not retried: the call may have been billed.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decode response: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

type constError string

func (e constError) Error() string { return string(e) }

const (
	errRequestTimeout = constError("request timeout")
	errStreamIdle     = constError("stream idle timeout")
)

// do runs cl with retries. See retry.go for the policy: a 429 has its own
// count and a slower backoff than other retryable failures. Every error it
// returns or reports to OnRetry is sanitized (see sanitize), except one
// returned by the caller's own callback.
func (c *Client) do(ctx context.Context, cl *call) error {
	var limited, other int // retries so far, by kind
	waiter, _ := c.doer.(AttemptWaiter)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return c.sanitize(fmt.Errorf("dashscope: %s: %w", cl.op, err))
		}
		if waiter != nil {
			// Before the attempt's timeout starts: a wait for a rate
			// limiter is not time the server took.
			if err := waiter.WaitAttempt(ctx); err != nil {
				return c.sanitize(fmt.Errorf("dashscope: %s: %w", cl.op, err))
			}
		}
		retry, retryAfter, err := c.attempt(ctx, cl)
		if err == nil {
			return nil
		}
		if stop, ok := err.(*stopError); ok {
			return stop.err
		}
		err = c.sanitize(err)
		if !retry {
			return err
		}
		if retryAfter > maxRetryAfter {
			return c.sanitize(&waitError{err: err, wait: retryAfter, until: c.now().Add(retryAfter)})
		}
		var delay time.Duration
		if isRateLimited(err) {
			if limited >= c.rateLimitRetries {
				return err
			}
			limited++
			delay = c.rateLimitDelay(limited, retryAfter)
		} else {
			if other >= c.maxRetries {
				return err
			}
			other++
			delay = c.retryDelay(other, retryAfter)
		}
		if c.onRetry != nil {
			c.onRetry(RetryInfo{Op: cl.op, Attempt: attempt, Delay: delay, Err: err})
		}
		if werr := c.sleep(ctx, delay); werr != nil {
			return c.sanitize(fmt.Errorf("dashscope: %s: canceled while waiting to retry: %w (last error: %w)", cl.op, werr, err))
		}
	}
}

// AttemptWaiter is an optional interface of the Doer given to
// WithHTTPClient: the client calls WaitAttempt with the call's context
// before every attempt, retries included, and before that attempt's
// request timeout starts, so that waiting for a rate limiter never counts
// as the server's time. An error (the context ended) ends the call.
type AttemptWaiter interface {
	WaitAttempt(ctx context.Context) error
}

// waitError is a retryable failure whose Retry-After is longer than the
// client waits (maxRetryAfter): it says how long the service asked for.
type waitError struct {
	err   error
	wait  time.Duration
	until time.Time
}

func (e *waitError) Error() string {
	at := e.until.Format("15:04:05 MST")
	if e.wait >= 24*time.Hour {
		at = e.until.Format("2006-01-02 15:04 MST")
	}
	secs := int64((e.wait + time.Second - 1) / time.Second)
	return fmt.Sprintf("%v; the service asks to wait %d s; try again after %s", e.err, secs, at)
}

func (e *waitError) Unwrap() error { return e.err }

// attempt makes one HTTP exchange. It reports whether the call may be
// retried, the server's Retry-After, and the error.
func (c *Client) attempt(ctx context.Context, cl *call) (retry bool, retryAfter time.Duration, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var timer *time.Timer
	timeout := c.requestTimeout
	if cl.timeout > 0 {
		timeout = cl.timeout
	}
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() { cancel(errRequestTimeout) })
		defer timer.Stop()
	}
	st := &attemptState{redact: c.redactText}
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			st.sent.Store(true)
		}
	}}
	var reqBody io.Reader
	if cl.body != nil {
		reqBody = cl.body.reader(func() { st.sent.Store(true) })
	}
	req, rerr := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), cl.method, cl.url, reqBody)
	if rerr != nil {
		return false, 0, fmt.Errorf("dashscope: %s: build request: %w", cl.op, c.sanitize(rerr))
	}
	if cl.body != nil {
		req.ContentLength = cl.body.size
		req.GetBody = func() (io.ReadCloser, error) {
			return cl.body.reader(func() { st.sent.Store(true) }), nil
		}
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	if !cl.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
		if c.workspace != "" {
			req.Header.Set("X-DashScope-WorkSpace", c.workspace)
		}
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}

	resp, derr := c.doer.Do(req)
	if derr != nil {
		return c.failure(ctx, actx, cl, st, derr)
	}
	defer resp.Body.Close()

	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if !ok && cl.partial && isPartial(resp.Header) {
		// The service cut the call at its time limit and sent what it had:
		// the answer so far is the result (billed, so never retried).
		return false, 0, c.partialFailure(resp, cl, st)
	}
	if !ok {
		// A body that fails to arrive still leaves the status to report.
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		// Scrub first: the decoders cut long text, possibly inside the key.
		data = []byte(c.redactText(string(data)))
		var apiErr *APIError
		if cl.decodeErr != nil {
			apiErr = cl.decodeErr(resp, data)
		} else {
			apiErr = decodeAPIError(resp, data)
		}
		apiErr.RetryAfter = parseRetryAfter(resp.Header, c.now())
		return retryableStatus(resp.StatusCode), apiErr.RetryAfter, apiErr
	}

	var body io.Reader = resp.Body
	if cl.stream {
		// The request timeout covers the wait for the headers; from here on
		// the idle timeout watches the stream.
		if timer != nil {
			timer.Stop()
		}
		if c.streamIdleTimeout > 0 {
			ir := newIdleReader(resp.Body, c.streamIdleTimeout, func() { cancel(errStreamIdle) })
			defer ir.stop()
			body = ir
		}
	}
	if derr := cl.decode(resp, body, st); derr != nil {
		return c.failure(ctx, actx, cl, st, derr)
	}
	return false, 0, nil
}

// maxPartialBody caps a partial answer read from a non-2xx response.
const maxPartialBody = 16 << 20

// partialFailure decodes a non-2xx response marked
// x-dashscope-partialresponse: true as the answer so far. It returns nil
// when that worked (the caller's Response has Partial set), else an
// APIError marked Partial with the body's code, message and request ID.
func (c *Client) partialFailure(resp *http.Response, cl *call, st *attemptState) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxPartialBody))
	if err := cl.decode(resp, bytes.NewReader(data), st); err == nil {
		return nil
	}
	apiErr := decodeAPIError(resp, []byte(c.redactText(string(data))))
	apiErr.Partial = true
	return apiErr
}

// failure classifies an error that happened while sending the request or
// reading the response. The caller's own error comes back as the
// *stopError; a transport error is sanitized before anything quotes it.
func (c *Client) failure(ctx, actx context.Context, cl *call, st *attemptState, err error) (bool, time.Duration, error) {
	var stop *stopError
	if errors.As(err, &stop) {
		return false, 0, stop
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) { // an error event inside a stream
		apiErr.Partial = st.delivered
		return !st.delivered && retryableStatus(apiErr.StatusCode), 0, apiErr
	}
	err = c.sanitize(err)
	if ctx.Err() != nil { // the caller gave up
		return false, 0, fmt.Errorf("dashscope: %s: %w", cl.op, ctx.Err())
	}
	var derr *decodeError
	if errors.As(err, &derr) {
		return false, 0, fmt.Errorf("dashscope: %s: %w", cl.op, err)
	}
	cause := context.Cause(actx)
	var nerr net.Error
	isTimeout := errors.Is(cause, errRequestTimeout) || errors.Is(cause, errStreamIdle) ||
		(errors.As(err, &nerr) && nerr.Timeout())
	if isTimeout {
		te := &TimeoutError{Op: cl.op, Sent: st.sent.Load(), Partial: st.delivered}
		switch {
		case errors.Is(cause, errStreamIdle):
			te.Idle, te.After = true, c.streamIdleTimeout
		case errors.Is(cause, errRequestTimeout):
			te.After = c.requestTimeout
			if cl.timeout > 0 {
				te.After = cl.timeout
			}
		default:
			te.Err = err
		}
		te.Retried = !st.delivered && c.mayReplay(cl, te.Sent)
		return te.Retried, 0, te
	}
	if st.delivered {
		return false, 0, fmt.Errorf("dashscope: %s: %w", cl.op, err)
	}
	if !c.mayReplay(cl, st.sent.Load()) {
		// The same policy as a timeout after sending: the service may have
		// received, run and billed the request; a replay could pay twice.
		return false, 0, fmt.Errorf("dashscope: %s: no complete response after the request was sent (it may have been billed, so it was not replayed): %w", cl.op, err)
	}
	return true, 0, fmt.Errorf("dashscope: %s: %w", cl.op, err)
}

// mayReplay reports whether an attempt that failed without a response may
// be made again: when the request was not completely sent, when the call
// is idempotent, or when WithRetryAfterSentTimeout opted in.
func (c *Client) mayReplay(cl *call, sent bool) bool {
	return !sent || cl.idempot || c.retryAfterSent
}

// TimeoutError reports an attempt that ran out of time: no response within
// the request timeout, or a stream that stalled for the idle timeout.
type TimeoutError struct {
	Op      string        // the operation
	Idle    bool          // a stream sent nothing for After
	After   time.Duration // the timeout that fired (0 when the transport timed out)
	Sent    bool          // the request had been sent completely: it may be billed
	Partial bool          // stream deltas had already been delivered
	Retried bool          // the client considered it safe to retry
	Err     error         // the transport's own timeout error, if that is what fired
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dashscope: %s: ", e.Op)
	switch {
	case e.Idle:
		fmt.Fprintf(&b, "stream stalled: no data for %v", e.After)
	case e.After > 0:
		fmt.Fprintf(&b, "no complete response within %v", e.After)
	default:
		fmt.Fprintf(&b, "timeout: %v", e.Err)
	}
	if e.Sent && !e.Retried && !e.Partial {
		b.WriteString(" (the request was sent and may have been billed, so it was not replayed)")
	}
	if e.Partial {
		b.WriteString(" (after partial output)")
	}
	return b.String()
}

// Timeout reports true, like net.Error.
func (e *TimeoutError) Timeout() bool { return true }

// Unwrap returns the transport's timeout error, if any.
func (e *TimeoutError) Unwrap() error { return e.Err }

// idleReader cancels a stream that delivers no bytes for d.
type idleReader struct {
	r io.Reader
	d time.Duration
	t *time.Timer
}

func newIdleReader(r io.Reader, d time.Duration, onIdle func()) *idleReader {
	return &idleReader{r: r, d: d, t: time.AfterFunc(d, onIdle)}
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

func (r *idleReader) stop() { r.t.Stop() }
