package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qwen-vision/vision/internal/dashtest"
)

// secretKey is the API key the end-to-end tests use; no output may show it.
const secretKey = "sk-test-4f1d9c2a7b8e6d5c3a1f0e9d8c7b6a5f"

// askBinary is the vision binary the end-to-end tests run (built once, see
// visionBin).
func askBinary(t *testing.T) string { return visionBin(t) }

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

// TestAskPlansFromExactFrameCount sends videos whose header frame count is
// wrong or estimated (a cut MKV, an MPEG-PS, a trimmed MP4): the frames
// sent must come from the packet scan's count, or extraction names frames
// that do not exist.
func TestAskPlansFromExactFrameCount(t *testing.T) {
	for _, name := range []string{"cut.mkv", "mpeg2.mpg", "trimmed.mp4", "vfr.mkv"} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=", "DASHSCOPE_BASE_URL="},
				"ask", "--dry-run", filepath.Join(videos, name), "-p", "What happens?")
			if code != 0 || !strings.Contains(errOut, "nothing sent") {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
	_, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=", "DASHSCOPE_BASE_URL="},
		"ask", "--dry-run", filepath.Join(videos, "cut.mkv"), "-p", "?")
	if !strings.Contains(errOut, "exact count of 145 frames (the header said 146)") {
		t.Errorf("no re-plan note: %s", errOut)
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

// thinkingServer answers native and compatible requests, streamed or not,
// with reasoning and an answer; other paths get 404.
func thinkingServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		stream := r.Header.Get("Accept") == "text/event-stream"
		switch {
		case r.URL.Path != "/api/v1/services/aigc/multimodal-generation/generation":
			w.WriteHeader(404)
			io.WriteString(w, `{"code":"NotFound","message":"no such path","request_id":"r404"}`)
		case stream:
			w.Header().Set("Content-Type", "text/event-stream")
			chunk := func(reasoning, text, finish string) string {
				return `event:result` + "\n" + `data:{"request_id":"s1","output":{"choices":[{"finish_reason":` + finish + `,"message":{"content":[{"text":` + jsonString(text) + `}],"reasoning_content":` + jsonString(reasoning) + `}}]},"usage":{"input_tokens":9,"output_tokens":3}}` + "\n\n"
			}
			io.WriteString(w, chunk("Let me ", "", "null")+chunk("look.", "", "null")+chunk("", "A red ", "null")+chunk("", "square.", `"stop"`))
		default:
			io.WriteString(w, `{"request_id":"n1","output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":"A red square."}],"reasoning_content":"Let me look."}}]},"usage":{"input_tokens":9,"output_tokens":3}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAskReasoningAndJSON: reasoning goes to stderr between a label and an
// end line, streamed or not (not with --quiet); the answer alone goes to
// stdout; with --json stdout is one JSON object even when streaming.
func TestAskReasoningAndJSON(t *testing.T) {
	srv := thinkingServer(t)
	env := []string{"DASHSCOPE_BASE_URL=" + srv.URL, "DASHSCOPE_API_KEY=" + secretKey}
	png := filepath.Join(images, "png.png")
	const block = "vision: reasoning:\nLet me look.\nvision: end of reasoning\n"
	for _, stream := range []string{"--stream", "--stream=false"} {
		code, out, errOut := runBinary(t, env, "ask", stream, "--thinking", png, "-p", "?")
		if code != 0 || out != "A red square.\n" || !strings.HasPrefix(errOut, block) {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q", stream, code, out, errOut)
		}
		_, out, errOut = runBinary(t, env, "ask", stream, "--quiet", png, "-p", "?")
		if out != "A red square.\n" || strings.Contains(errOut, "Let me") {
			t.Errorf("%s --quiet: stdout %q, stderr %q", stream, out, errOut)
		}
		code, out, errOut = runBinary(t, env, "ask", stream, "--json", png, "-p", "?")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		var obj map[string]any
		if code != 0 || len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &obj) != nil || obj["answer"] != "A red square." || obj["reasoning"] != "Let me look." {
			t.Errorf("%s --json: exit %d, stdout %q (stderr %s)", stream, code, out, errOut)
		}
	}
}

// TestAskErrorWithoutHint: an error whose class has no hint prints no empty
// "vision: hint:" line.
func TestAskErrorWithoutHint(t *testing.T) {
	srv := thinkingServer(t)
	code, _, errOut := runBinary(t, []string{"DASHSCOPE_BASE_URL=" + srv.URL, "DASHSCOPE_API_KEY=" + secretKey},
		"ask", "--api", "openai", filepath.Join(images, "png.png"), "-p", "?")
	if code != exitError || !strings.Contains(errOut, "404") || strings.Contains(errOut, "vision: hint:") {
		t.Fatalf("exit %d: %q", code, errOut)
	}
}

// TestAskEndpointPrecedence: --base-url > explicit --region >
// DASHSCOPE_BASE_URL > the default region; prices follow a known host; a
// base URL with a path is a usage error naming the fix.
func TestAskEndpointPrecedence(t *testing.T) {
	png := filepath.Join(images, "png.png")
	dry := func(env []string, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runBinary(t, append([]string{"DASHSCOPE_API_KEY="}, env...), append([]string{"ask", "--dry-run", png, "-p", "?"}, args...)...)
		if code != 0 {
			t.Fatalf("%v %v: exit %d: %s", env, args, code, errOut)
		}
		return strings.SplitN(out, "\n", 2)[0], errOut
	}
	gen := "/api/v1/services/aigc/multimodal-generation/generation"
	for _, tt := range []struct {
		env      []string
		args     []string
		url, cur string
	}{
		{nil, nil, "https://dashscope-intl.aliyuncs.com" + gen, "$"},
		{[]string{"DASHSCOPE_BASE_URL=https://dashscope.aliyuncs.com"}, nil, "https://dashscope.aliyuncs.com" + gen, "¥"},
		{[]string{"DASHSCOPE_BASE_URL=https://dashscope.aliyuncs.com"}, []string{"--region", "intl"}, "https://dashscope-intl.aliyuncs.com" + gen, "$"},
		{[]string{"DASHSCOPE_BASE_URL=http://127.0.0.1:9"}, []string{"--region", "cn"}, "https://dashscope.aliyuncs.com" + gen, "¥"},
		{[]string{"DASHSCOPE_BASE_URL=http://127.0.0.1:9"}, []string{"--region", "cn", "--base-url", "https://dashscope-intl.aliyuncs.com/"}, "https://dashscope-intl.aliyuncs.com" + gen, "$"},
		{nil, []string{"--base-url", "http://127.0.0.1:9", "--region", "cn"}, "http://127.0.0.1:9" + gen, "¥"},
	} {
		url, errOut := dry(tt.env, tt.args...)
		if url != "POST "+tt.url || !strings.Contains(errOut, "estimated "+tt.cur) {
			t.Errorf("%v %v: %s; stderr %s", tt.env, tt.args, url, errOut)
		}
	}
	for _, bad := range [][]string{
		{"--base-url", "https://dashscope-intl.aliyuncs.com/api/v1"},
		{"--base-url", "dashscope-intl.aliyuncs.com"},
	} {
		code, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=" + secretKey}, append([]string{"ask", png, "-p", "?"}, bad...)...)
		if code != exitUsage || !strings.Contains(errOut, "vision: hint:") || !strings.Contains(errOut, "https://dashscope-intl.aliyuncs.com") {
			t.Errorf("%v: exit %d: %s", bad, code, errOut)
		}
	}
	code, _, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=" + secretKey, "DASHSCOPE_BASE_URL=https://dashscope-intl.aliyuncs.com/api/v1"}, "ask", png, "-p", "?")
	if code != exitUsage || !strings.Contains(errOut, "DASHSCOPE_BASE_URL") || !strings.Contains(errOut, "scheme and host only") {
		t.Errorf("env with a path: exit %d: %s", code, errOut)
	}
}

// uploadEnv points the binary at a stand-in, with its default upload cache
// under dir (never the user's own).
func uploadEnv(srv *dashtest.Server, dir string) []string {
	return []string{"DASHSCOPE_BASE_URL=" + srv.URL, "DASHSCOPE_API_KEY=" + secretKey, "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg"), "HOME=" + dir}
}

// binaryNoiseJPEG writes a w×h JPEG of random black-and-white pixels per
// channel: even at quality 50 it is over 7.5 MB at 16 MP, so its base64
// data URL cannot fit the API's 10 MB (seed 001 line 2244).
func binaryNoiseJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(7, 7))
	for i := range img.Pix {
		img.Pix[i] = byte(255 * r.IntN(2))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	putBytes(t, path, buf.Bytes())
}

// TestAskUploadPathEndToEnd runs the binary through temporary upload: a
// video whose frame list (300 frames) is longer than the 250 the API takes
// as base64, and an image whose base64 would pass 10 MB even at the lowest
// quality. The strict stand-in checks getPolicy, every OSS form and that
// the request carries only oss:// URLs with the resolve header; the upload
// cache file records every upload without the key.
func TestAskUploadPathEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 16-megapixel image about ten times")
	}
	needTools(t, "ffmpeg", "ffprobe")
	srv := dashtest.New(t, secretKey)
	dir := t.TempDir()
	video := filepath.Join(dir, "long.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-t", "30",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", video).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	big := filepath.Join(dir, "noise.jpg")
	binaryNoiseJPEG(t, big, 4096, 4096)
	cache := filepath.Join(dir, "cache", "uploads.jsonl")
	code, out, errOut := runBinary(t, uploadEnv(srv, dir), "ask", "--high-res", "--fps", "10", "--upload-cache", cache, video, big, "-p", "Describe both.")
	if code != 0 || !strings.HasPrefix(out, "answer ") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s\nviolations %v", code, out, errOut, srv.Violations())
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v[:min(len(v), 3)])
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].OSS != 301 || reqs[0].Base64 != 0 || srv.Uploads() != 301 || srv.Policies() != 1 {
		t.Fatalf("requests %d, oss %d, base64 %d, uploads %d, policies %d", len(reqs), reqs[0].OSS, reqs[0].Base64, srv.Uploads(), srv.Policies())
	}
	data, err := os.ReadFile(cache)
	if err != nil || strings.Count(string(data), "\n") != 301 || strings.Contains(string(data), secretKey[3:12]) {
		t.Errorf("upload cache: %v, %d lines", err, strings.Count(string(data), "\n"))
	}
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("upload cache mode: %v %v", st, err)
	}
}

// TestAskUploadCacheEndToEnd: 251 images are one over the base64 count, so
// they are uploaded; a second run finds them in the default cache
// (XDG_CACHE_HOME/vision/uploads.jsonl) and uploads nothing, not even a
// getPolicy; --no-upload-cache uploads again; --upload-cache FILE moves it.
func TestAskUploadCacheEndToEnd(t *testing.T) {
	srv := dashtest.New(t, secretKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	distinctPNGs(t, in, 251)
	env := uploadEnv(srv, dir)
	ask := func(args ...string) {
		t.Helper()
		code, _, errOut := runBinary(t, env, append([]string{"ask", in, "-p", "Which is red?"}, args...)...)
		if code != 0 || len(srv.Violations()) > 0 {
			t.Fatalf("%v: exit %d: %s\nviolations %v", args, code, errOut, srv.Violations())
		}
	}
	ask()
	if srv.Uploads() != 251 || srv.Policies() != 1 {
		t.Fatalf("first run: uploads %d, policies %d", srv.Uploads(), srv.Policies())
	}
	if _, err := os.Stat(filepath.Join(dir, "xdg", "vision", "uploads.jsonl")); err != nil {
		t.Fatalf("default cache: %v", err)
	}
	ask()
	if srv.Policies() != 1 {
		t.Errorf("second run asked for %d policies: the cache was not used", srv.Policies()-1)
	}
	ask("--no-upload-cache")
	if srv.Policies() != 2 {
		t.Errorf("--no-upload-cache: policies %d", srv.Policies())
	}
	other := filepath.Join(dir, "elsewhere.jsonl")
	ask("--upload-cache", other)
	if _, err := os.Stat(other); err != nil || srv.Policies() != 3 {
		t.Errorf("--upload-cache FILE: %v, policies %d", err, srv.Policies())
	}
	for _, r := range srv.Requests() {
		if r.OSS != 251 || r.Base64 != 0 {
			t.Errorf("request %d: oss %d, base64 %d", r.N, r.OSS, r.Base64)
		}
	}
}

// TestAskTooManyImages: 257 images are over the 256 the API takes even by
// URL (seed 001 line 2249): exit 3 with the problem code and its fix, and
// nothing uploaded or sent.
func TestAskTooManyImages(t *testing.T) {
	srv := dashtest.New(t, secretKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 257)
	code, _, errOut := runBinary(t, uploadEnv(srv, dir), "ask", filepath.Join(dir, "in"), "-p", "?")
	if code != exitItemsFailed || !strings.Contains(errOut, "[image.too_many]") || !strings.Contains(errOut, "vision: hint: split them into requests of at most 256 images") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(srv.Requests()) != 0 || srv.Policies() != 0 {
		t.Errorf("sent %d requests, %d policies", len(srv.Requests()), srv.Policies())
	}
}
