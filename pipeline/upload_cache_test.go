package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/dashtest"
)

// TestUploadCacheFile: uploads are remembered across processes in a JSON
// Lines file (mode 0600) keyed by key fingerprint, host, model and content
// hash; entries are never handed out at 47 h or later, and reopening
// drops and compacts them. The file holds no key.
func TestUploadCacheFile(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv := dashtest.New(t, testKey)
	path := filepath.Join(t.TempDir(), "cache", "uploads.jsonl")
	open := func() *UploadCache {
		uc, err := openUploadCache(path, clock)
		if err != nil {
			t.Fatal(err)
		}
		return uc
	}
	client := func(uc *UploadCache) *dashscope.Client {
		return testClient(t, srv.URL, dashscope.WithUploadCache(uc), dashscope.WithClock(clock))
	}
	img := dashscope.MediaBytes("image/png", pngBytes(t, 7))
	u1, err := client(open()).Upload(context.Background(), "qwen3-vl-plus", img)
	if err != nil {
		t.Fatal(err)
	}
	// A new process (a new cache and client) reuses the upload.
	advance(46*time.Hour + 59*time.Minute)
	if u, err := client(open()).Upload(context.Background(), "qwen3-vl-plus", img); err != nil || u != u1 || srv.Uploads() != 1 {
		t.Fatalf("at 46h59m: %s %v, uploads %d", u, err, srv.Uploads())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), testKey) || strings.Contains(string(data), testKey[3:12]) ||
		!strings.Contains(string(data), dashscope.KeyFingerprint(testKey)) || !strings.Contains(string(data), strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("cache file: %s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", st.Mode())
	}
	// At 47 h the entry is stale, in the open cache and in a reopened one.
	advance(2 * time.Minute)
	uc := open()
	if _, ok := uc.Load(dashscope.UploadKey{Account: dashscope.KeyFingerprint(testKey)}); ok {
		t.Error("loaded an empty key")
	}
	if len(uc.entries) != 0 {
		t.Errorf("stale entries kept: %v", uc.entries)
	}
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("file not compacted: %s", data)
	}
	before := srv.Uploads()
	if _, err := client(uc).Upload(context.Background(), "qwen3-vl-plus", img); err != nil {
		t.Fatal(err)
	}
	if srv.Uploads() != before+1 {
		t.Errorf("uploads %d → %d: a stale URL was handed out", before, srv.Uploads())
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}

// pngBytes is a small distinct PNG.
func pngBytes(t *testing.T, seed int) []byte {
	t.Helper()
	dir := t.TempDir()
	paths := writePNGs(t, dir, seed+1)
	data, err := os.ReadFile(paths[seed])
	if err != nil {
		t.Fatal(err)
	}
	return data
}
