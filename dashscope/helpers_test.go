package dashscope

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKey  = "sk-test0123456789abcdefABCDEF0123"
	basePath = "/base/prefix"
)

// setup serves mux under a non-empty base path, so a request built from an
// absolute endpoint (ignoring the base path) fails loudly; retries back off
// for a millisecond at most.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle(basePath+"/", http.StripPrefix(basePath, mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL)
		http.Error(w, "wrong path", http.StatusNotFound)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	all := append([]Option{
		WithBaseURL(srv.URL + basePath),
		WithHTTPClient(srv.Client()),
		WithBackoff(time.Microsecond, time.Millisecond),
		WithRateLimitBackoff(time.Microsecond, time.Millisecond),
	}, opts...)
	c, err := NewClient(testKey, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c, mux, srv
}

// sleeps replaces the client's retry wait with one that records delays.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func recordSleeps(c *Client) *sleeps {
	s := &sleeps{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		s.mu.Lock()
		s.d = append(s.d, d)
		s.mu.Unlock()
		return ctx.Err()
	}
	return s
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// wantRequest checks the common parts of a JSON POST and returns the body
// decoded into a map.
func wantRequest(t *testing.T, r *http.Request, path string) map[string]any {
	t.Helper()
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if r.URL.Path != path {
		t.Errorf("path = %s, want %s", r.URL.Path, path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if len(r.TransferEncoding) > 0 {
		t.Errorf("Transfer-Encoding = %v, want a Content-Length", r.TransferEncoding)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if r.ContentLength != int64(len(data)) || r.Header.Get("Content-Length") != itoa(len(data)) {
		t.Errorf("Content-Length %d (%q), received %d bytes", r.ContentLength, r.Header.Get("Content-Length"), len(data))
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, truncate(string(data), 300))
	}
	checkDataURLs(t, m)
	return m
}

func itoa(n int) string { return jsonNumber(n) }

func jsonNumber(n int) string { b, _ := json.Marshal(n); return string(b) }

// checkDataURLs walks v and checks that every data URL decodes and that its
// MIME type matches the magic bytes.
func checkDataURLs(t *testing.T, v any) int {
	t.Helper()
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			n += checkDataURLs(t, x)
		}
	case []any:
		for _, x := range v {
			n += checkDataURLs(t, x)
		}
	case string:
		rest, ok := strings.CutPrefix(v, "data:")
		if !ok {
			return 0
		}
		mime, b64, ok := strings.Cut(rest, ";base64,")
		if !ok {
			t.Errorf("data URL without ;base64,: %.40s", v)
			return 1
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Errorf("data URL base64: %v", err)
			return 1
		}
		if got := sniff(raw); got != mime {
			t.Errorf("data URL says %s, bytes are %s", mime, got)
		}
		n++
	}
	return n
}

func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case len(b) > 8 && string(b[4:8]) == "ftyp":
		return "video/mp4"
	}
	return "application/octet-stream"
}

// fakeJPEG returns n bytes that start like a JPEG.
func fakeJPEG(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	copy(b, "\xff\xd8\xff\xe0")
	return b
}

func fakePNG(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 13)
	}
	copy(b, "\x89PNG\r\n\x1a\n")
	return b
}

func fakeMP4(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x00\x00\x00\x18ftypmp42")
	return b
}

func dataURL(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// jsonEqual compares a decoded body with the expected JSON text.
func jsonEqual(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON: %v", err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", " ")
		e, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("body mismatch\n got: %s\nwant: %s", truncate(string(g), 4000), truncate(string(e), 4000))
	}
}

// writeSSE writes events and flushes after each.
func writeSSE(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	f := w.(http.Flusher)
	for _, e := range events {
		io.WriteString(w, e)
		f.Flush()
	}
}

func textRequest(model string) *Request {
	return &Request{Model: model, Messages: []Message{{Role: RoleUser, Content: []Content{Text("hi")}}}}
}

const okNative = `{"request_id":"rid-ok","output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"text":"fine"}]}}]},"usage":{"input_tokens":3,"output_tokens":1}}`
