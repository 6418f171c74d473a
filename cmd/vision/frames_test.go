package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFramesCommandExactCounts: `vision frames` extracts videos whose
// header counts are wrong (a trimmed MP4, an MKV cut at a B-frame, MPEG-TS
// and MPEG-PS) in every mode that applies, and prints the mode it used.
func TestFramesCommandExactCounts(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	files := []string{"trimmed.mp4", "cut.mkv", "clip.ts", "mpeg2.mpg", "clip.ogv"}
	for _, mode := range []string{"auto", "pass", "keyframes"} {
		args := []string{"frames", "--json", "--fps", "4", "--mode", mode, "-o", t.TempDir()}
		for _, f := range files {
			args = append(args, filepath.Join(videos, f))
		}
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", mode, code, out, errOut)
		}
		lines := jsonLines(t, out)
		for _, l := range lines[:len(files)] {
			want := mode
			if mode == "auto" {
				want = "pass" // short videos decode in one pass
			}
			if l["status"] != "ok" || l["mode"] != want {
				t.Errorf("%s: %v status %v mode %v, want ok %s", mode, l["path"], l["status"], l["mode"], want)
			}
			var m struct {
				Mode   string
				Frames []struct{ Index int }
			}
			data, err := os.ReadFile(l["manifest"].(string))
			if err == nil {
				err = json.Unmarshal(data, &m)
			}
			if err != nil || m.Mode != want || len(m.Frames) != num(l, "frames") {
				t.Errorf("%s: manifest mode %q, %d frames (%v)", l["path"], m.Mode, len(m.Frames), err)
			}
		}
	}
	// The table names the mode too.
	_, out, _ := runCLI(t, "frames", "-o", t.TempDir(), filepath.Join(videos, "trimmed.mp4"))
	if head, row, _ := strings.Cut(out, "\n"); !strings.Contains(head, "MODE") || !strings.Contains(row, " pass ") {
		t.Errorf("table:\n%s", out)
	}
}

// TestFramesCommandSeekHint: forcing seek mode where seeking cannot work
// fails that video with a hint to use a pass (exit 3), the others run on.
func TestFramesCommandSeekHint(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	code, out, _ := runCLI(t, "frames", "--json", "--mode", "seek", "-o", t.TempDir(),
		filepath.Join(videos, "mpeg2.mpg"), filepath.Join(videos, "cfr_h264.mp4"))
	if code != exitItemsFailed {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := jsonLines(t, out)
	if lines[0]["status"] != "failed" || !strings.Contains(lines[0]["error"].(string), "--mode pass") || lines[1]["status"] != "ok" {
		t.Errorf("results: %v\n%v", lines[0], lines[1])
	}
}

// TestFramesFailedWritesNothing: a video that fails midway (seeking in
// MPEG-TS) leaves no frames, and its row, in JSON and in the table, says 0
// were written.
func TestFramesFailedWritesNothing(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	out := t.TempDir()
	ts := filepath.Join(videos, "clip.ts")
	code, stdout, _ := runCLI(t, "frames", "--json", "--mode", "seek", "--fps", "4", "-o", out, ts)
	if l := jsonLines(t, stdout)[0]; code != exitItemsFailed || l["status"] != "failed" || num(l, "written") != 0 {
		t.Fatalf("exit %d: %v", code, l)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("left %v", left)
	}
	_, stdout, _ = runCLI(t, "frames", "--mode", "seek", "--fps", "4", "-o", out, ts)
	_, row, _ := strings.Cut(stdout, "\n")
	if f := strings.Fields(row); len(f) < 2 || f[0] != ts || f[1] != "0" {
		t.Errorf("table:\n%s", stdout)
	}
}
