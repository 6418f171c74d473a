// Package dashtest is a strict stand-in for DashScope's native multimodal
// generation endpoint and its temporary-upload protocol, for tests: it
// checks every request (method, path, auth header, JSON shape, data-URL
// MIME types against the bytes, the API's base64 limits, oss:// URLs only
// for files uploaded for the same model and only with
// X-DashScope-OssResourceResolve: enable), serves getPolicy and the OSS
// PostObject form with strict checks (upload.go), answers deterministically
// from the media it received, and injects faults on demand (429 with
// Retry-After, 500, connection resets, stalls).
package dashtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // decode configs of sent media
	_ "image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Path is the endpoint the stand-in serves.
const Path = "/api/v1/services/aigc/multimodal-generation/generation"

// Fault is what the stand-in does instead of answering.
type Fault int

// The faults.
const (
	None        Fault = iota
	Throttle          // 429 Throttling.RateQuota with Retry-After
	ServerError       // 500 InternalError
	Reset             // close the connection without a response
	Stall             // send nothing until the client gives up
)

func (f Fault) String() string {
	return [...]string{"none", "throttle", "server_error", "reset", "stall"}[f]
}

// Request is one request the stand-in received.
type Request struct {
	N      int       // 1-based arrival number
	At     time.Time // arrival time
	Model  string
	Prompt string
	Media  []string // sha256 hex of each image or frame, in order
	Kind   string   // "image" or "frames"
	Width  int      // of the first image or frame
	Height int
	Fault  Fault
	// Base64 and OSS count the media sent as data URLs and as oss:// URLs.
	Base64, OSS int
}

// Key is the media key of a request: the hash of its first image or frame.
func (r Request) Key() string {
	if len(r.Media) == 0 {
		return ""
	}
	return r.Media[0]
}

// Settings are how the stand-in behaves; change them with [Server.Set].
type Settings struct {
	Answer     func(r Request) string          // default: DefaultAnswer
	Fault      func(r Request) Fault           // default: none
	Delay      time.Duration                   // before each answer
	RetryAfter string                          // Retry-After of a Throttle (default "1")
	OnRequest  func(r Request)                 // called on arrival (e.g. to count)
	Check      func(body map[string]any) error // extra body checks
}

// Server is the stand-in.
type Server struct {
	*httptest.Server
	Key string // the expected API key

	mu         sync.Mutex
	settings   Settings
	reqs       []Request
	violations []string
	policies   map[string]policy // by policy document
	objects    map[string]object // uploaded files by OSS key
}

// The API's limits on inline media (seed 001 lines 2244, 2250, 2260): a
// base64 data URL must stay within 10 MB, and a request carries at most
// 250 of them; by URL at most 256 images (2,048 for Qwen3.7).
const (
	MaxBase64Bytes   = 10 * 1000 * 1000
	MaxBase64Items   = 250
	MaxImageURLItems = 256
)

// New starts a stand-in expecting key; it is closed when the test ends.
func New(t interface{ Cleanup(func()) }, key string) *Server {
	s := &Server{Key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Set changes the settings under the server's lock: a test may change them
// at any time, even while another process (the vision binary) is sending
// requests, with no data race.
func (s *Server) Set(change func(*Settings)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.settings)
}

// current is a copy of the settings, for one request.
func (s *Server) current() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Violations lists every request that broke the protocol.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// DefaultAnswer answers from the media hash: Markdown for "qwenvl
// markdown", events JSON for a prompt asking for JSON, a sentence otherwise.
func DefaultAnswer(r Request) string {
	k := r.Key()
	if len(k) > 12 {
		k = k[:12]
	}
	switch {
	case strings.Contains(r.Prompt, "qwenvl markdown"):
		return "# Page " + k + "\n\nSome text.\n"
	case strings.Contains(r.Prompt, "JSON"):
		return "```json\n{\"events\": [{\"start_time\": \"00:00:00\", \"end_time\": \"00:00:01\", \"event\": \"a square moves " + k + "\"}]}\n```"
	}
	return "answer " + k
}

func (s *Server) violate(w http.ResponseWriter, n int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, fmt.Sprintf("request %d: %s", n, msg))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"code": "InvalidParameter", "message": msg, "request_id": fmt.Sprintf("bad-%d", n)})
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case UploadsPath:
		s.servePolicy(w, req)
		return
	case OSSPath:
		s.serveOSS(w, req)
		return
	}
	r := Request{At: time.Now()}
	cfg := s.current()
	s.mu.Lock()
	r.N = len(s.reqs) + 1
	s.reqs = append(s.reqs, r) // placeholder, completed below
	s.mu.Unlock()
	update := func() {
		s.mu.Lock()
		s.reqs[r.N-1] = r
		s.mu.Unlock()
	}
	if req.Method != http.MethodPost || req.URL.Path != Path {
		s.violate(w, r.N, "unexpected %s %s", req.Method, req.URL.Path)
		return
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+s.Key {
		s.violate(w, r.N, "bad Authorization header")
		return
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violate(w, r.N, "Content-Type %q", ct)
		return
	}
	var body struct {
		Model string `json:"model"`
		Input struct {
			Messages []struct {
				Role    string           `json:"role"`
				Content []map[string]any `json:"content"`
			} `json:"messages"`
		} `json:"input"`
		Parameters map[string]any `json:"parameters"`
	}
	raw := new(bytes.Buffer)
	if _, err := raw.ReadFrom(req.Body); err != nil {
		return // the client went away
	}
	if err := json.Unmarshal(raw.Bytes(), &body); err != nil {
		s.violate(w, r.N, "body is not JSON: %v", err)
		return
	}
	if cfg.Check != nil {
		var m map[string]any
		json.Unmarshal(raw.Bytes(), &m)
		if err := cfg.Check(m); err != nil {
			s.violate(w, r.N, "%v", err)
			return
		}
	}
	r.Model = body.Model
	if body.Model == "" || len(body.Input.Messages) != 1 || body.Input.Messages[0].Role != "user" {
		s.violate(w, r.N, "want a model and one user message")
		return
	}
	ossOK := req.Header.Get("X-DashScope-OssResourceResolve") == "enable"
	images := 0
	for _, c := range body.Input.Messages[0].Content {
		switch {
		case c["text"] != nil:
			r.Prompt, _ = c["text"].(string)
		case c["image"] != nil:
			url, _ := c["image"].(string)
			if err := s.media(&r, url, ossOK); err != nil {
				s.violate(w, r.N, "image: %v", err)
				return
			}
			r.Kind = "image"
			images++
		case c["video"] != nil:
			list, ok := c["video"].([]any)
			if !ok || len(list) < 4 {
				s.violate(w, r.N, "video: want a list of at least 4 frames")
				return
			}
			if fps, _ := c["fps"].(float64); fps <= 0 {
				s.violate(w, r.N, "video: a frame list needs its fps")
				return
			}
			for _, f := range list {
				url, _ := f.(string)
				if err := s.media(&r, url, ossOK); err != nil {
					s.violate(w, r.N, "frame: %v", err)
					return
				}
			}
			r.Kind = "frames"
		default:
			s.violate(w, r.N, "content item with no text, image or video: %v", keys(c))
			return
		}
	}
	if len(r.Media) == 0 || strings.TrimSpace(r.Prompt) == "" {
		s.violate(w, r.N, "want media and a prompt")
		return
	}
	if r.Base64 > MaxBase64Items {
		s.violate(w, r.N, "%d base64 data URLs in one request; the API accepts at most %d", r.Base64, MaxBase64Items)
		return
	}
	if limit := MaxImageURLItems; images > limit && !strings.HasPrefix(r.Model, "qwen3.7") {
		s.violate(w, r.N, "%d images in one request; the API accepts at most %d", images, limit)
		return
	}
	if cfg.Fault != nil {
		r.Fault = cfg.Fault(r)
	}
	update()
	if cfg.OnRequest != nil {
		cfg.OnRequest(r)
	}
	id := fmt.Sprintf("req-%d", r.N)
	w.Header().Set("Content-Type", "application/json")
	switch r.Fault {
	case Throttle:
		ra := cfg.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		w.WriteHeader(http.StatusTooManyRequests)
		json.NewEncoder(w).Encode(map[string]string{"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded", "request_id": id})
		return
	case ServerError:
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"code": "InternalError", "message": "try again", "request_id": id})
		return
	case Reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case Stall:
		select {
		case <-req.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	if cfg.Delay > 0 {
		select {
		case <-req.Context().Done():
			return
		case <-time.After(cfg.Delay):
		}
	}
	answer := DefaultAnswer
	if cfg.Answer != nil {
		answer = cfg.Answer
	}
	text := answer(r)
	visual := (r.Width / 32) * (r.Height / 32)
	if r.Kind == "frames" {
		visual *= (len(r.Media) + 1) / 2
	}
	usage := map[string]any{"input_tokens": visual + 2 + len(r.Prompt)/4, "output_tokens": len(text)/4 + 1}
	if r.Kind == "frames" {
		usage["video_tokens"] = visual + 2
	} else {
		usage["image_tokens"] = visual + 2
	}
	json.NewEncoder(w).Encode(map[string]any{
		"request_id": id,
		"output": map[string]any{"choices": []any{map[string]any{"finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": []any{map[string]any{"text": text}}}}}},
		"usage": usage,
	})
}

// media checks one image or frame: a data URL of base64 within the API's
// limit, or an oss:// URL of a file uploaded for this model, sent with the
// resolve header; either way bytes whose sniffed type is the declared one
// and a decodable image header.
func (s *Server) media(r *Request, url string, ossOK bool) error {
	var mime string
	var data []byte
	switch {
	case strings.HasPrefix(url, "oss://"):
		if !ossOK {
			return fmt.Errorf("%.60s without X-DashScope-OssResourceResolve: enable", url)
		}
		o, err := s.ossObject(url)
		if err != nil {
			return err
		}
		if o.model != r.Model {
			return fmt.Errorf("%.60s was uploaded for %s, not %s", url, o.model, r.Model)
		}
		mime, data = o.mime, o.data
		r.OSS++
	case strings.HasPrefix(url, "data:"):
		if len(url) > MaxBase64Bytes {
			return fmt.Errorf("data URL of %d bytes; the API accepts at most %d", len(url), MaxBase64Bytes)
		}
		var b64 string
		var ok bool
		mime, b64, ok = strings.Cut(strings.TrimPrefix(url, "data:"), ";base64,")
		if !ok {
			return fmt.Errorf("data URL without ;base64,")
		}
		var err error
		if data, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return fmt.Errorf("bad base64: %v", err)
		}
		r.Base64++
	default:
		return fmt.Errorf("want a data: or oss:// URL, got %.40q", url)
	}
	if sniffed := http.DetectContentType(data); sniffed != mime {
		return fmt.Errorf("URL says %s, bytes are %s", mime, sniffed)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("undecodable %s: %v", mime, err)
	}
	if len(r.Media) == 0 {
		r.Width, r.Height = cfg.Width, cfg.Height
	}
	sum := sha256.Sum256(data)
	r.Media = append(r.Media, hex.EncodeToString(sum[:]))
	return nil
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
