package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckLargeVideoIsAWarning: a video file over the base64 limit (a
// phone clip of 8 MB) is sent as its sampled frames, so check warns and
// passes, as estimate says ok; --strict still fails it.
func TestCheckLargeVideoIsAWarning(t *testing.T) {
	needTools(t, "ffprobe")
	data, err := os.ReadFile(filepath.Join(videos, "cfr_h264.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "phone.mp4")
	// Trailing bytes after the moov: ffprobe reads the clip as it is.
	if err := os.WriteFile(big, append(data, make([]byte, 8_000_000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "check", big)
	if code != 0 || !strings.Contains(out, "warning: is 10.67 MB as a base64 data URL") || !strings.Contains(out, "[video.too_large_base64]") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "check", "--strict", big); code != exitItemsFailed {
		t.Errorf("--strict: exit %d", code)
	}
}
