package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// leakyServer is a hostile DashScope that echoes the caller's key in every
// way it can. A request whose body holds "please-fail" (a marker base64
// cannot contain) fails three times in turn: 429 with a text body of 180
// bytes then the key (retried: a retry line is printed), 500 with the key
// as the JSON error code and JSON-escaped (sk\u002d…) as the request id
// (retried), and finally 401 with the text body (native), the key in an
// OpenAI error object (compatible mode), or a stream error event with the
// key as its code and request id (native) or type and code (compatible);
// Retry-After-Ms keeps the retries fast. "please-break" streams the
// answer and then fails with the key as the request id. Any other request
// is answered with the key in the answer and the reasoning, streams
// sending them three bytes per delta as a model echoing the key token by
// token would (events JSON when the body holds "events-please"). getPolicy
// answers 401 with the key, except for qwen3-vl-flash, whose upload host
// is an unreachable loopback URL with the key in its path (the transport
// error quotes it), and qwen-vl-max, whose upload host is not Alibaba
// Cloud's and has the key in its path (refused).
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
			host := map[string]string{"qwen3-vl-flash": "http://127.0.0.1:1/oss/" + key, "qwen-vl-max": "https://evil.example.com/" + key}[r.URL.Query().Get("model")]
			if host == "" {
				w.WriteHeader(401)
				io.WriteString(w, pad+" key: "+key)
				return
			}
			fmt.Fprintf(w, `{"request_id":"p1","data":{"policy":"P","signature":"S","upload_dir":"d/x","upload_host":%q,"expire_in_seconds":300,"max_file_size_mb":100,"oss_access_key_id":"AK"}}`, host)
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
				io.WriteString(w, `{"code":"`+key+`","message":"upstream saw `+key+`","request_id":"`+strings.ReplaceAll(key, "-", `\u002d`)+`"}`)
			case 0:
				switch {
				case stream && openai:
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "event:error\n:HTTP_STATUS/401\ndata:{\"error\":{\"message\":\"denied\",\"type\":\""+key+"\",\"code\":\""+key+"\"}}\n\n")
				case stream:
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "event:error\n:HTTP_STATUS/401\ndata:{\"code\":\""+key+"\",\"message\":\"denied\",\"request_id\":\""+key+"\"}\n\n")
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
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < len(answer); i += 3 {
				d, _ := json.Marshal(answer[i:min(i+3, len(answer))])
				if openai {
					fmt.Fprintf(w, "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"reasoning_content\":%s}}]}\n\ndata: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":%s}}]}\n\n", d, d)
				} else {
					fmt.Fprintf(w, "event:result\ndata:{\"request_id\":\"s1\",\"output\":{\"choices\":[{\"finish_reason\":\"null\",\"message\":{\"content\":[{\"text\":%s}],\"reasoning_content\":%s}}]}}\n\n", d, d)
				}
			}
			switch {
			case strings.Contains(string(body), "please-break"):
				fmt.Fprintf(w, "event:error\n:HTTP_STATUS/500\ndata:{\"code\":\"InternalError\",\"message\":\"cut\",\"request_id\":%q}\n\n", key)
			case openai:
				io.WriteString(w, "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12}}\n\ndata: [DONE]\n\n")
			default:
				io.WriteString(w, "event:result\ndata:{\"request_id\":\"s1\",\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"content\":[]}}]},\"usage\":{\"input_tokens\":9,\"output_tokens\":3}}\n\n")
			}
			return
		}
		if openai {
			fmt.Fprintf(w, `{"id":"c1","choices":[{"finish_reason":"stop","message":{"role":"assistant","content":%s}}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`, a)
			return
		}
		fmt.Fprintf(w, `{"request_id":"n1","output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":%s}],"reasoning_content":%s}}]},"usage":{"input_tokens":9,"output_tokens":3}}`, a, a)
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
	long := filepath.Join(dir, "long.mp4") // 300 frames at --fps 10: more than base64 takes, so uploaded
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-t", "30",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", long).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	twoLines, nul := filepath.Join(root, "key2"), filepath.Join(root, "keynul")
	os.WriteFile(twoLines, []byte(secretKey+"\n"+secretKey+"\n"), 0o600)
	os.WriteFile(nul, []byte(secretKey+"\x00\n"), 0o600)
	type run struct {
		args     []string
		noEnv    bool // without DASHSCOPE_API_KEY
		wantErr  string
		wantCode int    // checked when not 0
		env      string // NAME=value set for this command only
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
		cmds = append(cmds,
			run{args: []string{"ask", "--api", api, "--stream", "--json", png, "-p", "please-break"}, wantErr: "after partial output"},
			run{args: []string{"ask", "--api", api, "--dry-run", "--json", png, "-p", "ok"}},
		)
	}
	// A key given to the wrong flag or variable, without the key in the
	// environment: only the messages themselves can hide it.
	for _, args := range [][]string{{"--base-url", secretKey}, {"--region", secretKey}, {"--api", secretKey},
		{"--base-url", "ftp://user:" + secretKey + "@host"}, {"--base-url", "https://" + secretKey + "@host"},
		{"--base-url", "https://host/" + secretKey}, {"--max-tokens", secretKey}} {
		cmds = append(cmds, run{args: append([]string{"ask", png, "-p", "ok"}, args...), noEnv: true, wantCode: exitUsage})
	}
	cmds = append(cmds,
		run{args: []string{"ask", png, "-p", "ok"}, env: "DASHSCOPE_BASE_URL=" + secretKey, wantCode: exitUsage, wantErr: "DASHSCOPE_BASE_URL"},
		run{args: []string{"ask", "--api-key-file", twoLines, png, "-p", "ok"}, noEnv: true, wantCode: exitUsage, wantErr: "more than one line"},
		run{args: []string{"ask", "--api-key-file", nul, png, "-p", "ok"}, noEnv: true, wantCode: exitUsage, wantErr: "control character"},
		run{args: []string{"ask", "--api-key", secretKey + "\n" + secretKey, png, "-p", "ok"}, noEnv: true, wantCode: exitUsage, wantErr: "line break"},
		run{args: []string{"ask", png, "-p", "ok"}, env: "DASHSCOPE_API_KEY=" + secretKey + "\n" + secretKey, wantCode: exitError, wantErr: "line break"},
		// Upload hosts from getPolicy with the key in them: a transport
		// error (retried) and a refusal, in ask's output and run's journal.
		run{args: []string{"ask", "--model", "qwen3-vl-flash", many, "-p", "ok"}, wantErr: "127.0.0.1:1"},
		run{args: []string{"ask", "--model", "qwen-vl-max", many, "-p", "ok"}, wantErr: "refusing upload host"},
		run{args: []string{"run", "--model", "qwen3-vl-flash", "--fps", "10", "--max-retries", "1", "-p", "ok", "-o", out("upload.jsonl"), long}, wantErr: "failed"},
		run{args: []string{"run", "--model", "qwen-vl-max", "--fps", "10", "-p", "ok", "-o", out("refused.jsonl"), long}, wantErr: "failed"},
	)
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
		if name, value, ok := strings.Cut(c.env, "="); ok {
			os.Setenv(name, value)
		}
		code, stdout, stderr := runCLI(t, c.args...)
		os.Setenv("DASHSCOPE_API_KEY", secretKey)
		os.Setenv("DASHSCOPE_BASE_URL", srv.URL)
		if l := leaks(stdout + stderr); len(l) > 0 {
			t.Errorf("%v shows %q of the key:\n%s\n%s", c.args, l, stdout, stderr)
		}
		if c.wantErr != "" && !strings.Contains(stdout+stderr, c.wantErr) {
			t.Errorf("%v: the failure (%s) is not reported:\n%s\n%s", c.args, c.wantErr, stdout, stderr)
		}
		if c.wantCode != 0 && code != c.wantCode {
			t.Errorf("%v: exit %d, want %d:\n%s", c.args, code, c.wantCode, stderr)
		}
		if c.args[len(c.args)-1] == "please-break" {
			var obj struct {
				Answer, Error string
				Partial       bool
			}
			if err := json.Unmarshal([]byte(stdout), &obj); err != nil || !obj.Partial || !strings.HasPrefix(obj.Answer, "the key is") || obj.Error == "" {
				t.Errorf("%v: stdout is not the partial answer as JSON (%v):\n%s", c.args, err, stdout)
			}
		}
		if strings.Contains(strings.Join(c.args, " "), "--dry-run --json") {
			var obj struct {
				Method, URL string
				Headers     map[string]string
				Body        map[string]any
			}
			if err := json.Unmarshal([]byte(stdout), &obj); err != nil || obj.Method != "POST" || obj.Body["model"] == nil ||
				!strings.HasPrefix(obj.Headers["Authorization"], "Bearer sk-…") {
				t.Errorf("%v: stdout is not the request as one JSON object (%v):\n%s", c.args, err, stdout)
			}
		}
		if c.args[0] == "ask" && c.args[1] == "--model" && c.args[2] == "qwen3-vl-flash" && !strings.Contains(stderr, "retrying in") {
			t.Errorf("%v: no retry lines:\n%s", c.args, stderr)
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
	for _, p := range []string{"ocr.jsonl", "fail.jsonl", "fail-openai.jsonl", "events.jsonl", "keyfile.jsonl", "ocr.md", "events.json", "dry.jsonl.requests", "upload.jsonl", "refused.jsonl"} {
		if _, err := os.Stat(out(p)); err != nil {
			t.Errorf("expected output missing: %v", err)
		}
	}
	if data, _ := os.ReadFile(out("fail.jsonl")); !strings.Contains(string(data), `"failed"`) || !strings.Contains(string(data), "401") {
		t.Errorf("fail.jsonl: %s", data)
	}
	if data, _ := os.ReadFile(out("upload.jsonl")); !strings.Contains(string(data), "127.0.0.1:1") {
		t.Errorf("upload.jsonl does not record the upload failure: %s", data)
	}
	if data, _ := os.ReadFile(out("refused.jsonl")); !strings.Contains(string(data), "refusing upload host") {
		t.Errorf("refused.jsonl does not record the refusal: %s", data)
	}
	if written < 260 {
		t.Errorf("only %d files scanned", written)
	}
}

// trailingServer answers every request and then sends bytes nobody asked
// for on the idle connection, the key among them; Go's HTTP client logs
// such bytes verbatim through the standard logger. A connection after the
// first is answered only once the first is closed (the client closes it
// right after logging), so the log line comes before the run ends.
func trailingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	firstClosed := make(chan struct{})
	var conns atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						if n == 1 {
							close(firstClosed)
						}
						return
					}
					key := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
					io.Copy(io.Discard, req.Body)
					if n > 1 {
						select {
						case <-firstClosed:
						case <-time.After(10 * time.Second):
						}
					}
					body := `{"request_id":"r","output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":"ok"}]}}]},"usage":{"input_tokens":1,"output_tokens":1}}`
					fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%sHTTP/1.1 200 OK\r\nX-Leak: %s\r\n\r\n", len(body), body, key)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestHTTPClientLogIsRedacted: what net/http logs about a server's
// unsolicited bytes goes to vision's stderr, prefixed and without the key.
func TestHTTPClientLogIsRedacted(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "in"), 0o755)
	for _, name := range []string{"png.png", "jpeg.jpg"} {
		data, err := os.ReadFile(filepath.Join(images, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "in", name), data, 0o644)
	}
	t.Setenv("DASHSCOPE_API_KEY", secretKey)
	t.Setenv("DASHSCOPE_BASE_URL", trailingServer(t))
	code, stdout, stderr := runCLI(t, "run", "--concurrency", "1", "-p", "ok", "-o", filepath.Join(dir, "r.jsonl"), filepath.Join(dir, "in"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "vision: Unsolicited response received on idle HTTP channel") {
		t.Errorf("the HTTP client's log line is not on stderr:\n%s", stderr)
	}
	if l := leaks(stdout + stderr); len(l) > 0 {
		t.Errorf("shows %q of the key:\n%s", l, stderr)
	}
}

// TestOutputWritersHideTheKey: the writers under every command's output
// hide the key written whole (stderr, the standard logger) or in pieces
// (stdout, as a streamed answer writes it), and pass other text on.
func TestOutputWritersHideTheKey(t *testing.T) {
	var out, errOut bytes.Buffer
	stdout, stderr, done := guardOutput(&out, &errOut, secretKey)
	text := "answer: " + secretKey + ", and the end\n"
	for i := 0; i < len(text); i += 3 {
		fmt.Fprint(stdout, text[i:min(i+3, len(text))])
	}
	fmt.Fprint(stdout, "more, ending in a possible key start: s")
	fmt.Fprintf(stderr, "vision: error: %s\n", secretKey)
	log.Printf("net/http said %q", secretKey)
	done()
	if log.Writer() == io.Writer(stderr) || log.Prefix() != "" {
		t.Error("the standard logger was not restored")
	}
	if l := leaks(out.String() + errOut.String()); len(l) > 0 {
		t.Errorf("shows %q:\n%s\n%s", l, out.String(), errOut.String())
	}
	if want := "answer: sk-…6a5f, and the end\nmore, ending in a possible key start: s"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if want := "vision: error: sk-…6a5f\nvision: net/http said \"sk-…6a5f\"\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}
