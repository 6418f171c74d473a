package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

const videoFixtures = "../testdata/video"

// extractOne runs ExtractFiles on one video into out and returns its
// result and, when one was written, its manifest.
func extractOne(t *testing.T, cfg Config, video, out string, o FramesOptions) (FramesResult, *Manifest) {
	t.Helper()
	o.OutDir = out
	var got []FramesResult
	if _, err := ExtractFiles(context.Background(), cfg, []string{video}, nil, o, func(r FramesResult) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	r := got[0]
	if r.Manifest == "" {
		return r, nil
	}
	data, err := os.ReadFile(r.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return r, &m
}

// TestFramesPlanFromExactCount: vision frames plans from the frames the
// packets hold, not the header's count (a trimmed MP4's nb_frames counts
// 13 hidden packets; MKV and MPEG-PS store no count and the estimate from
// the duration is off), and records the mode it used and the source's
// real rate and coded size.
func TestFramesPlanFromExactCount(t *testing.T) {
	cfg, _, _ := videoSetup(t, "")
	cfg.Video = tokens.VideoOptions{FPS: 4}
	for _, c := range []struct {
		file   string
		frames int
		mode   string
	}{
		{"trimmed.mp4", 102, "pass"},
		{"cut.mkv", 145, "pass"},
		{"vfr.mkv", 55, "pass"},
		{"mpeg2.mpg", 100, "pass"},
	} {
		t.Run(c.file, func(t *testing.T) {
			r, m := extractOne(t, cfg, filepath.Join(videoFixtures, c.file), t.TempDir(), FramesOptions{})
			if r.Status != StatusOK || m == nil {
				t.Fatalf("%s: %s %s", r.Status, r.Stage, r.Error)
			}
			if m.Source.Frames != c.frames || m.Source.FramesEstimated {
				t.Errorf("source frames %d (estimated %v), want %d exact", m.Source.Frames, m.Source.FramesEstimated, c.frames)
			}
			if want := tokens.FrameIndices(0, c.frames-1, m.Plan.Frames); !slices.Equal(m.Plan.Indices, want) {
				t.Errorf("indices %v, want %v", m.Plan.Indices, want)
			}
			if len(m.Frames) != len(m.Plan.Indices) || r.Written != len(m.Frames) {
				t.Errorf("%d frames written, %d listed, %d planned", r.Written, len(m.Frames), len(m.Plan.Indices))
			}
			if m.Mode != c.mode || r.Mode != c.mode {
				t.Errorf("mode %q (result %q), want %q", m.Mode, r.Mode, c.mode)
			}
			if m.Source.RealFPS <= 0 || m.Source.CodedWidth != 160 || m.Source.CodedHeight != 90 {
				t.Errorf("source real fps %g coded %dx%d", m.Source.RealFPS, m.Source.CodedWidth, m.Source.CodedHeight)
			}
		})
	}
	// The MPEG-PS timeline is flagged, and keyframe mode says why it
	// decoded everything.
	_, m := extractOne(t, cfg, filepath.Join(videoFixtures, "mpeg2.mpg"), t.TempDir(), FramesOptions{Mode: media.ExtractKeyframes})
	if m == nil || !m.Source.TimestampsUnreliable || m.Mode != "keyframes" || !strings.Contains(m.ModeNote, "no timestamps") {
		t.Errorf("mpeg2.mpg keyframes: %+v", m)
	}
}

// listDir names the entries of dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// frameNames are the manifest's file names and the manifest itself.
func frameNames(m *Manifest) []string {
	names := []string{manifestName}
	for _, f := range m.Frames {
		names = append(names, f.File)
	}
	return append(names, m.ContactSheets...)
}

// videoSetup skips without ffmpeg and ffprobe, and returns the default
// config, the fixture's path and an output folder.
func videoSetup(t *testing.T, fixture string) (Config, string, string) {
	t.Helper()
	needTool(t, "ffmpeg")
	needTool(t, "ffprobe")
	return testConfig(t), filepath.Join(videoFixtures, fixture), t.TempDir()
}

// TestFramesRerun: running again into the same folder replaces the files
// the previous manifest listed and leaves everything else.
func TestFramesRerun(t *testing.T) {
	cfg, video, out := videoSetup(t, "cfr_h264.mp4")
	cfg.Video = tokens.VideoOptions{FPS: 6}
	_, first := extractOne(t, cfg, video, out, FramesOptions{ContactSheet: true})
	dir := filepath.Join(out, "cfr_h264.mp4")
	mine := []string{"notes.txt", "frame_9999.jpg"}
	for _, n := range mine {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Video = tokens.VideoOptions{FPS: 2}
	r, second := extractOne(t, cfg, video, out, FramesOptions{})
	if r.Status != StatusOK || len(second.Frames) >= len(first.Frames) {
		t.Fatalf("second run: %s %s, %d frames after %d", r.Status, r.Error, len(second.Frames), len(first.Frames))
	}
	want := append(frameNames(second), mine...)
	slices.Sort(want)
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("folder holds %v, want %v", got, want)
	}
}

// TestRemoveListed: only plain files directly in the folder are removed,
// whatever a manifest lists.
func TestRemoveListed(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "v.mp4")
	for _, p := range []string{"v.mp4/frame_0001.jpg", "v.mp4/sub/frame.jpg", "outside.jpg", "v.mp4/target.jpg"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("target.jpg", filepath.Join(dir, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	m := Manifest{ContactSheet: "../outside.jpg", Frames: []ManifestItem{
		{File: "frame_0001.jpg"}, {File: "sub/frame.jpg"}, {File: "sub"}, {File: ".."}, {File: "link.jpg"}, {File: manifestName}, {File: "gone.jpg"},
	}}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, manifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	removeListed(dir)
	if got, want := listDir(t, dir), []string{"link.jpg", manifestName, "sub", "target.jpg"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	for _, p := range []string{"outside.jpg", "v.mp4/sub/frame.jpg"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestFramesFailureKeepsFolder: a failed extraction (a damaged file) leaves
// the previous run's frames and manifest as they were, and no partial
// files.
func TestFramesFailureKeepsFolder(t *testing.T) {
	cfg, video, out := videoSetup(t, "damaged.mp4")
	end := 4.0 // before the damage
	cfg.Video = tokens.VideoOptions{FPS: 2, End: &end}
	r, first := extractOne(t, cfg, video, out, FramesOptions{})
	if r.Status != StatusOK {
		t.Fatalf("first run: %s", r.Error)
	}
	dir := filepath.Join(out, "damaged.mp4")
	before := listDir(t, dir)
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestName))

	cfg.Video = tokens.VideoOptions{FPS: 2}
	r, m := extractOne(t, cfg, video, out, FramesOptions{Mode: media.ExtractPass})
	if r.Status != StatusFailed || r.Stage != "extract" || m != nil || !strings.Contains(r.Error, "not decoded") {
		t.Fatalf("second run: %s %s %q", r.Status, r.Stage, r.Error)
	}
	if len(r.Problems) != 1 || r.Problems[0].Code != "video.damaged" || !strings.Contains(r.Problems[0].Fix, "ffmpeg -i IN") ||
		!strings.Contains(r.Problems[0].Fix, "--keyframes") {
		t.Errorf("problems %+v, want one video.damaged with the re-encoding fix", r.Problems)
	}
	if c := errorClass(fmt.Errorf("send: %w", media.ErrFrameMissing)); c != "video.damaged" {
		t.Errorf("run's error class %q, want video.damaged", c)
	}
	if r.Written != 0 { // the frames before the damage were rolled back
		t.Errorf("a failed run reports %d frames written", r.Written)
	}
	if got := listDir(t, dir); !slices.Equal(got, before) {
		t.Errorf("folder %v, was %v", got, before)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, manifestName)); string(now) != string(manifest) || len(first.Frames) == 0 {
		t.Error("the manifest changed")
	}
	// A first run that fails leaves no folder behind.
	fresh := t.TempDir()
	if r, _ := extractOne(t, cfg, video, fresh, FramesOptions{Mode: media.ExtractPass}); r.Status != StatusFailed {
		t.Fatalf("fresh run: %s", r.Status)
	}
	if got := listDir(t, fresh); len(got) != 0 {
		t.Errorf("a failed run left %v", got)
	}
}

// TestFramesWithoutFFmpeg: ffprobe alone is not enough; nothing is created
// and the problem names the install command.
func TestFramesWithoutFFmpeg(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	bin := t.TempDir()
	if err := os.Symlink(ffprobe, filepath.Join(bin, "ffprobe")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	out := filepath.Join(t.TempDir(), "frames")
	r, _ := extractOne(t, testConfig(t), filepath.Join(videoFixtures, "cfr_h264.mp4"), out, FramesOptions{})
	if r.Status != StatusFailed || len(r.Problems) == 0 || r.Problems[len(r.Problems)-1].Code != "tool.missing" ||
		r.Problems[len(r.Problems)-1].Fix != media.ToolInstallHint {
		t.Fatalf("got %s %+v", r.Status, r.Problems)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder created: %v", err)
	}
}

// TestPrepareReportsReplan: a video whose header count looked exact but
// is not (here: 96 where the packets hold 100) is sent as planned from the
// packets, and Prepare says so with the estimate of what it sent, so Ask
// and Run show and charge that; an exact estimate is sent as it is.
func TestPrepareReportsReplan(t *testing.T) {
	cfg, video, _ := videoSetup(t, "cfr_h264.mp4")
	ctx := context.Background()
	e := estimateOne(ctx, cfg, Input{Path: video}, 0)
	if e.Status != StatusOK || e.Info.FramesEstimated || e.Info.Frames != 100 {
		t.Fatalf("estimate: %s %s, %d frames", e.Status, e.Error, e.Info.Frames)
	}
	if p, err := Prepare(ctx, cfg, e, nil); err != nil || p.Replanned != nil {
		t.Fatalf("exact estimate: replanned %v, %v", p.Replanned, err)
	}
	off := Estimate{Path: e.Path, In: e.In, Status: StatusOK, Problems: []media.Problem{}, Info: e.Info, Kind: e.Kind, Format: e.Format, Bytes: e.Bytes, Width: e.Width, Height: e.Height}
	off.Info.Frames, off.Info.Duration = 96, 3.84
	cfg.Video = tokens.VideoOptions{FPS: 4}
	estimateVideo(cfg, &off)
	p, err := Prepare(ctx, cfg, off, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Replanned
	if r == nil || r.Info.Frames != 100 || r.Video == nil || len(p.Frames) != r.Video.Frames {
		t.Fatalf("replanned %+v, %d frames sent", r, len(p.Frames))
	}
	if want := tokens.FrameIndices(0, 99, r.Video.Frames); !slices.Equal(r.Video.Indices, want) || slices.Equal(r.Video.Indices, off.Video.Indices) {
		t.Errorf("sent %v (estimated %v), want %v", r.Video.Indices, off.Video.Indices, want)
	}
	if r.InputTokens != r.Video.InputTokens || !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "the header said 96") }) {
		t.Errorf("input tokens %d (plan %d), notes %q", r.InputTokens, r.Video.InputTokens, p.Notes)
	}
}

// TestFramesContactSheets: a list longer than one sheet holds gets several
// sheets (contact.jpg, contact_2.jpg), all in the manifest, each frame
// drawn once; a re-run with a shorter list removes the sheets it no
// longer writes.
func TestFramesContactSheets(t *testing.T) {
	cfg, src, out := videoSetup(t, "cfr_h264.mp4")
	video := filepath.Join(t.TempDir(), "long.mkv") // 24 s, 600 frames
	if b, err := exec.Command("ffmpeg", "-v", "error", "-stream_loop", "5", "-i", "file:"+src, "-c", "copy", "file:"+video).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	n := media.ContactSheetFrames + 20
	cfg.Video = tokens.VideoOptions{NFrames: n, MinPixels: 4096, MaxPixels: 64 * 64} // 64x32 frames
	r, m := extractOne(t, cfg, video, out, FramesOptions{ContactSheet: true})
	if r.Status != StatusOK || m == nil || len(m.Frames) != n || m.Width != 64 || m.Height != 32 {
		t.Fatalf("%s %s", r.Status, r.Error)
	}
	dir := filepath.Join(out, "long.mkv")
	if !slices.Equal(m.ContactSheets, []string{"contact.jpg", "contact_2.jpg"}) || m.ContactSheet != "contact.jpg" {
		t.Fatalf("sheets %q (first %q) for %d frames", m.ContactSheets, m.ContactSheet, len(m.Frames))
	}
	for _, name := range m.ContactSheets {
		info, err := media.Probe(context.Background(), filepath.Join(dir, name))
		// 60 frames of 64x32 each: 8x8 cells of 68x52 (with gap and label).
		if err != nil || info.Width != 8*(64+4)+4 || info.Height != 8*(32+16+4)+4 {
			t.Errorf("%s: %dx%d, %v", name, info.Width, info.Height, err)
		}
	}
	cfg.Video = tokens.VideoOptions{FPS: 2}
	_, m = extractOne(t, cfg, video, out, FramesOptions{ContactSheet: true})
	want := frameNames(m)
	slices.Sort(want)
	if got := listDir(t, dir); !slices.Equal(got, want) || len(m.ContactSheets) != 1 {
		t.Errorf("after a shorter run: %v, want %v", got, want)
	}
}
