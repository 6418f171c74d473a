package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVideoPlanFixesNameWhatHelps: no video option fixes a 4000x16 video's
// 250:1 or a one-frame video, so video.plan's fix is not "change the video
// options": it is the ffmpeg crop and pad that bring the video to 200:1
// (and the videos they write plan), or sending the frame as an image.
func TestVideoPlanFixesNameWhatHelps(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	wide := lavfiVideo(t, dir, "wide.mp4", "testsrc=s=4000x16:r=10:d=1")
	one := lavfiVideo(t, dir, "oneframe.mp4", "testsrc=s=64x64:r=10", "-frames:v", "1")

	code, out, errOut := runCLI(t, "estimate", wide)
	const want = "fix: crop or pad it to at most 200:1 (no option changes its shape): ffmpeg -i IN -vf crop=3200:16 OUT.mp4, or ffmpeg -i IN -vf 'pad=4000:20:(ow-iw)/2:(oh-ih)/2' OUT.mp4\n"
	if code != exitItemsFailed || !strings.Contains(out, "cannot be planned: aspect ratio over 200:1: 4000x16 has ratio 250:1 [video.plan]\n    "+want) {
		t.Fatalf("estimate wide: exit %d\n%s%s", code, out, errOut)
	}
	_, fixes, _ := strings.Cut(strings.TrimSuffix(want, "\n"), "shape): ")
	for i, cmd := range strings.Split(fixes, ", or ") {
		fixed := filepath.Join(dir, fmt.Sprintf("fixed%d.mp4", i))
		cmd = strings.Replace(strings.Replace(cmd, " IN ", " '"+wide+"' ", 1), "OUT.mp4", "-v error '"+fixed+"'", 1)
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if code, out, _ := runCLI(t, "estimate", fixed); code != 0 {
			t.Errorf("%s: estimate exit %d\n%s", cmd, code, out)
		}
	}

	code, out, errOut = runCLI(t, "check", one)
	if code != exitItemsFailed || !strings.Contains(out, "cannot be planned: too few frames for a frame list: the video has 1 frame; at least 2 are sampled and the API needs 4 in a list [video.plan]\n    fix: send a frame of it as an image: ffmpeg -i IN -frames:v 1 OUT.jpg\n") {
		t.Fatalf("check oneframe: exit %d\n%s%s", code, out, errOut)
	}
}
