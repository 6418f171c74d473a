package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyNeverAppears runs every command with the key set (by environment
// and by key file) against a stand-in that echoes the Authorization header in
// its error bodies, and checks no output, error or written file shows it.
func TestKeyNeverAppears(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"code":"InvalidApiKey","message":"echo `+r.Header.Get("Authorization")+`","request_id":"r"}`)
	}))
	defer srv.Close()
	t.Setenv("DASHSCOPE_API_KEY", secretKey)
	t.Setenv("DASHSCOPE_BASE_URL", srv.URL)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(secretKey+"\n"), 0o600)
	png := filepath.Join(images, "png.png")
	video := filepath.Join(videos, "cfr_h264.mp4")
	cmds := [][]string{
		{"models", "--json"},
		{"tokens", "640x480"},
		{"estimate", "--json", png, video},
		{"check", png},
		{"resize", png, "-o", filepath.Join(dir, "r")},
		{"frames", video, "-o", filepath.Join(dir, "f")},
		{"ask", "--dry-run", png, video, "-p", "hi"},
		{"ask", "--dry-run", "--api", "openai", png, "-p", "hi"},
		{"ask", png, "-p", "hi"},
		{"ask", "--json", png, "-p", "hi"},
		{"ask", "--api", "openai", png, "-p", "hi"},
		{"ask", "--api-key-file", keyFile, png, "-p", "hi"},
		{"ask", "--api-key", secretKey, png, "-p", "hi"},
		{"ask", "--api-key", secretKey, "--dry-run", png, "-p", "hi"},
	}
	for _, args := range cmds {
		_, out, errOut := runCLI(t, args...)
		for _, leak := range []string{secretKey, secretKey[3:], secretKey[:len(secretKey)-4]} {
			if strings.Contains(out, leak) || strings.Contains(errOut, leak) {
				t.Errorf("%v shows the key:\n%s\n%s", args, out, errOut)
			}
		}
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || path == keyFile {
			return nil
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), secretKey[3:]) {
			t.Errorf("%s contains the key", path)
		}
		return nil
	})
}
