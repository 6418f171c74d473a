package dashscope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

// keyPieces returns the pieces of testKey's secret part (any 8 characters
// in a row after "sk-") that s shows.
func keyPieces(s string) []string {
	var out []string
	for i := 3; i+8 <= len(testKey); i++ {
		if w := testKey[i : i+8]; strings.Contains(s, w) {
			out = append(out, w)
		}
	}
	return out
}

// TestRedactorPiecesAddUpToScrub: however a text is cut into pieces, what
// Push and Flush return adds up to what Scrub makes of the whole text, so
// a key split across stream deltas is hidden like a whole one.
func TestRedactorPiecesAddUpToScrub(t *testing.T) {
	texts := []string{
		"the key is " + testKey + ".",
		testKey,
		testKey + testKey + " and again " + testKey[:10],
		"sk\\u002d" + testKey[3:] + " escaped",
		"sk-" + strings.Repeat("a", 30) + " someone else's key, then a task-zyxwvutsrqponmlkjihg that is not one",
		"no secret at all, only answers and tasks",
		"a prefix " + testKey[:20] + " that stops", // not a key: shown as it is
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pattern := range []bool{false, true} {
		for _, text := range texts {
			r := NewRedactor(pattern, testKey)
			want := r.Scrub(text)
			check := func(cuts []int) {
				t.Helper()
				var got strings.Builder
				prev := 0
				for _, c := range append(cuts, len(text)) {
					got.WriteString(r.Push(text[prev:c]))
					prev = c
				}
				got.WriteString(r.Flush())
				if got.String() != want {
					t.Fatalf("pattern %v, %q cut at %v: got %q, want %q", pattern, text, cuts, got.String(), want)
				}
				if l := keyPieces(got.String()); len(l) > 0 && !strings.Contains(text, "prefix") {
					t.Fatalf("pattern %v, %q cut at %v: %q shows %q", pattern, text, cuts, got.String(), l)
				}
			}
			for i := 0; i <= len(text); i++ {
				check([]int{i})
			}
			for n := 0; n < 300; n++ {
				var cuts []int
				for c := 0; c < len(text); c += 1 + rng.IntN(6) {
					cuts = append(cuts, c)
				}
				check(cuts)
			}
		}
	}
}

// TestRedactorIsPrompt: text that cannot be the start of a key is passed on
// at once; only a possible start of one waits for the next piece.
func TestRedactorIsPrompt(t *testing.T) {
	r := NewRedactor(true, testKey)
	if got := r.Push("Hello, world. "); got != "Hello, world. " {
		t.Errorf("Push = %q", got)
	}
	if got := r.Push("The total is 12.50 EUR\n"); got != "The total is 12.50 EUR\n" {
		t.Errorf("Push = %q", got)
	}
	if got := r.Push("Ask "); got != "Ask " {
		t.Errorf("Push = %q", got)
	}
	if got := r.Push("sk-te"); got != "" {
		t.Errorf("a key's start was passed on: %q", got)
	}
	if got := r.Push("sting, "); got != "sk-testing, " {
		t.Errorf("Push = %q, want the word once it cannot be a key", got)
	}
}

// TestStreamsHideAKeySplitAcrossDeltas: a model that echoes the key token
// by token, in the answer and in the reasoning, through either API's
// stream, never gets it to the caller's callback or the Response.
func TestStreamsHideAKeySplitAcrossDeltas(t *testing.T) {
	for _, size := range []int{1, 2, 3, 5, 8} {
		var chunks []string
		text := "Your key: " + testKey + " (keep it safe)"
		for i := 0; i < len(text); i += size {
			chunks = append(chunks, text[i:min(i+size, len(text))])
		}
		c, mux, _ := setup(t)
		mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
			var evs []string
			for _, ch := range chunks {
				evs = append(evs, fmt.Sprintf("event:result\ndata:{\"output\":{\"choices\":[{\"finish_reason\":\"null\",\"message\":{\"content\":[{\"text\":%q}],\"reasoning_content\":%q}}]}}\n\n", ch, ch))
			}
			evs = append(evs, "event:result\ndata:{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"content\":[]}}]}}\n\n")
			writeSSE(w, evs...)
		})
		mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
			var evs []string
			for _, ch := range chunks {
				evs = append(evs, fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"reasoning_content\":%q}}]}\n\n", ch),
					fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", ch))
			}
			evs = append(evs, "data: [DONE]\n\n")
			writeSSE(w, evs...)
		})
		for _, api := range []API{Native, OpenAI} {
			var answer, reasoning strings.Builder
			resp, err := c.Send(context.Background(), api, textRequest("m"), func(d Delta) error {
				answer.WriteString(d.Text)
				reasoning.WriteString(d.Reasoning)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", api, err)
			}
			want := "Your key: " + RedactKey(testKey) + " (keep it safe)"
			for what, got := range map[string]string{"deltas": answer.String(), "reasoning deltas": reasoning.String(),
				"Text": resp.Text, "Reasoning": resp.Reasoning} {
				if got != want {
					t.Errorf("%s, chunks of %d: %s = %q, want %q", api, size, what, got, want)
				}
			}
		}
	}
}

// TestStreamFailureReleasesHeldText: when a stream fails after output, the
// tail held back as a possible key start still reaches the caller.
func TestStreamFailureReleasesHeldText(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(0))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, "event:result\ndata:{\"output\":{\"choices\":[{\"finish_reason\":\"null\",\"message\":{\"content\":[{\"text\":\"Yes\"}]}}]}}\n\n",
			"event:error\n:HTTP_STATUS/500\ndata:{\"code\":\"InternalError\",\"message\":\"boom\"}\n\n")
	})
	var got strings.Builder
	resp, err := c.GenerateStream(context.Background(), textRequest("m"), func(d Delta) error {
		got.WriteString(d.Text)
		return nil
	})
	if err == nil || resp == nil || !resp.Partial || resp.Text != "Yes" || got.String() != "Yes" {
		t.Fatalf("resp %+v, deltas %q, err %v", resp, got.String(), err)
	}
}

// TestErrorsNeverShowTheKeyAnywhere: whatever field of an error reply the
// server puts the key in, however it escapes it, and whatever the
// transport says about a URL the server chose, neither the error text,
// nor the APIError's fields, nor the OnRetry messages show it; errors.As
// still finds the APIError.
func TestErrorsNeverShowTheKeyAnywhere(t *testing.T) {
	esc := strings.ReplaceAll(testKey, "-", `\u002d`)
	ent := strings.ReplaceAll(testKey, "-", "&#45;")
	type reply struct {
		status      int
		ctype, body string
		api         API
		stream      bool
	}
	sse := "text/event-stream"
	replies := []reply{
		{200, sse, "event:error\n:HTTP_STATUS/400\ndata:{\"code\":\"" + testKey + "\",\"message\":\"m\",\"request_id\":\"" + testKey + "\"}\n\n", Native, true},
		{200, sse, "data: {\"error\":{\"message\":\"m\",\"type\":\"" + testKey + "\",\"code\":\"" + testKey + "\"}}\n\n", OpenAI, true},
		{200, sse, "event:result\ndata:{\"code\":\"" + testKey + "\",\"message\":\"" + esc + "\",\"request_id\":\"" + testKey + "\"}\n\n", Native, true},
		{200, sse, "event:error\ndata:" + testKey[:12] + "\ndata:" + testKey[12:] + "\n\n", OpenAI, true},
		{400, "application/json", `{"code":"` + esc + `","message":"` + esc + `","request_id":"` + esc + `"}`, Native, false},
		{400, "application/json", `{"error":{"message":"` + esc + `","type":"` + esc + `","code":"` + esc + `"},"id":"` + esc + `"}`, OpenAI, false},
		{401, "text/plain", "denied: " + esc, Native, false},
		{401, "text/plain", "denied: " + ent, OpenAI, false},
		{200, "application/json", `{"request_id":"` + testKey + `","code":"` + testKey + `","message":"` + testKey + `"}`, Native, false},
	}
	for i, rep := range replies {
		c, mux, _ := setup(t, WithMaxRetries(0))
		h := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", rep.ctype)
			w.WriteHeader(rep.status)
			io.WriteString(w, rep.body)
		}
		mux.HandleFunc(genPath, h)
		mux.HandleFunc("/compatible-mode/v1/chat/completions", h)
		var onDelta func(Delta) error
		if rep.stream {
			onDelta = func(Delta) error { return nil }
		}
		_, err := c.Send(context.Background(), rep.api, textRequest("m"), onDelta)
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("reply %d: no APIError in %v", i, err)
			continue
		}
		all := fmt.Sprintf("%v|%+v|%s|%s|%s|%s", err, apiErr, apiErr.Code, apiErr.Type, apiErr.Message, apiErr.RequestID)
		if l := keyPieces(all); len(l) > 0 {
			t.Errorf("reply %d shows %q: %s", i, l, all)
		}
	}

	// Upload hosts come from the server's getPolicy reply: the transport's
	// errors and the refusals quote them, and retries report them.
	for _, host := range []string{"http://127.0.0.1:1/oss/" + testKey, "https://evil.example.com/" + testKey, "ftp://" + testKey + "@x.aliyuncs.com/"} {
		var retries []string
		c, mux, _ := setup(t, WithMaxRetries(2), WithUploadCache(nil), WithOnRetry(func(r RetryInfo) { retries = append(retries, r.Err.Error()) }))
		newFakeOSS(t, mux, host)
		_, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(10)))
		if err == nil {
			t.Fatalf("upload to %s: no error", RedactKey(host))
		}
		var ue interface{ Unwrap() error }
		inner := ""
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			inner = ue.Unwrap().Error()
		}
		all := err.Error() + "|" + inner + "|" + strings.Join(retries, "|")
		if l := keyPieces(all); len(l) > 0 {
			t.Errorf("upload host %s: shows %q: %s", RedactKey(host), l, all)
		}
	}
	if len(testKey) < 20 {
		t.Fatal("test key too short for the check")
	}
}

// TestUploadRefusesKeyInUploadDir: the upload folder becomes part of the
// oss:// URL, which is printed, cached and journaled.
func TestUploadRefusesKeyInUploadDir(t *testing.T) {
	c, mux, srv := setup(t, WithUploadCache(nil))
	mux.HandleFunc("/api/v1/uploads", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"request_id":"p","data":{"policy":"P","signature":"S","upload_dir":"d/%s","upload_host":"%s/oss","expire_in_seconds":300,"oss_access_key_id":"AK"}}`, testKey, srv.URL+basePath)
	})
	mux.HandleFunc("/oss", func(w http.ResponseWriter, r *http.Request) { t.Error("uploaded with a key in the folder") })
	u, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(10)))
	if err == nil || len(keyPieces(u+err.Error())) > 0 {
		t.Fatalf("url %q, err %v", u, err)
	}
}

// TestNewClientRejectsMalformedKeys: a key with a line break (two lines in
// a key file), a NUL or a space cannot go in a header; it is refused at
// once with what is wrong, never the key itself, instead of failing every
// request as a network error.
func TestNewClientRejectsMalformedKeys(t *testing.T) {
	for _, key := range []string{testKey + "\n" + testKey, testKey + "\x00", "sk-abc def0123456789012345", testKey + "\r\nx"} {
		_, err := NewClient(key)
		var ke *KeyError
		if !errors.As(err, &ke) || len(keyPieces(err.Error())) > 0 || strings.Contains(err.Error(), "abc def") {
			t.Errorf("%q: err %v", RedactKey(key), err)
		}
	}
	if _, err := NewClient("  " + testKey + "\n"); err != nil {
		t.Errorf("surrounding spaces: %v", err)
	}
}

// TestValuesShapedLikeKeysAreNotEchoed: a key given as the API, region or
// base URL is not quoted back in the error.
func TestValuesShapedLikeKeysAreNotEchoed(t *testing.T) {
	_, err1 := ParseAPI(testKey)
	_, err2 := RegionBaseURL(testKey)
	_, err3 := NewClient(testKey, WithBaseURL(testKey))
	_, err4 := NewClient(testKey, WithBaseURL("https://"+testKey+"@dashscope.aliyuncs.com"))
	for i, err := range []error{err1, err2, err3, err4} {
		if err == nil || len(keyPieces(err.Error())) > 0 {
			t.Errorf("%d: %v", i, err)
		}
	}
	if _, err := ParseAPI("gemini"); err == nil || !strings.Contains(err.Error(), `"gemini"`) {
		t.Errorf("an ordinary value is quoted: %v", err)
	}
}

// TestErrorMessages: an empty JSON error body reads as the status text; a
// Retry-After beyond what the client waits says how long; an expired
// upload policy gets its own hint.
func TestErrorMessages(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(0))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		io.WriteString(w, "{}")
	})
	_, err := c.Generate(context.Background(), textRequest("m"))
	if err == nil || err.Error() != "dashscope: 503 Service Unavailable" {
		t.Errorf("503 {}: %v", err)
	}

	c2, mux2, _ := setup(t, WithClock(func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }))
	mux2.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(429)
		io.WriteString(w, `{"code":"Throttling","message":"slow down"}`)
	})
	_, err = c2.Generate(context.Background(), textRequest("m"))
	var apiErr *APIError
	if err == nil || !strings.Contains(err.Error(), "the service asks to wait 600 s; try again after 12:10:00 UTC") || !errors.As(err, &apiErr) || apiErr.RetryAfter != 10*time.Minute {
		t.Errorf("long Retry-After: %v", err)
	}

	expired := &APIError{StatusCode: 403, Code: "AccessDenied", Message: "Invalid according to Policy: Policy expired."}
	if h := expired.Hint(); !strings.Contains(h, "policy expired") || strings.Contains(h, "DASHSCOPE_API_KEY") {
		t.Errorf("policy hint %q", h)
	}
	denied := &APIError{StatusCode: 403, Code: "AccessDenied", Message: "denied"}
	if denied.Hint() != ClassAuth.Hint() {
		t.Errorf("auth hint %q", denied.Hint())
	}
}

// waitingDoer waits before every attempt, longer than the request timeout.
type waitingDoer struct {
	Doer
	wait  time.Duration
	waits int
}

func (d *waitingDoer) WaitAttempt(ctx context.Context) error {
	d.waits++
	select {
	case <-time.After(d.wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestAttemptWaiterIsOutsideTheTimeout: a Doer's wait before an attempt
// (a rate limiter) does not count against the attempt's request timeout,
// retries included; before, a wait longer than the timeout turned into a
// timeout of a request never sent.
func TestAttemptWaiterIsOutsideTheTimeout(t *testing.T) {
	_, mux, srv := setup(t)
	n := 0
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, `{"output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":"ok"}]}}]}}`)
	})
	d := &waitingDoer{Doer: srv.Client(), wait: 400 * time.Millisecond}
	c, err := NewClient(testKey, WithBaseURL(srv.URL+basePath), WithHTTPClient(d), WithTimeouts(0, 200*time.Millisecond, 0),
		WithBackoff(time.Microsecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Generate(context.Background(), textRequest("m"))
	if err != nil || resp.Text != "ok" || d.waits != 2 || n != 2 {
		t.Fatalf("resp %+v, err %v, %d waits, %d requests", resp, err, d.waits, n)
	}
}
