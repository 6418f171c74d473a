package media

import (
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
		{"too long, frames fit", with(func(i *Info) { i.Duration = 3601 }), plan(2000), TransportURL, []string{"video.too_long"}, "sends it as the list"},
		{"too long, too many frames", with(func(i *Info) { i.Duration = 3601 }), plan(2002), TransportURL, []string{"video.too_long", "video.frames_too_many"}, "--start/--end"},
		{"too few frames", base, plan(2), TransportBase64, []string{"video.frames_too_few"}, "--fps"},
		{"too many frames", base, plan(2010), TransportBase64, []string{"video.frames_too_many"}, "--max-frames"},
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
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrNoVideoStream, "video.no_video_stream"},
		{&MissingToolError{Tool: "ffprobe"}, "video.tool_missing"},
		{ErrCorrupt, "video.unreadable"},
	} {
		if p := VideoErrorProblem("x.mp4", c.err); p.Code != c.code || p.Severity != SeverityError || p.Fix == "" {
			t.Errorf("%v: got %+v, want %s", c.err, p, c.code)
		}
	}
}
