package dashscope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const genPath = "/api/v1/services/aigc/multimodal-generation/generation"

func TestNewClientOptions(t *testing.T) {
	for region, want := range map[string]string{
		"intl": "https://dashscope-intl.aliyuncs.com",
		"us":   "https://dashscope-us.aliyuncs.com",
		"cn":   "https://dashscope.aliyuncs.com",
		"hk":   "https://cn-hongkong.dashscope.aliyuncs.com",
	} {
		c, err := NewClient(testKey, WithRegion(region))
		if err != nil || c.BaseURL() != want {
			t.Errorf("region %s: %v %v", region, c, err)
		}
		if got := c.endpoint(pathChat); got != want+"/compatible-mode/v1/chat/completions" {
			t.Errorf("endpoint %s", got)
		}
	}
	c, err := NewClient(testKey)
	if err != nil || c.BaseURL() != BaseURLIntl {
		t.Errorf("default base %v %v", c, err)
	}
	c, err = NewClient(testKey, WithBaseURL("http://127.0.0.1:8080/x/"))
	if err != nil || c.endpoint(pathUploads) != "http://127.0.0.1:8080/x/api/v1/uploads" {
		t.Errorf("base with prefix: %v %v", c, err)
	}
	for _, opt := range []Option{
		WithRegion("mars"), WithBaseURL("ftp://x"), WithBaseURL("dashscope.aliyuncs.com"),
		WithBaseURL("https://user:pw@host"), WithHTTPClient(nil), WithMaxRetries(-1),
		WithBackoff(0, time.Second), WithBackoff(time.Second, time.Millisecond), WithClock(nil),
	} {
		if _, err := NewClient(testKey, opt); err == nil {
			t.Errorf("option accepted")
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows a password: %v", err)
		}
	}
	if _, err := NewClient("  "); err == nil {
		t.Error("empty key accepted")
	}
	c, _ = NewClient(testKey, WithTimeouts(-1, 5*time.Second, 0))
	if c.connectTimeout != 0 || c.requestTimeout != 5*time.Second || c.streamIdleTimeout != DefaultStreamIdleTimeout {
		t.Errorf("timeouts %v %v %v", c.connectTimeout, c.requestTimeout, c.streamIdleTimeout)
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   APIError
		text   string
		class  Class
	}{
		{"native rpm", 429, nil, `{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please try again later.","request_id":"abc"}`,
			APIError{StatusCode: 429, Code: "Throttling.RateQuota", Message: "Requests rate limit exceeded, please try again later.", RequestID: "abc"},
			"dashscope: 429 Throttling.RateQuota: Requests rate limit exceeded, please try again later. (request id abc)", ClassRateLimitRequests},
		{"compatible tpm", 429, nil, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"},"id":"chatcmpl-1","request_id":"r2"}`,
			APIError{StatusCode: 429, Code: "insufficient_quota", Type: "insufficient_quota", Message: "You exceeded your current quota, please check your plan and billing details.", RequestID: "r2"},
			"", ClassRateLimitTokens},
		{"allocation quota", 429, nil, `{"code":"Throttling.AllocationQuota","message":"Allocated quota exceeded, please increase your quota limit.","request_id":"r3"}`,
			APIError{StatusCode: 429, Code: "Throttling.AllocationQuota", Message: "Allocated quota exceeded, please increase your quota limit.", RequestID: "r3"}, "", ClassRateLimitTokens},
		{"burst", 429, nil, `{"code":"Throttling","message":"Request rate increased too quickly","request_id":"r4"}`,
			APIError{StatusCode: 429, Code: "Throttling", Message: "Request rate increased too quickly", RequestID: "r4"}, "", ClassRateLimitBurst},
		{"data inspection", 400, nil, `{"code":"InvalidParameter.DataInspection","message":"The media format is not supported or incorrect for the data inspection.","request_id":"r5"}`,
			APIError{StatusCode: 400, Code: "InvalidParameter.DataInspection", Message: "The media format is not supported or incorrect for the data inspection.", RequestID: "r5"}, "", ClassDataInspection},
		{"download failed", 400, nil, `{"code":"InternalError.Algo.InvalidParameter","message":"Failed to download multimodal content","request_id":"r6"}`,
			APIError{StatusCode: 400, Code: "InternalError.Algo.InvalidParameter", Message: "Failed to download multimodal content", RequestID: "r6"}, "", ClassDataInspection},
		{"moderation", 400, nil, `{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"r7"}`,
			APIError{StatusCode: 400, Code: "DataInspectionFailed", Message: "Input data may contain inappropriate content.", RequestID: "r7"}, "", ClassContentModeration},
		{"bad key", 401, nil, `{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r8"}`,
			APIError{StatusCode: 401, Code: "InvalidApiKey", Message: "Invalid API-key provided.", RequestID: "r8"}, "", ClassAuth},
		{"forbidden", 403, nil, `{"code":"AccessDenied.Unpurchased","message":"Access to model denied.","request_id":"r9"}`,
			APIError{StatusCode: 403, Code: "AccessDenied.Unpurchased", Message: "Access to model denied.", RequestID: "r9"}, "", ClassAuth},
		{"arrearage", 400, nil, `{"code":"Arrearage","message":"Access denied, please make sure your account is in good standing.","request_id":"r10"}`,
			APIError{StatusCode: 400, Code: "Arrearage", Message: "Access denied, please make sure your account is in good standing.", RequestID: "r10"}, "", ClassBilling},
		{"too large", 413, nil, `<html>413 Request Entity Too Large</html>`,
			APIError{StatusCode: 413}, "dashscope: 413 Request Entity Too Large", ClassTooLarge},
		{"too large message", 400, nil, `{"code":"InvalidParameter","message":"Exceeded limit: input is too large","request_id":"r11"}`,
			APIError{StatusCode: 400, Code: "InvalidParameter", Message: "Exceeded limit: input is too large", RequestID: "r11"}, "", ClassTooLarge},
		{"bad request", 400, nil, `{"code":"InvalidParameter","message":"Role must be user or assistant","request_id":"r12"}`,
			APIError{StatusCode: 400, Code: "InvalidParameter", Message: "Role must be user or assistant", RequestID: "r12"}, "", ClassBadRequest},
		{"server", 500, map[string]string{"X-Request-Id": "hdr"}, `{"code":"InternalError","message":"An internal error has occured"}`,
			APIError{StatusCode: 500, Code: "InternalError", Message: "An internal error has occured", RequestID: "hdr"}, "", ClassServer},
		{"gateway html", 502, nil, `<html><body>bad gateway</body></html>`,
			APIError{StatusCode: 502}, "dashscope: 502 Bad Gateway", ClassServer},
		{"plain text", 404, nil, `no such route`,
			APIError{StatusCode: 404, Message: "no such route"}, "dashscope: 404 no such route", ClassBadRequest},
		{"timeout", 408, nil, `{"code":"RequestTimeOut","message":"Request timed out, please try again later.","request_id":"r13"}`,
			APIError{StatusCode: 408, Code: "RequestTimeOut", Message: "Request timed out, please try again later.", RequestID: "r13"}, "", ClassTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t, WithMaxRetries(0))
			mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.Generate(context.Background(), textRequest("m"))
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if *apiErr != tt.want {
				t.Errorf("got %+v\nwant %+v", *apiErr, tt.want)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.text)
			}
			if apiErr.Class() != tt.class || Classify(err) != tt.class {
				t.Errorf("class = %v, want %v", apiErr.Class(), tt.class)
			}
		})
	}
}

func TestErrorBodyIsLimited(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(0))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, strings.Repeat("x", 3<<20))
	})
	_, err := c.Generate(context.Background(), textRequest("m"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || len(apiErr.Message) > 300 {
		t.Fatalf("err = %.200v", err)
	}
}

func TestRetries(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var infos []RetryInfo
			c, mux, _ := setup(t, WithOnRetry(func(ri RetryInfo) { infos = append(infos, ri) }))
			var calls atomic.Int32
			mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
				wantRequest(t, r, genPath) // every replay carries the full body
				if calls.Add(1) <= 2 {
					w.WriteHeader(status)
					fmt.Fprintf(w, `{"code":"C%d","message":"m","request_id":"r"}`, status)
					return
				}
				io.WriteString(w, okNative)
			})
			resp, err := c.Generate(context.Background(), textRequest("m"))
			if err != nil || resp.Text != "fine" {
				t.Fatalf("resp %v err %v", resp, err)
			}
			if calls.Load() != 3 || len(infos) != 2 || infos[0].Attempt != 1 || infos[1].Attempt != 2 || infos[0].Op != "generate" {
				t.Errorf("calls %d, retries %+v", calls.Load(), infos)
			}
			var apiErr *APIError
			if !errors.As(infos[0].Err, &apiErr) || apiErr.StatusCode != status {
				t.Errorf("retry cause %v", infos[0].Err)
			}
		})
	}
}

func TestRetriesGiveUp(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(2))
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(503)
	})
	_, err := c.Generate(context.Background(), textRequest("m"))
	if Classify(err) != ClassServer || calls.Load() != 3 {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413} {
		c, mux, _ := setup(t)
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(status)
		})
		_, err := c.Generate(context.Background(), textRequest("m"))
		if err == nil || calls.Load() != 1 {
			t.Errorf("status %d: err %v, calls %d", status, err, calls.Load())
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header, value string
		want          time.Duration
	}{
		{"Retry-After", "7", 7 * time.Second},
		{"Retry-After", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Retry-After-Ms", "250", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		c, mux, _ := setup(t, WithClock(func() time.Time { return now }))
		s := recordSleeps(c)
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set(tt.header, tt.value)
				w.WriteHeader(429)
				return
			}
			io.WriteString(w, okNative)
		})
		if _, err := c.Generate(context.Background(), textRequest("m")); err != nil {
			t.Fatal(err)
		}
		if got := s.get(); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %s: waits %v, want [%v]", tt.header, tt.value, got, tt.want)
		}
	}
}

func TestRetryAfterTooLongIsNotWaited(t *testing.T) {
	c, mux, _ := setup(t)
	s := recordSleeps(c)
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(429)
	})
	_, err := c.Generate(context.Background(), textRequest("m"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 10*time.Minute || calls.Load() != 1 || len(s.get()) != 0 {
		t.Fatalf("err %v, calls %d, waits %v", err, calls.Load(), s.get())
	}
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	c, _ := NewClient(testKey, WithBackoff(100*time.Millisecond, time.Second))
	for attempt := 1; attempt <= 40; attempt++ {
		ceil := min(time.Second, 100*time.Millisecond<<(attempt-1))
		if attempt > 5 {
			ceil = time.Second
		}
		for range 20 {
			if d := c.retryDelay(attempt, 0); d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceil)
			}
		}
	}
}

// TestRateLimitBackoffFitsPerMinuteWindows: a 429 without Retry-After is
// retried five times (three for 5xx), each wait at least half its ceiling,
// and the waits add up to at least a minute.
func TestRateLimitBackoffFitsPerMinuteWindows(t *testing.T) {
	c, err := NewClient(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		var total time.Duration
		for n, ceil := range []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 60 * time.Second} {
			d := c.rateLimitDelay(n+1, 0)
			if d < ceil/2 || d > ceil {
				t.Fatalf("retry %d: wait %v outside [%v, %v]", n+1, d, ceil/2, ceil)
			}
			total += d
		}
		if total < time.Minute {
			t.Fatalf("429 waits add up to %v, less than a minute window", total)
		}
	}
	if d := c.rateLimitDelay(1, 1500*time.Millisecond); d != 1500*time.Millisecond {
		t.Errorf("Retry-After not honoured: %v", d)
	}

	count := func(status int, opts ...Option) (int32, []time.Duration) {
		c, mux, _ := setup(t, opts...)
		s := recordSleeps(c)
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(status)
		})
		c.Generate(context.Background(), textRequest("m"))
		return calls.Load(), s.get()
	}
	if n, _ := count(429); n != 1+DefaultRateLimitRetries {
		t.Errorf("429: %d attempts, want %d", n, 1+DefaultRateLimitRetries)
	}
	if n, _ := count(503); n != 1+DefaultMaxRetries {
		t.Errorf("503: %d attempts, want %d", n, 1+DefaultMaxRetries)
	}
	if n, _ := count(429, WithMaxRetries(0)); n != 1 {
		t.Errorf("429 with retries disabled: %d attempts", n)
	}
	if n, _ := count(429, WithMaxRetries(1), WithRateLimitRetries(2)); n != 3 {
		t.Errorf("429 with WithRateLimitRetries(2): %d attempts", n)
	}
	// The default 429 schedule, seen through the client (the test setup
	// shrinks it; a fresh client keeps the defaults).
	_, waits := count(429, WithRateLimitBackoff(DefaultRateLimitBackoffBase, DefaultRateLimitBackoffMax))
	if len(waits) != DefaultRateLimitRetries || waits[0] < 2*time.Second {
		t.Errorf("429 waits %v", waits)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	c, mux, _ := setup(t, WithBackoff(10*time.Second, 10*time.Second))
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Generate(ctx, textRequest("m"))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second || calls.Load() != 1 {
		t.Fatalf("err %v after %v, calls %d", err, time.Since(start), calls.Load())
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("the last error is lost: %v", err)
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent on a canceled context") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Generate(ctx, textRequest("m")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestCancelMidStream(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeSSE(w, "event:result\ndata:"+`{"output":{"choices":[{"message":{"content":[{"text":"one"}]}}]},"request_id":"s"}`+"\n\n")
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	resp, err := c.GenerateStream(ctx, textRequest("m"), func(d Delta) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls.Load() != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
	if resp == nil || !resp.Partial || resp.Text != "one" {
		t.Errorf("partial response %+v", resp)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	stall := func(first bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if first {
				writeSSE(w, "event:result\ndata:"+`{"output":{"choices":[{"message":{"content":[{"text":"so far"}]}}]}}`+"\n\n")
			} else {
				writeSSE(w, ":HTTP_STATUS/200\n")
			}
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	t.Run("after a delta", func(t *testing.T) {
		c, mux, _ := setup(t, WithTimeouts(0, 0, 100*time.Millisecond))
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); stall(true)(w, r) })
		resp, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
		var te *TimeoutError
		if !errors.As(err, &te) || !te.Idle || !te.Partial || Classify(err) != ClassTimeout {
			t.Fatalf("err %v", err)
		}
		if !strings.Contains(err.Error(), "stream stalled: no data for 100ms") {
			t.Errorf("message %q", err)
		}
		if calls.Load() != 1 || resp == nil || resp.Text != "so far" || !resp.Partial {
			t.Errorf("calls %d, resp %+v", calls.Load(), resp)
		}
	})
	t.Run("before any delta", func(t *testing.T) {
		c, mux, _ := setup(t, WithTimeouts(0, 0, 100*time.Millisecond))
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); stall(false)(w, r) })
		_, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
		var te *TimeoutError
		if !errors.As(err, &te) || !te.Sent || te.Retried || calls.Load() != 1 {
			t.Fatalf("err %v, calls %d: a sent request must not be replayed by default", err, calls.Load())
		}
	})
	t.Run("before any delta, opted in", func(t *testing.T) {
		c, mux, _ := setup(t, WithTimeouts(0, 0, 100*time.Millisecond), WithRetryAfterSentTimeout(true), WithMaxRetries(1))
		var calls atomic.Int32
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); stall(false)(w, r) })
		_, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
		if Classify(err) != ClassTimeout || calls.Load() != 2 {
			t.Fatalf("err %v, calls %d", err, calls.Load())
		}
	})
}

func TestRequestTimeoutAfterSent(t *testing.T) {
	slow := func(calls *atomic.Int32) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	c, mux, _ := setup(t, WithTimeouts(0, 150*time.Millisecond, 0))
	var calls atomic.Int32
	mux.HandleFunc(genPath, slow(&calls))
	_, err := c.Generate(context.Background(), textRequest("m"))
	var te *TimeoutError
	if !errors.As(err, &te) || !te.Sent || te.Retried || calls.Load() != 1 {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
	if !strings.Contains(err.Error(), "may have been billed") {
		t.Errorf("message %q does not explain why it was not retried", err)
	}

	c, mux, _ = setup(t, WithTimeouts(0, 150*time.Millisecond, 0), WithRetryAfterSentTimeout(true), WithMaxRetries(2))
	calls.Store(0)
	mux.HandleFunc(genPath, slow(&calls))
	_, err = c.Generate(context.Background(), textRequest("m"))
	if !errors.As(err, &te) || calls.Load() != 3 {
		t.Fatalf("opted in: err %v, calls %d", err, calls.Load())
	}
}

// hangUp closes the connection of the first n requests without an answer,
// after reading their whole body, and answers okNative afterwards.
func hangUp(n int32, calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			io.Copy(io.Discard, r.Body)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		io.WriteString(w, okNative)
	}
}

// TestDroppedAfterSentIsNotReplayed: a connection that drops after the
// whole request went out may have been run and billed, like a timeout
// after sending: no replay unless opted in.
func TestDroppedAfterSentIsNotReplayed(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc(genPath, hangUp(1, &calls))
	_, err := c.Generate(context.Background(), textRequest("m"))
	if err == nil || calls.Load() != 1 || Classify(err) != ClassNetwork {
		t.Fatalf("err %v (class %v), calls %d: a sent request was replayed", err, Classify(err), calls.Load())
	}
	if !strings.Contains(err.Error(), "may have been billed, so it was not replayed") {
		t.Errorf("message %q does not say why it was not retried", err)
	}

	var infos atomic.Int32
	c, mux, _ = setup(t, WithRetryAfterSentTimeout(true), WithOnRetry(func(RetryInfo) { infos.Add(1) }))
	calls.Store(0)
	mux.HandleFunc(genPath, hangUp(2, &calls))
	resp, err := c.Generate(context.Background(), textRequest("m"))
	if err != nil || resp.Text != "fine" || infos.Load() != 2 || calls.Load() != 3 {
		t.Fatalf("opted in: resp %v, err %v, retries %d, calls %d", resp, err, infos.Load(), calls.Load())
	}
}

// TestDroppedBeforeSentIsRetried: a server that hangs up before reading a
// large body breaks the upload of the request, which was therefore never
// complete: that is retried.
func TestDroppedBeforeSentIsRetried(t *testing.T) {
	var infos atomic.Int32
	c, mux, _ := setup(t, WithOnRetry(func(ri RetryInfo) { infos.Add(1) }))
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // without reading the 43 MB body
			}
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, okNative)
	})
	big := MediaReaderAt("image/jpeg", patternReaderAt{size: 32 << 20, seed: 1}, 32<<20)
	req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{Image(big), Text("?")}}}}
	resp, err := c.Generate(context.Background(), req)
	if err != nil || resp.Text != "fine" || calls.Load() != 2 || infos.Load() != 1 {
		t.Fatalf("resp %v, err %v, calls %d, retries %d", resp, err, calls.Load(), infos.Load())
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var retries atomic.Int32
	c, _ := NewClient(testKey, WithBaseURL("http://"+addr), WithBackoff(time.Microsecond, time.Microsecond),
		WithOnRetry(func(RetryInfo) { retries.Add(1) }))
	_, err = c.Generate(context.Background(), textRequest("m"))
	if Classify(err) != ClassNetwork || retries.Load() != DefaultMaxRetries {
		t.Fatalf("err %v (class %v), retries %d", err, Classify(err), retries.Load())
	}
}

func TestKeyNeverAppears(t *testing.T) {
	var errs []error
	collect := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c, mux, srv := setup(t, WithMaxRetries(1), WithTimeouts(0, 100*time.Millisecond, 100*time.Millisecond))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		// A hostile or buggy server echoing the key.
		fmt.Fprintf(w, `{"code":"InvalidApiKey","message":"Invalid API-key provided: %s (Authorization: %s)","request_id":"k"}`, testKey, r.Header.Get("Authorization"))
	})
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, `data: {"error":{"message":"bad key `+testKey+`","code":"x"}}`+"\n\n")
	})
	mux.HandleFunc("/api/v1/uploads", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"request_id":"p","data":{"policy":"p","signature":"s","upload_dir":"d","upload_host":"http://evil.example.com","expire_in_seconds":300}}`)
	})
	collect(c.Generate(context.Background(), textRequest("m")))
	collect(c.ChatCompletionStream(context.Background(), textRequest("m"), func(Delta) error { return nil }))
	collect(c.Upload(context.Background(), "m", MediaBytes("image/png", fakePNG(10))))
	collect(c.Generate(context.Background(), &Request{Model: "m", Messages: []Message{{Content: []Content{{Text: "x", Image: &Media{URL: "u"}}}}}}))
	dead, _ := NewClient(testKey, WithBaseURL("http://127.0.0.1:1"), WithMaxRetries(0))
	collect(dead.Generate(context.Background(), textRequest("m")))
	srv2, _ := NewClient(testKey, WithBaseURL(srv.URL+"/nowhere"), WithMaxRetries(0))
	_ = srv2
	collect(NewClient(testKey, WithRegion("x")))
	if len(errs) < 5 {
		t.Fatalf("only %d errors collected", len(errs))
	}
	texts := []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)}
	for _, err := range errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	p, _ := c.Preview(Native, textRequest("m"), false)
	texts = append(texts, fmt.Sprintf("%v %+v %#v", p, p, p))
	for _, s := range texts {
		if strings.Contains(s, testKey) || strings.Contains(s, testKey[3:20]) {
			t.Errorf("key leaked: %s", s)
		}
	}
}

// TestKeyScrubbedBeforeTruncation: text bodies and stream error events are
// cut to 200 bytes for messages; a cut through the key would leave a prefix
// that neither the exact match nor the sk-… pattern finds, so the whole raw
// text is scrubbed first.
func TestKeyScrubbedBeforeTruncation(t *testing.T) {
	pad := strings.Repeat("x", 180)
	c, mux, _ := setup(t, WithMaxRetries(0))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "text/event-stream" {
			writeSSE(w, "event:error\n:HTTP_STATUS/401\ndata:"+pad+" key: "+testKey+"\n\n")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(401)
		io.WriteString(w, pad+" key: "+testKey)
	})
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, "event:error\ndata:"+pad+" key: "+testKey+"\n\n")
	})
	var errs []error
	_, err := c.Generate(context.Background(), textRequest("m"))
	errs = append(errs, err)
	_, err = c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
	errs = append(errs, err)
	_, err = c.ChatCompletionStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		// Any 8 characters of the key's secret part are too many.
		for k := 3; k+8 <= len(testKey); k++ {
			if strings.Contains(err.Error(), testKey[k:k+8]) {
				t.Fatalf("call %d: %q shows %q of the key", i, err, testKey[k:k+8])
			}
		}
	}
}

func TestRedact(t *testing.T) {
	if got := RedactKey(testKey); got != "sk-…0123" {
		t.Errorf("RedactKey = %q", got)
	}
	if got := RedactKey("short"); got != "[redacted]" {
		t.Errorf("RedactKey(short) = %q", got)
	}
	c, _ := NewClient(testKey)
	in := "key " + testKey + ", other sk-abcdefghijklmnopqrstuvwxyz and Authorization: Bearer tok_abcdefghijklmnop1234"
	got := c.Redact(in)
	for _, secret := range []string{testKey, "sk-abcdefghijklmnopqrstuvwxyz", "tok_abcdefghijklmnop1234"} {
		if strings.Contains(got, secret) {
			t.Errorf("Redact left %q in %q", secret, got)
		}
	}
	if !strings.Contains(got, "sk-…0123") || !strings.Contains(got, "Bearer …1234") {
		t.Errorf("Redact = %q", got)
	}
}

func TestPreview(t *testing.T) {
	c, _ := NewClient(testKey)
	jpeg := fakeJPEG(3000, 2)
	req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{Image(MediaBytes("image/jpeg", jpeg)), Image(MediaURL("oss://b/k.jpg")), Text("hi")}}}}
	p, err := c.Preview(Native, req, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := buildNative(req, true)
	if p.ContentLength != b.size || p.Header.Get("X-DashScope-SSE") != "enable" || p.Header.Get("X-DashScope-OssResourceResolve") != "enable" {
		t.Errorf("preview %+v", p)
	}
	if !strings.Contains(string(p.Body), `"data:image/jpeg;base64,<4000 bytes of base64 elided>"`) || strings.Contains(p.Header.Get("Authorization"), testKey) {
		t.Errorf("preview body %s / auth %s", p.Body, p.Header.Get("Authorization"))
	}
	if p.URL != BaseURLIntl+genPath {
		t.Errorf("URL %s", p.URL)
	}
}

// TestBaseURLIsSchemeAndHost: the SDKs' base URLs end in /api/v1; given
// here they would double the path, so they are refused with the fix.
func TestBaseURLIsSchemeAndHost(t *testing.T) {
	for _, bad := range []string{"https://dashscope-intl.aliyuncs.com/api/v1", "https://dashscope.aliyuncs.com/api/v1/", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"} {
		_, err := NewClient(testKey, WithBaseURL(bad))
		if err == nil || !strings.Contains(err.Error(), "scheme and host only") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
	for region := range map[string]bool{"intl": true, "us": true, "cn": true, "hk": true} {
		base, _ := RegionBaseURL(region)
		if got, ok := RegionOfHost(strings.TrimPrefix(base, "https://")); !ok || got != region {
			t.Errorf("RegionOfHost(%s) = %q %v", base, got, ok)
		}
	}
	if _, ok := RegionOfHost("127.0.0.1:8080"); ok {
		t.Error("a test server has a region")
	}
}

// TestAnswersNeverShowTheKey: a server that echoes the key in an answer,
// streamed or not, does not get it printed or written by the caller.
func TestAnswersNeverShowTheKey(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "text/event-stream" {
			writeSSE(w, "event:result\ndata:"+`{"output":{"choices":[{"message":{"content":[{"text":"key `+testKey+`"}],"reasoning_content":"I saw `+testKey+`"},"finish_reason":"stop"}]}}`+"\n\n")
			return
		}
		io.WriteString(w, `{"output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":"key `+testKey+`"}]}}]}}`)
	})
	var deltas strings.Builder
	streamed, err := c.GenerateStream(context.Background(), textRequest("m"), func(d Delta) error {
		deltas.WriteString(d.Reasoning + d.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := c.Generate(context.Background(), textRequest("m"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{deltas.String(), streamed.Text, streamed.Reasoning, whole.Text} {
		if strings.Contains(s, testKey[3:]) || !strings.Contains(s, RedactKey(testKey)) {
			t.Errorf("answer %q", s)
		}
	}
}
