package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// leakyServer is a hostile DashScope that echoes the caller's key in every
// way it can. A request whose body holds "please-fail" (a marker base64
// cannot contain) fails three times in turn: 429 with a text body of 180
// bytes then the key (retried: a retry line is printed), 500 with the key
// in JSON (retried), and finally 401 with the text body (native), the key
// in an OpenAI error object (compatible mode), or a non-JSON stream error
// event; Retry-After-Ms keeps the retries fast. Any other request is
// answered with the key in the answer (events JSON when the body holds
// "events-please"). getPolicy answers 401 with the key.
func leakyServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	attempts := map[string]int{} // by body, path and stream: a retry sends the same
	pad := strings.Repeat("x", 180)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		body, _ := io.ReadAll(r.Body)
		stream := r.Header.Get("Accept") == "text/event-stream"
		openai := strings.HasPrefix(r.URL.Path, "/compatible-mode/")
		if r.URL.Path == "/api/v1/uploads" {
			w.WriteHeader(401)
			io.WriteString(w, pad+" key: "+key)
			return
		}
		sum := sha256.Sum256(body)
		id := hex.EncodeToString(sum[:]) + r.URL.Path + fmt.Sprint(stream)
		mu.Lock()
		attempts[id]++
		n := attempts[id]
		mu.Unlock()
		if strings.Contains(string(body), "please-fail") {
			switch n % 3 {
			case 1:
				w.Header().Set("Retry-After-Ms", "1")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(429)
				io.WriteString(w, pad+" key: "+key)
			case 2:
				w.Header().Set("Retry-After-Ms", "1")
				w.WriteHeader(500)
				io.WriteString(w, `{"code":"InternalError","message":"upstream saw `+key+`","request_id":"r500"}`)
			case 0:
				switch {
				case stream:
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "event:error\n:HTTP_STATUS/401\ndata:"+pad+" key: "+key+"\n\n")
				case openai:
					w.WriteHeader(401)
					io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+key+`","type":"invalid_request_error","code":"invalid_api_key"},"request_id":"r401"}`)
				default:
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(401)
					io.WriteString(w, pad+" key: "+key)
				}
			}
			return
		}
		answer := "the key is " + key
		if strings.Contains(string(body), "events-please") {
			answer = "```json\n{\"events\": [{\"start_time\": \"00:00:00\", \"end_time\": \"00:00:01\", \"event\": \"" + key + "\"}]}\n```"
		}
		a, _ := json.Marshal(answer)
		switch {
		case openai && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":%s},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\ndata: [DONE]\n\n", a)
		case openai:
			fmt.Fprintf(w, `{"id":"c1","choices":[{"finish_reason":"stop","message":{"role":"assistant","content":%s}}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`, a)
		case stream:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "event:result\ndata:{\"request_id\":\"s1\",\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"content\":[{\"text\":%s}],\"reasoning_content\":%s}}]},\"usage\":{\"input_tokens\":9,\"output_tokens\":3}}\n\n", a, a)
		default:
			fmt.Fprintf(w, `{"request_id":"n1","output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":%s}],"reasoning_content":%s}}]},"usage":{"input_tokens":9,"output_tokens":3}}`, a, a)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// leaks returns the pieces of the key's secret part (any 8 characters in a
// row after "sk-") that s shows.
func leaks(s string) []string {
	var out []string
	for i := 3; i+8 <= len(secretKey); i++ {
		if w := secretKey[i : i+8]; strings.Contains(s, w) {
			out = append(out, w)
		}
	}
	return out
}

// TestKeyNeverAppears runs every command that can see the key, with the key
// from the environment, --api-key and --api-key-file, against leakyServer,
// and checks stdout, stderr and every file written under the test's
// folders (outputs, journals, dry-run requests, the upload cache, the
// temporary folder) for any piece of the key.
func TestKeyNeverAppears(t *testing.T) {
	srv := leakyServer(t)
	root := t.TempDir()
	dir, cache, tmp := filepath.Join(root, "work"), filepath.Join(root, "cache"), filepath.Join(root, "tmp")
	for _, d := range []string{dir, cache, tmp} {
		os.MkdirAll(d, 0o755)
	}
	t.Setenv("DASHSCOPE_API_KEY", secretKey)
	t.Setenv("DASHSCOPE_BASE_URL", srv.URL)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", root)
	t.Setenv("TMPDIR", tmp)
	keyFile := filepath.Join(root, "key")
	os.WriteFile(keyFile, []byte(secretKey+"\n"), 0o600)
	png := filepath.Join(images, "png.png")
	video := filepath.Join(videos, "cfr_h264.mp4")
	many := filepath.Join(dir, "many")
	distinctPNGs(t, many, 251) // over the base64 count: sent by upload (getPolicy echoes the key)
	out := func(name string) string { return filepath.Join(dir, name) }
	type run struct {
		args    []string
		noEnv   bool // without DASHSCOPE_API_KEY
		wantErr string
	}
	var cmds []run
	for _, api := range []string{"native", "openai"} {
		for _, stream := range []string{"--stream=false", "--stream"} {
			cmds = append(cmds,
				run{args: []string{"ask", "--api", api, stream, "--thinking", png, "-p", "ok"}},
				run{args: []string{"ask", "--api", api, stream, "--json", png, "-p", "ok"}},
				run{args: []string{"ask", "--api", api, stream, png, "-p", "please-fail"}, wantErr: "401"},
				run{args: []string{"ask", "--api", api, "--dry-run", stream, png, video, "-p", "ok"}},
			)
		}
	}
	cmds = append(cmds,
		run{args: []string{"models", "--json"}},
		run{args: []string{"tokens", "640x480"}},
		run{args: []string{"estimate", "--json", png, video}},
		run{args: []string{"check", png}},
		run{args: []string{"resize", png, "-o", out("resized")}},
		run{args: []string{"frames", video, "-o", out("frames")}},
		run{args: []string{"ask", many, "-p", "ok"}, wantErr: "401"},
		run{args: []string{"ask", "--api-key", secretKey, png, "-p", "ok"}, noEnv: true},
		run{args: []string{"ask", "--api-key", secretKey, png, "-p", "please-fail"}, noEnv: true, wantErr: "401"},
		run{args: []string{"ask", "--api-key", secretKey, "--dry-run", png, "-p", "ok"}, noEnv: true},
		run{args: []string{"ask", "--api-key-file", keyFile, png, "-p", "please-fail"}, noEnv: true, wantErr: "401"},
		run{args: []string{"ask", "--api-key-file", secretKey, png, "-p", "ok"}, noEnv: true, wantErr: "--api-key-file"},
		run{args: []string{"run", "--preset", "ocr", "-p", "ok", "-o", out("ocr.jsonl"), png, filepath.Join(images, "jpeg.jpg")}},
		run{args: []string{"run", "-p", "please-fail", "-o", out("fail.jsonl"), png}, wantErr: "401"},
		run{args: []string{"run", "--json", "--api", "openai", "-p", "please-fail", "-o", out("fail-openai.jsonl"), png}, wantErr: "401"},
		run{args: []string{"run", "--preset", "video-events", "-p", "events-please", "-o", out("events.jsonl"), video}},
		run{args: []string{"run", "--dry-run", "-p", "ok", "-o", out("dry.jsonl"), png, video}},
		run{args: []string{"run", "--api-key-file", keyFile, "-p", "ok", "-o", out("keyfile.jsonl"), png}, noEnv: true},
	)
	for _, c := range cmds {
		if c.noEnv {
			os.Unsetenv("DASHSCOPE_API_KEY")
		}
		_, stdout, stderr := runCLI(t, c.args...)
		os.Setenv("DASHSCOPE_API_KEY", secretKey)
		if l := leaks(stdout + stderr); len(l) > 0 {
			t.Errorf("%v shows %q of the key:\n%s\n%s", c.args, l, stdout, stderr)
		}
		if c.wantErr != "" && !strings.Contains(stdout+stderr, c.wantErr) {
			t.Errorf("%v: the failure (%s) is not reported:\n%s\n%s", c.args, c.wantErr, stdout, stderr)
		}
		if strings.Contains(c.args[len(c.args)-1], "please-fail") && !strings.Contains(stderr, "retrying in") && c.args[0] == "ask" {
			t.Errorf("%v: no retry lines:\n%s", c.args, stderr)
		}
	}
	written := 0
	for _, d := range []string{dir, cache, tmp} {
		filepath.Walk(d, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			written++
			data, _ := os.ReadFile(path)
			if l := leaks(string(data)); len(l) > 0 {
				t.Errorf("%s shows %q of the key", path, l)
			}
			return nil
		})
	}
	// The outputs the scan must have covered exist: journals with failures,
	// .md and .json outputs, dry-run requests.
	for _, p := range []string{"ocr.jsonl", "fail.jsonl", "fail-openai.jsonl", "events.jsonl", "keyfile.jsonl", "ocr.md", "events.json", "dry.jsonl.requests"} {
		if _, err := os.Stat(out(p)); err != nil {
			t.Errorf("expected output missing: %v", err)
		}
	}
	if data, _ := os.ReadFile(out("fail.jsonl")); !strings.Contains(string(data), `"failed"`) || !strings.Contains(string(data), "401") {
		t.Errorf("fail.jsonl: %s", data)
	}
	if written < 260 {
		t.Errorf("only %d files scanned", written)
	}
}
