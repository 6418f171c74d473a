package media

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

func problemCodes(ps []Problem) []string {
	var codes []string
	for _, p := range ps {
		codes = append(codes, p.Code)
	}
	return codes
}

// TestValidateVideoFixtures checks the codes each fixture gets for
// qwen3-vl-plus sent as base64.
func TestValidateVideoFixtures(t *testing.T) {
	needFFmpeg(t)
	spec := testSpec(t)
	for _, c := range videoCases {
		if c.err != nil {
			continue
		}
		info := probeFixture(t, c.file)
		var plan *tokens.FramePlan
		if p, err := tokens.PlanVideo(tokens.VideoSource{Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS}, spec, tokens.VideoOptions{}); err == nil {
			plan = &p
		}
		got := problemCodes(ValidateVideo(info, spec, plan, TransportBase64))
		if !slices.Equal(got, c.problems) {
			t.Errorf("%s: codes %v, want %v", c.file, got, c.problems)
		}
	}
}

func TestValidateVideoLimits(t *testing.T) {
	spec := testSpec(t) // qwen3-vl-plus: 2 s–1 h, 4–2000 frames
	base := Info{Path: "v.mp4", Kind: KindVideo, Format: "mp4", MIME: "video/mp4", Width: 1920, Height: 1080, Duration: 60, FPS: 30, RealFPS: 30, Frames: 1800, Bytes: 5 << 20}
	plan := func(n int) *tokens.FramePlan { return &tokens.FramePlan{Frames: n} }
	with := func(f func(*Info)) Info { i := base; f(&i); return i }
	cases := []struct {
		name  string
		info  Info
		plan  *tokens.FramePlan
		t     Transport
		codes []string
		fix   string // in the first problem's fix
	}{
		{"ok", base, plan(120), TransportBase64, nil, ""},
		{"not a video", Info{Kind: KindImage}, nil, TransportBase64, nil, ""},
		{"too short, frames fit", with(func(i *Info) { i.Duration = 1.5 }), plan(4), TransportBase64, []string{"video.too_short"}, "sends it as a list"},
		{"too short, too few frames", with(func(i *Info) { i.Duration = 1.5 }), plan(2), TransportBase64, []string{"video.too_short", "video.frames_too_few"}, "at least 2s"},
		{"too long, frames fit", with(func(i *Info) { i.Duration = 3601 }), plan(2000), TransportURL, []string{"video.too_long"}, "none needed: vision sends it as the list"},
		{"too long, too many frames", with(func(i *Info) { i.Duration = 3601 }), plan(2002), TransportURL, []string{"video.too_long", "video.frames_too_many"}, "--start/--end"},
		{"too few frames", base, plan(2), TransportBase64, []string{"video.frames_too_few"}, "--fps"},
		{"too many frames", base, plan(2010), TransportBase64, []string{"video.frames_too_many"}, "--max-frames"},
		{"ogg", with(func(i *Info) { i.Format, i.Codec = "ogg", "theora" }), plan(120), TransportBase64, []string{"video.format_unlisted"}, "none needed"},
		{"mpeg-ts", with(func(i *Info) { i.Format = "ts" }), plan(120), TransportBase64, []string{"video.format_unlisted"}, "JPEG"},
		{"base64 at 10 MB", with(func(i *Info) { i.Bytes = 7_499_990 }), plan(120), TransportBase64, []string{"video.too_large_base64"}, "sends the sampled frames"},
		{"base64 under 10 MB", with(func(i *Info) { i.Bytes = 7_499_000 }), plan(120), TransportBase64, nil, ""},
		{"path over 100 MB", with(func(i *Info) { i.Bytes = 100*tokens.MB + 1 }), plan(120), TransportPath, []string{"video.too_large_path"}, ""},
		{"path at 100 MB", with(func(i *Info) { i.Bytes = 100 * tokens.MB }), plan(120), TransportPath, nil, ""},
		{"url over 2 GB", with(func(i *Info) { i.Bytes = 2*tokens.GB + 1 }), nil, TransportURL, []string{"video.too_large_url"}, "re-encode"},
		{"no video stream", Info{Path: "a.m4a", Kind: KindVideo}, nil, TransportBase64, []string{"video.no_video_stream"}, ""},
		{"unreadable", with(func(i *Info) { i.Duration = 0 }), nil, TransportBase64, []string{"video.unreadable"}, ""},
		{"audio and vfr", with(func(i *Info) { i.HasAudio, i.VFR, i.FPS = true, true, 24.2 }), plan(120), TransportBase64, []string{"video.audio_ignored", "video.vfr"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := ValidateVideo(c.info, spec, c.plan, c.t)
			for _, p := range ps {
				// A limit on the file is only a warning while the
				// frame list vision sends instead fits.
				fileLimit := p.Code == "video.too_long" || strings.HasPrefix(p.Code, "video.too_large_")
				if warn := fileLimit && c.plan != nil && c.plan.Frames <= spec.ImageListMax; warn != (fileLimit && p.Severity == SeverityWarning) {
					t.Errorf("%s is %s", p.Code, p.Severity)
				}
			}
			if got := problemCodes(ps); !slices.Equal(got, c.codes) {
				t.Fatalf("codes %v, want %v", got, c.codes)
			}
			for _, p := range ps {
				if p.Path != c.info.Path || p.Message == "" || p.Fix == "" {
					t.Errorf("incomplete problem %+v", p)
				}
			}
			if c.fix != "" && !strings.Contains(ps[0].Fix, c.fix) {
				t.Errorf("fix %q lacks %q", ps[0].Fix, c.fix)
			}
		})
	}
	// Older models: 40 s, 150 MB by URL, 80 frames.
	m, err := tokens.Lookup("qwen-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	if m.VideoMaxSeconds < 600 {
		ps := ValidateVideo(base, m.Spec, plan(120), TransportBase64)
		if len(ps) == 0 {
			t.Error("qwen-vl-plus: no problem for a long clip")
		}
	}
}

func TestVideoErrorProblem(t *testing.T) {
	corrupt := fmt.Errorf("probe x.mp4: %w: %w", ErrCorrupt, &ToolError{Tool: "ffprobe", Err: errors.New("exit status 1"),
		Stderr: "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\nfile:x.mp4: Invalid data found when processing input"})
	for _, c := range []struct {
		err       error
		code      string
		fix, text string // in the fix, in the message
	}{
		{ErrNoVideoStream, "video.no_video_stream", "needs a video stream", "no video stream"},
		{fmt.Errorf("probe a.m4a: %w", ErrAudioOnly), "video.no_video_stream", "audio-only", "audio but no video"},
		{fmt.Errorf("probe x.mp4: %w", &MissingToolError{Tool: "ffprobe"}), "tool.missing", ToolInstallHint, "ffprobe is not installed"},
		{&MissingToolError{Tool: "ffmpeg"}, "tool.missing", ToolInstallHint, "ffmpeg"},
		{corrupt, "file.corrupt", "re-download", "moov atom not found"},
		{errors.New("permission denied"), "video.unreadable", "re-encode", "permission denied"},
	} {
		p := VideoErrorProblem("x.mp4", c.err)
		if p.Code != c.code || p.Severity != SeverityError || p.Path != "x.mp4" || !strings.Contains(p.Fix, c.fix) || !strings.Contains(p.Message, c.text) {
			t.Errorf("%v: got %+v, want %s (fix with %q, message with %q)", c.err, p, c.code, c.fix, c.text)
		}
	}
	// The real errors: an audio-only file, a truncated one, no ffprobe.
	needFFmpeg(t)
	_, err := Probe(context.Background(), videoPath("audio_only.m4a"))
	if p := VideoErrorProblem("a", err); p.Code != "video.no_video_stream" || !strings.Contains(p.Fix, "audio-only") {
		t.Errorf("audio_only.m4a: %+v", p)
	}
	_, err = Probe(context.Background(), videoPath("truncated.mp4"))
	if p := VideoErrorProblem("t", err); p.Code != "file.corrupt" || !strings.Contains(p.Message, "moov atom not found") {
		t.Errorf("truncated.mp4: %+v", p)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = Probe(context.Background(), videoPath("cfr_h264.mp4"))
	if p := VideoErrorProblem("c", err); p.Code != "tool.missing" || p.Fix != ToolInstallHint {
		t.Errorf("no ffprobe: %+v", p)
	}
}

// TestValidateVideoNFrames: too many frames because of --nframes names
// --nframes in the fix.
func TestValidateVideoNFrames(t *testing.T) {
	spec := testSpec(t)
	info := Info{Path: "v.mp4", Kind: KindVideo, Format: "mp4", Width: 640, Height: 360, Duration: 600, FPS: 30, Frames: 18000}
	for _, c := range []struct {
		o   tokens.VideoOptions
		fix string
	}{
		{tokens.VideoOptions{NFrames: 2100}, "--nframes to at most 2000"},
		{tokens.VideoOptions{}, "--fps or --max-frames"},
	} {
		ps := ValidateVideoWith(info, spec, &tokens.FramePlan{Frames: 2100}, TransportBase64, c.o)
		if len(ps) != 1 || ps[0].Code != "video.frames_too_many" || !strings.Contains(ps[0].Fix, c.fix) {
			t.Errorf("%+v: %+v, want a fix with %q", c.o, ps, c.fix)
		}
	}
}

// TestProbeOgg: an Ogg Theora file is a video (sniffed by its magic),
// flagged as a container the API does not list, not skipped.
func TestProbeOgg(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "clip.ogv")
	ps := ValidateVideo(info, testSpec(t), &tokens.FramePlan{Frames: 6}, TransportBase64)
	if codes := problemCodes(ps); !slices.Equal(codes, []string{"video.format_unlisted"}) || ps[0].Severity != SeverityWarning || !ps[0].Fixable() {
		t.Errorf("clip.ogv: %+v", ps)
	}
	if !strings.Contains(ps[0].Message, "OGG (theora)") {
		t.Errorf("message %q", ps[0].Message)
	}
}

// TestValidateVideoSampleFPS: a 2 h video at 30 fps on qwen-vl-max gets
// its 512 max_frames, 0.071 fps: video.sample_fps says the list is declared
// at 0.1 fps and that a part of at most 5119 s keeps the frames in range;
// a plan within [0.1, 10] has no such problem.
func TestValidateVideoSampleFPS(t *testing.T) {
	m, err := tokens.Lookup("qwen-vl-max")
	if err != nil {
		t.Fatal(err)
	}
	info := Info{Path: "lecture.mp4", Kind: KindVideo, Format: "mp4", MIME: "video/mp4", Width: 640, Height: 360, Duration: 7200, FPS: 30, RealFPS: 30, Frames: 216000, Bytes: 5 << 20}
	for _, c := range []struct {
		end  float64
		want string
	}{
		{0, ""},
		{5119, "none"},
	} {
		o := tokens.VideoOptions{}
		if c.end != 0 {
			o.End = &c.end
		}
		p, err := tokens.PlanVideo(tokens.VideoSource{Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS}, m.Spec, o)
		if err != nil {
			t.Fatal(err)
		}
		var got *Problem
		for _, pr := range ValidateVideoWith(info, m.Spec, &p, TransportPath, o) {
			if pr.Code == "video.sample_fps" {
				got = &pr
			}
		}
		if c.want == "none" {
			if got != nil {
				t.Errorf("end %g: %d frames at %.4g fps: %v", c.end, p.Frames, p.SampleFPS, got)
			}
			continue
		}
		if got == nil || got.Severity != SeverityWarning ||
			!strings.Contains(got.Message, "samples 512 frames at 0.07111 fps (about 14.1s apart), below the API's 0.1 fps for a frame list: vision declares fps 0.1, so the model reads them as 10s apart") ||
			got.Fix != "send a part of at most 85m19.0s with --start/--end, so its 512 frames sample at least 0.1 fps, or send the video file itself" {
			t.Errorf("end %g: %+v", c.end, got)
		}
	}
}
