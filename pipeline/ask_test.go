package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/dashtest"
)

// TestAskUploadsOverTheBase64Count: 251 images are one more than the API
// takes as base64 in a request (seed 001 line 2250), so all of them go by
// temporary upload, within the 256 allowed by URL; the strict stand-in
// refuses a request with more than 250 data URLs.
func TestAskUploadsOverTheBase64Count(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	writePNGs(t, filepath.Join(dir, "in"), 251)
	cfg := testConfig(t)
	cfg.Prompt = "Which is red?"
	res, err := Ask(context.Background(), cfg, testClient(t, srv.URL), []string{filepath.Join(dir, "in")}, nil, AskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v[:min(len(v), 3)])
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].OSS != 251 || reqs[0].Base64 != 0 || srv.Uploads() != 251 || srv.Policies() != 1 {
		t.Fatalf("requests %d, oss %d, base64 %d, uploads %d, policies %d", len(reqs), reqs[0].OSS, reqs[0].Base64, srv.Uploads(), srv.Policies())
	}
	for _, p := range res.Prepared {
		if p.Transport != SendUpload {
			t.Fatalf("transport %q", p.Transport)
		}
	}
	// 250 stay base64.
	srv2 := dashtest.New(t, testKey)
	os.Remove(filepath.Join(dir, "in", "img-250.png"))
	if _, err := Ask(context.Background(), cfg, testClient(t, srv2.URL), []string{filepath.Join(dir, "in")}, nil, AskOptions{}); err != nil {
		t.Fatal(err)
	}
	if reqs := srv2.Requests(); len(reqs) != 1 || reqs[0].Base64 != 250 || srv2.Uploads() != 0 {
		t.Fatalf("250 images: %+v, uploads %d", reqs, srv2.Uploads())
	}
}

// TestAskCountLimits: over the by-URL image limit, or over 64 videos, the
// request cannot be sent at all: a LimitError with media's problem codes,
// before anything is uploaded or sent.
func TestAskCountLimits(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	writePNGs(t, dir, 257)
	cfg := testConfig(t)
	cfg.Prompt = "?"
	_, err := Ask(context.Background(), cfg, testClient(t, srv.URL), []string{dir}, nil, AskOptions{})
	var le *LimitError
	if !errors.As(err, &le) || len(le.Problems) != 1 || le.Problems[0].Code != "image.too_many" || le.Problems[0].Fix == "" {
		t.Fatalf("err %v", err)
	}
	if len(srv.Requests()) != 0 || srv.Uploads() != 0 || srv.Policies() != 0 {
		t.Errorf("sent %d requests, %d uploads", len(srv.Requests()), srv.Uploads())
	}
	for _, tt := range []struct {
		n      askCounts
		upload bool
		code   string
	}{
		{askCounts{images: 250}, false, ""},
		{askCounts{images: 200, base64Frames: 51}, true, ""},
		{askCounts{images: 256}, true, ""},
		{askCounts{images: 257}, false, "image.too_many"},
		{askCounts{videos: 64, base64Frames: 64 * 4}, true, ""},
		{askCounts{videos: 65}, false, "video.too_many"},
	} {
		upload, err := tt.n.transport(cfg)
		var le *LimitError
		switch {
		case tt.code == "" && (err != nil || upload != tt.upload):
			t.Errorf("%+v: upload %v, err %v", tt.n, upload, err)
		case tt.code != "" && (!errors.As(err, &le) || le.Problems[0].Code != tt.code):
			t.Errorf("%+v: err %v, want %s", tt.n, err, tt.code)
		}
	}
	// Qwen3.7 takes 2,048 images by URL (seed 001 line 2248).
	cfg37 := cfg
	cfg37.Spec.ImagesPerRequestURL = 2048
	if upload, err := (askCounts{images: 1000}).transport(cfg37); err != nil || !upload {
		t.Errorf("1000 images for qwen3.7: upload %v, err %v", upload, err)
	}
}

// TestAskSpoolsMedia: the prepared media of a request is read from a
// temporary file, not memory, and nothing is left in the temporary folder
// after a sent request, a failed one or a canceled one.
func TestAskSpoolsMedia(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	writePNGs(t, dir, 3)
	cfg := testConfig(t)
	cfg.Prompt = "?"
	res, err := Ask(context.Background(), cfg, testClient(t, srv.URL), []string{dir}, nil, AskOptions{})
	if err != nil || len(srv.Violations()) > 0 {
		t.Fatalf("err %v, violations %v", err, srv.Violations())
	}
	for _, p := range res.Prepared {
		if m := p.Content.Image; m == nil || m.Data != nil || m.ReaderAt == nil || m.Size == 0 {
			t.Fatalf("prepared media is held in memory: %v", m)
		}
	}
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(dashtest.Request) dashtest.Fault { return dashtest.ServerError }
	})
	if _, err := Ask(context.Background(), cfg, testClient(t, srv.URL, dashscope.WithMaxRetries(0)), []string{dir}, nil, AskOptions{}); err == nil {
		t.Fatal("no error from a 500")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Ask(ctx, cfg, testClient(t, srv.URL), []string{dir}, nil, AskOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in the temporary folder: %v", left)
	}
}
