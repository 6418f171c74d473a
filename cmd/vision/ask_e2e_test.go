package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// secretKey is the API key the end-to-end tests use; no output may show it.
const secretKey = "sk-test-4f1d9c2a7b8e6d5c3a1f0e9d8c7b6a5f"

var (
	askBinOnce sync.Once
	askBinPath string
	askBinErr  error
)

// askBinary builds cmd/vision once for the tests that run the real binary.
func askBinary(t *testing.T) string {
	t.Helper()
	askBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vision-ask-e2e")
		if err != nil {
			askBinErr = err
			return
		}
		askBinPath = filepath.Join(dir, "vision")
		out, err := exec.Command("go", "build", "-o", askBinPath, ".").CombinedOutput()
		if err != nil {
			askBinErr = err
			askBinPath = string(out)
		}
	})
	if askBinErr != nil {
		t.Fatalf("build vision: %v\n%s", askBinErr, askBinPath)
	}
	return askBinPath
}

// standIn is a strict DashScope stand-in for the native endpoint: it checks
// the method, path, auth, content type and length, the body shape, and that
// each data URL's MIME type matches its bytes.
func standIn(t *testing.T, hits *atomic.Int32, answer string) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fail := func(format string, args ...any) {
			t.Errorf("stand-in: "+format, args...)
			w.WriteHeader(400)
			io.WriteString(w, `{"code":"InvalidParameter","message":"rejected by test","request_id":"bad"}`)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/services/aigc/multimodal-generation/generation" {
			fail("%s %s", r.Method, r.URL.Path)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+secretKey || r.Header.Get("Content-Type") != "application/json" {
			fail("headers %v", r.Header)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if int64(len(body)) != r.ContentLength {
			fail("content length %d, body %d", r.ContentLength, len(body))
			return
		}
		var req struct {
			Model string
			Input struct {
				Messages []struct {
					Role    string
					Content []map[string]any
				}
			}
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Model != "qwen3-vl-plus" || len(req.Input.Messages) != 1 {
			fail("body %s: %v", body[:min(len(body), 300)], err)
			return
		}
		var images, texts int
		for _, c := range req.Input.Messages[0].Content {
			if u, ok := c["image"].(string); ok {
				images++
				mime, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ";base64,")
				raw, err := base64.StdEncoding.DecodeString(data)
				if !ok || err != nil || mime != "image/jpeg" && mime != "image/png" {
					fail("image %q…", u[:min(len(u), 40)])
					return
				}
				if magic := map[string]string{"image/jpeg": "\xff\xd8\xff", "image/png": "\x89PNG"}[mime]; !bytes.HasPrefix(raw, []byte(magic)) {
					fail("data URL says %s but the bytes do not", mime)
					return
				}
			}
			if _, ok := c["text"]; ok {
				texts++
			}
		}
		if images != 2 || texts != 1 {
			fail("%d images, %d texts", images, texts)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"request_id":"rid-42","output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"text":`+
			strings.Trim(jsonString(answer), "")+`}]}}]},"usage":{"input_tokens":600,"output_tokens":7,"image_tokens":596}}`)
	}))
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(askBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestAskEndToEnd(t *testing.T) {
	var hits atomic.Int32
	srv := standIn(t, &hits, "Two pictures of a red square.")
	defer srv.Close()
	env := []string{"DASHSCOPE_BASE_URL=" + srv.URL, "DASHSCOPE_API_KEY=" + secretKey}
	code, out, errOut := runBinary(t, env, "ask", filepath.Join(images, "orient6.jpg"), filepath.Join(images, "png.png"), "--prompt", "What is this?")
	if code != 0 || strings.TrimSpace(out) != "Two pictures of a red square." {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"input 600 tokens (estimated", "image 596 (estimated 140)", "request rid-42"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests", hits.Load())
	}
	// --json prints the whole response.
	code, out, _ = runBinary(t, env, "ask", "--json", filepath.Join(images, "orient6.jpg"), filepath.Join(images, "png.png"), "-p", "What is this?")
	var resp map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &resp) != nil || resp["answer"] != "Two pictures of a red square." || resp["request_id"] != "rid-42" {
		t.Fatalf("--json: exit %d %s", code, out)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, secretKey) || strings.Contains(s, secretKey[8:]) {
			t.Fatal("the API key appears in the output")
		}
	}
}

func TestAskErrorsNameTheClassAndHideTheKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"code":"InvalidApiKey","message":"Invalid API-key provided: `+r.Header.Get("Authorization")+`","request_id":"rid-401"}`)
	}))
	defer srv.Close()
	code, out, errOut := runBinary(t, []string{"DASHSCOPE_BASE_URL=" + srv.URL, "DASHSCOPE_API_KEY=" + secretKey}, "ask", filepath.Join(images, "png.png"), "-p", "hi")
	if code != exitError || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "vision: hint:") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, secretKey) {
		t.Fatalf("key leaked: %s", errOut)
	}
}

func TestAskDryRunGolden(t *testing.T) {
	// No key needed, nothing sent: the golden file is the request body with
	// base64 elided and the key redacted.
	code, out, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=" + secretKey, "DASHSCOPE_BASE_URL="},
		"ask", "--dry-run", filepath.Join(images, "orient6.jpg"), filepath.Join(videos, "cfr_h264.mp4"), "-p", "Describe both.", "--max-tokens", "200")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, secretKey) {
		t.Fatal("dry run shows the key")
	}
	golden(t, "ask_dry_run.txt", out)
	if !strings.Contains(errOut, "nothing sent") || !strings.Contains(errOut, "8 frames at 2 fps") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestAskNeedsKey(t *testing.T) {
	code, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY="}, "ask", filepath.Join(images, "png.png"), "-p", "hi")
	if code != exitError || !strings.Contains(errOut, "DASHSCOPE_API_KEY") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestAskRefusesBadInputs(t *testing.T) {
	code, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=" + secretKey, "DASHSCOPE_BASE_URL=http://127.0.0.1:9"},
		"ask", filepath.Join(images, "ratio_201.png"), "-p", "hi")
	if code != exitItemsFailed || !strings.Contains(errOut, "ratio_201.png") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
