package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lavfiVideo writes a tiny testsrc clip to dir/name with ffmpeg; extra
// output options go before the file name.
func lavfiVideo(t *testing.T, dir, name, src string, extra ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := append([]string{"-v", "error", "-f", "lavfi", "-i", src}, extra...)
	args = append(args, "-pix_fmt", "yuv420p", "-c:v", "libx264", path)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// TestFrameListFPSClampedIntoAPIRange: qwen-vl-utils' own rules can sample
// outside the API's [0.1, 10] fps (seed 000 line 1285): a 0.3 s clip at
// 60 fps gets its 4 minimum frames (13.3 fps), 50 frames spread over
// 4900 s are 0.0102 fps. Every command declares the frame list's fps
// clamped into the range, with the same frames and tokens, and reports
// video.sample_fps with the real spacing.
func TestFrameListFPSClampedIntoAPIRange(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	cases := []struct {
		path     string
		declared float64
		fps      string // as the dry run prints it
		say, fix string
	}{
		{lavfiVideo(t, dir, "fast.mp4", "testsrc=s=64x64:r=60:d=0.3"), 10, "10",
			"samples 4 frames at 13.33 fps (about 0.0944s apart), above the API's 10 fps for a frame list: vision declares fps 10, so the model reads them as 0.1s apart",
			"use a longer clip: 4 frames need at least 0.4s"},
		{lavfiVideo(t, dir, "slow.mp4", "testsrc=s=64x64:r=1:d=50", "-vf", "setpts=98*PTS", "-r", "0.010204"), 0.1, "0.1",
			"samples 50 frames at 0.0102 fps (about 1m38.0s apart), below the API's 0.1 fps for a frame list: vision declares fps 0.1, so the model reads them as 10s apart",
			"no frame option helps: the video's own frames are 1m38.0s apart (0.0102 fps); send the video file itself"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			code, out, errOut := runCLI(t, "check", c.path)
			if code != 0 || !strings.Contains(out, c.say+" [video.sample_fps]") || !strings.Contains(out, "fix: "+c.fix) {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			if code, _, _ := runCLI(t, "check", "--strict", c.path); code != exitItemsFailed {
				t.Errorf("check --strict: exit %d, want %d", code, exitItemsFailed)
			}

			_, out, _ = runCLI(t, "estimate", "--json", c.path)
			var e struct {
				Tokens    int     `json:"tokens"`
				SampleFPS float64 `json:"sample_fps"`
				FrameList *struct {
					SampleFPS float64 `json:"sample_fps"`
					Tokens    int     `json:"tokens"`
				} `json:"frame_list"`
			}
			if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &e); err != nil {
				t.Fatal(err)
			}
			if e.FrameList == nil || e.FrameList.SampleFPS != c.declared || e.FrameList.Tokens != e.Tokens || e.Tokens == 0 || e.SampleFPS == c.declared {
				t.Fatalf("estimate: %s", out)
			}

			code, out, errOut = runCLI(t, "ask", "--dry-run", c.path, "-p", "x")
			if code != 0 || !regexp.MustCompile(`"fps": `+regexp.QuoteMeta(c.fps)+`\n`).MatchString(out) {
				t.Fatalf("ask --dry-run: exit %d, want \"fps\": %s\n%s%s", code, c.fps, out, errOut)
			}
			if !strings.Contains(errOut, "vision: warning: "+c.path+": "+c.say+" [video.sample_fps]") || !strings.Contains(errOut, "(declared as "+c.fps+" fps)") {
				t.Errorf("ask --dry-run stderr:\n%s", errOut)
			}

			outDir := filepath.Join(dir, "frames-"+filepath.Base(c.path))
			if code, _, errOut := runCLI(t, "frames", c.path, "-o", outDir); code != 0 {
				t.Fatalf("frames: exit %d: %s", code, errOut)
			}
			data, err := os.ReadFile(filepath.Join(outDir, filepath.Base(c.path), "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				SampleFPS float64 `json:"sample_fps"`
				ListFPS   float64 `json:"list_fps"`
			}
			if err := json.Unmarshal(data, &m); err != nil || m.ListFPS != c.declared || m.SampleFPS == c.declared {
				t.Errorf("manifest: %v\n%s", err, data)
			}
		})
	}
}
