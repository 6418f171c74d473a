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

// TestFailedRowsSayWhy: every file estimate or check fails gets a problem
// line with its code and a fix in the text output: a video whose frames
// cannot be planned (--start past its end) is video.plan, naming the
// options to change.
func TestFailedRowsSayWhy(t *testing.T) {
	needTools(t, "ffprobe")
	cases := [][]string{
		{filepath.Join(videos, "cfr_h264.mp4"), "--start", "30"},
		{filepath.Join(videos, "cfr_h264.mp4"), "--nframes", "3000"},
		{filepath.Join(videos, "truncated.mp4"), filepath.Join(videos, "audio_only.m4a"), filepath.Join(videos, "not_video.mp4"), filepath.Join(images, "ratio_201.png")},
	}
	for _, args := range cases {
		_, out, _ := runCLI(t, append([]string{"estimate", "--json"}, args...)...)
		var failed []string
		for _, l := range jsonLines(t, out) {
			if l["status"] == "failed" {
				failed = append(failed, l["path"].(string))
			}
		}
		if len(failed) == 0 {
			t.Fatalf("%v: nothing failed\n%s", args, out)
		}
		for _, cmd := range []string{"estimate", "check"} {
			code, out, errOut := runCLI(t, append([]string{cmd}, args...)...)
			if code != exitItemsFailed {
				t.Errorf("%s %v: exit %d\n%s", cmd, args, code, errOut)
			}
			for _, path := range failed {
				_, after, ok := strings.Cut(out, "\n"+path+": error: ")
				line, rest, _ := strings.Cut(after, "\n")
				if !ok || !strings.HasSuffix(line, "]") || !strings.Contains(line, " [") || !strings.HasPrefix(rest, "    fix: ") {
					t.Errorf("%s %v: no problem line with a code and a fix for %s:\n%s", cmd, args, path, out)
				}
			}
		}
	}
	for _, c := range []struct{ flag, want string }{
		{"200", "fix: for this video give --nframes between 2 and 40"},
		{"2", "fix: raise --nframes to at least 4"},
	} {
		code, out, _ := runCLI(t, "check", filepath.Join(videos, "cfr_h264.mp4"), "--nframes", c.flag)
		if code != exitItemsFailed || !strings.Contains(out, c.want) {
			t.Errorf("check --nframes %s: exit %d\n%s", c.flag, code, out)
		}
	}
	_, out, _ := runCLI(t, "check", filepath.Join(videos, "cfr_h264.mp4"), "--start", "30")
	if !strings.Contains(out, "[video.plan]") || !strings.Contains(out, "fix: give --start/--end within the video (0–4.00s)") {
		t.Errorf("check --start 30:\n%s", out)
	}
}

// TestEstimateMatroskaWithoutDuration: a Matroska written to a pipe
// stores no duration; it is measured from the packets and marked, not
// refused as corrupt.
func TestEstimateMatroskaWithoutDuration(t *testing.T) {
	needTools(t, "ffprobe")
	code, out, errOut := runCLI(t, "estimate", "--json", filepath.Join(videos, "live.mkv"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	e := jsonLines(t, out)[0]
	if e["status"] != "ok" || e["duration_s"] != 4.0 || e["duration_source"] != "packets" || num(e, "source_frames") != 100 || e["frames_estimated"] != nil {
		t.Errorf("estimate: %v", e)
	}
}

// TestCorruptMessageKeepsPaths: the file's own path is taken off the
// front of a message (it names the file already), never out of the middle
// of ffprobe's absolute path to it.
func TestCorruptMessageKeepsPaths(t *testing.T) {
	needTools(t, "ffprobe")
	dir := t.TempDir()
	put(t, filepath.Join(videos, "truncated.mp4"), filepath.Join(dir, "v", "truncated.mp4"))
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := runVision(t, dir, "", "check", "v/truncated.mp4")
	want := "file:" + filepath.Join(abs, "v", "truncated.mp4") + ": Invalid data"
	if !strings.Contains(out, "v/truncated.mp4: error: is corrupt or truncated: ffprobe:") || !strings.Contains(out, want) {
		t.Errorf("want the message to hold %q:\n%s", want, out)
	}
}
