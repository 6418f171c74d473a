package media

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// videoCase is what a fixture of testdata/video must probe as (see its
// README.md); err is the sentinel a failing probe wraps.
type videoCase struct {
	file         string
	err          error
	format, mime string
	w, h, cw, ch int
	rotation     int
	frames       int
	estimated    bool
	fps, realFPS float64
	duration     float64
	vfr, audio   bool
	codec        string
	sar          string   // SampleAspect, when pixels are not square
	problems     []string // ValidateVideo codes for qwen3-vl-plus, base64
}

var videoCases = []videoCase{
	{file: "cfr_h264.mp4", format: "mp4", mime: "video/mp4", w: 160, h: 90, cw: 160, ch: 90, frames: 100, fps: 25, realFPS: 25, duration: 4, codec: "h264"},
	{file: "rotated_90.mp4", format: "mp4", mime: "video/mp4", w: 90, h: 160, cw: 160, ch: 90, rotation: 90, frames: 75, fps: 25, realFPS: 25, duration: 3, codec: "h264"},
	{file: "vfr.mp4", format: "mp4", mime: "video/mp4", w: 160, h: 90, cw: 160, ch: 90, frames: 55, fps: 1650.0 / 91, realFPS: 30, duration: 2.966667, vfr: true, codec: "h264",
		problems: []string{"video.vfr"}},
	{file: "clip.mkv", format: "mkv", mime: "video/x-matroska", w: 160, h: 90, cw: 160, ch: 90, frames: 75, estimated: true, fps: 25, realFPS: 25, duration: 3, codec: "h264"},
	{file: "clip.webm", format: "webm", mime: "video/webm", w: 160, h: 90, cw: 160, ch: 90, frames: 75, estimated: true, fps: 25, realFPS: 25, duration: 3, codec: "vp8"},
	{file: "clip.avi", format: "avi", mime: "video/x-msvideo", w: 160, h: 90, cw: 160, ch: 90, frames: 75, fps: 25, realFPS: 25, duration: 3, codec: "mpeg4"},
	{file: "with_audio.mov", format: "mov", mime: "video/quicktime", w: 160, h: 90, cw: 160, ch: 90, frames: 75, fps: 25, realFPS: 25, duration: 3, audio: true, codec: "h264",
		problems: []string{"video.audio_ignored"}},
	{file: "short_1s.mp4", format: "mp4", mime: "video/mp4", w: 160, h: 90, cw: 160, ch: 90, frames: 25, fps: 25, realFPS: 25, duration: 1, codec: "h264",
		problems: []string{"video.too_short"}},
	// Header counts that only the packets correct (ExactFrames): an edit
	// list's discarded packets, no count stored, a wrong duration.
	{file: "trimmed.mp4", format: "mp4", mime: "video/mp4", w: 160, h: 90, cw: 160, ch: 90, frames: 102, estimated: true, fps: 25, realFPS: 25, duration: 4.1, codec: "h264"},
	{file: "cut.mkv", format: "mkv", mime: "video/x-matroska", w: 160, h: 90, cw: 160, ch: 90, frames: 146, estimated: true, fps: 25, realFPS: 25, duration: 5.84, codec: "h264"},
	{file: "vfr.mkv", format: "mkv", mime: "video/x-matroska", w: 160, h: 90, cw: 160, ch: 90, frames: 54, estimated: true, fps: 1650.0 / 91, realFPS: 1650.0 / 91, duration: 2.966, codec: "h264"},
	{file: "clip.ts", format: "ts", mime: "video/mp2t", w: 160, h: 90, cw: 160, ch: 90, frames: 102, estimated: true, fps: 25, realFPS: 25, duration: 4.08, codec: "h264",
		problems: []string{"video.format_unlisted"}},
	{file: "mpeg2.mpg", format: "mpeg", mime: "video/mpeg", w: 160, h: 90, cw: 160, ch: 90, frames: 92, estimated: true, fps: 25, realFPS: 25, duration: 3.68, codec: "mpeg2video",
		problems: []string{"video.format_unlisted"}},
	{file: "clip.ogv", format: "ogg", mime: "video/ogg", w: 160, h: 90, cw: 160, ch: 90, frames: 75, estimated: true, fps: 25, realFPS: 25, duration: 3, codec: "theora",
		problems: []string{"video.format_unlisted"}},
	// Pixel aspect 64:45: shown (and planned) 256x144, stored 180x144.
	{file: "anamorphic.mp4", format: "mp4", mime: "video/mp4", w: 256, h: 144, cw: 180, ch: 144, frames: 50, fps: 25, realFPS: 25, duration: 2, codec: "h264", sar: "64:45"},
	{file: "damaged.mp4", format: "mp4", mime: "video/mp4", w: 160, h: 90, cw: 160, ch: 90, frames: 200, fps: 25, realFPS: 25, duration: 8, codec: "h264"},
	{file: "audio_only.m4a", err: ErrAudioOnly, format: "mp4", mime: "video/mp4"},
	{file: "truncated.mp4", err: ErrCorrupt, format: "mp4"},
	{file: "not_video.mp4", err: ErrNotMedia},
}

func checkVideoInfo(t *testing.T, c videoCase, got Info) {
	t.Helper()
	near := func(a, b float64) bool { return a-b < 1e-3 && b-a < 1e-3 }
	if got.Kind != KindVideo || got.Format != c.format || got.MIME != c.mime || got.Codec != c.codec {
		t.Errorf("kind %s format %q mime %q codec %q, want video %q %q %q", got.Kind, got.Format, got.MIME, got.Codec, c.format, c.mime, c.codec)
	}
	if got.Width != c.w || got.Height != c.h || got.CodedWidth != c.cw || got.CodedHeight != c.ch || got.Rotation != c.rotation {
		t.Errorf("size %dx%d coded %dx%d rotation %d, want %dx%d coded %dx%d rotation %d",
			got.Width, got.Height, got.CodedWidth, got.CodedHeight, got.Rotation, c.w, c.h, c.cw, c.ch, c.rotation)
	}
	if got.SampleAspect != c.sar {
		t.Errorf("sample aspect %q, want %q", got.SampleAspect, c.sar)
	}
	if got.Frames != c.frames || got.FramesEstimated != c.estimated {
		t.Errorf("frames %d (estimated %v), want %d (%v)", got.Frames, got.FramesEstimated, c.frames, c.estimated)
	}
	if !near(got.FPS, c.fps) || !near(got.RealFPS, c.realFPS) || !near(got.Duration, c.duration) || got.VFR != c.vfr || got.HasAudio != c.audio {
		t.Errorf("fps %g real %g duration %g vfr %v audio %v, want %g %g %g %v %v",
			got.FPS, got.RealFPS, got.Duration, got.VFR, got.HasAudio, c.fps, c.realFPS, c.duration, c.vfr, c.audio)
	}
}

// TestParseFFprobeRecorded parses the recorded ffprobe JSON of each fixture
// (no ffprobe needed).
func TestParseFFprobeRecorded(t *testing.T) {
	for _, c := range videoCases {
		data, err := os.ReadFile(filepath.Join(videosDir, "ffprobe", c.file+".json"))
		if os.IsNotExist(err) {
			continue // truncated and not-video files have no recording
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Run(c.file, func(t *testing.T) {
			info, err := parseFFprobe(data, Info{Path: c.file, Format: ExtFormat(c.file)})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("got %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.format == "webm" {
				info.Format, info.MIME = "webm", videoMIME["webm"] // the extension; Probe sniffs it
			}
			checkVideoInfo(t, c, info)
		})
	}
}

// TestProbeVideo probes every fixture with ffprobe.
func TestProbeVideo(t *testing.T) {
	needFFmpeg(t)
	for _, c := range videoCases {
		t.Run(c.file, func(t *testing.T) {
			info, err := Probe(context.Background(), videoPath(c.file))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("got %v, want an error wrapping %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkVideoInfo(t, c, info)
		})
	}
}

func TestProbeTruncatedMessage(t *testing.T) {
	needFFmpeg(t)
	_, err := Probe(context.Background(), videoPath("truncated.mp4"))
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "ffprobe" {
		t.Fatalf("got %v, want a *ToolError", err)
	}
	if want := "moov atom not found"; !strings.Contains(te.Stderr, want) {
		t.Errorf("stderr tail %q lacks %q", te.Stderr, want)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// TestParseFFprobeCases covers what the fixtures do not: old-style rotate
// tags, other rotations, cover pictures, missing rates and durations.
func TestParseFFprobeCases(t *testing.T) {
	const stream = `"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001","nb_frames":"300","duration":"10.010000"`
	cases := []struct {
		name     string
		json     string
		rotation int
		w, h     int
		err      error
	}{
		{"rotate tag", `{"streams":[{` + stream + `,"tags":{"rotate":"90"}}],"format":{"format_name":"mov,mp4"}}`, 90, 1080, 1920, nil},
		{"matrix 180", `{"streams":[{` + stream + `,"side_data_list":[{"side_data_type":"Display Matrix","rotation":180}]}],"format":{}}`, 180, 1920, 1080, nil},
		{"matrix -180", `{"streams":[{` + stream + `,"side_data_list":[{"rotation":-180}]}],"format":{}}`, 180, 1920, 1080, nil},
		{"matrix 90 is 270 clockwise", `{"streams":[{` + stream + `,"side_data_list":[{"rotation":90}]}],"format":{}}`, 270, 1080, 1920, nil},
		{"matrix wins over tag", `{"streams":[{` + stream + `,"tags":{"rotate":"180"},"side_data_list":[{"rotation":-90}]}],"format":{}}`, 90, 1080, 1920, nil},
		{"cover picture skipped", `{"streams":[{"codec_type":"video","codec_name":"mjpeg","width":600,"height":600,"disposition":{"attached_pic":1}},{` + stream + `}],"format":{}}`, 0, 1920, 1080, nil},
		{"only a cover picture", `{"streams":[{"codec_type":"audio"},{"codec_type":"video","width":600,"height":600,"disposition":{"attached_pic":1}}],"format":{}}`, 0, 0, 0, ErrNoVideoStream},
		{"no streams", `{"streams":[],"format":{}}`, 0, 0, 0, ErrNoVideoStream},
		{"no duration", `{"streams":[{"codec_type":"video","width":2,"height":2,"avg_frame_rate":"25/1"}],"format":{}}`, 0, 0, 0, ErrCorrupt},
		{"no rate", `{"streams":[{"codec_type":"video","width":2,"height":2,"avg_frame_rate":"0/0","r_frame_rate":"0/0","duration":"1"}],"format":{}}`, 0, 0, 0, ErrCorrupt},
		{"no size", `{"streams":[{"codec_type":"video","duration":"1","avg_frame_rate":"25/1"}],"format":{}}`, 0, 0, 0, ErrCorrupt},
		{"not JSON", `{"streams":`, 0, 0, 0, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := parseFFprobe([]byte(c.json), Info{})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("got %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Rotation != c.rotation || info.Width != c.w || info.Height != c.h {
				t.Errorf("rotation %d size %dx%d, want %d %dx%d", info.Rotation, info.Width, info.Height, c.rotation, c.w, c.h)
			}
			if info.VFR || info.Frames != 300 || info.FramesEstimated {
				t.Errorf("vfr %v frames %d estimated %v", info.VFR, info.Frames, info.FramesEstimated)
			}
		})
	}
}

// TestExactFrames counts frames from the packets where the header's count
// is missing or wrong, and marks what only the packets tell (a variable
// rate in MKV, no timestamps in MPEG-PS).
func TestExactFrames(t *testing.T) {
	needFFmpeg(t)
	for _, c := range []struct {
		name       string
		frames     int
		vfr        bool
		unreliable bool
	}{
		{"clip.mkv", 75, false, false},
		{"clip.webm", 75, false, false},
		{"cfr_h264.mp4", 100, false, false},
		{"trimmed.mp4", 102, false, false}, // nb_frames 115: 13 discarded
		{"cut.mkv", 145, false, false},     // estimated 146
		{"vfr.mkv", 55, true, false},       // estimated 54, same rates
		{"clip.ts", 102, false, false},
		{"mpeg2.mpg", 100, false, true}, // estimated 92
		{"vfr.mp4", 55, true, false},
	} {
		info := probeFixture(t, c.name)
		got, err := ExactFrames(context.Background(), info)
		if err != nil {
			t.Fatal(err)
		}
		if got.Frames != c.frames || got.FramesEstimated || got.VFR != c.vfr || got.TimestampsUnreliable != c.unreliable {
			t.Errorf("%s: %d frames (estimated %v) vfr %v unreliable %v, want %d vfr %v unreliable %v",
				c.name, got.Frames, got.FramesEstimated, got.VFR, got.TimestampsUnreliable, c.frames, c.vfr, c.unreliable)
		}
		if got.timeline == nil || got.timeline.frames() != c.frames {
			t.Errorf("%s: the scan is not kept for extraction", c.name)
		}
	}
}

func FuzzParseFFprobe(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join(videosDir, "ffprobe"))
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(videosDir, "ffprobe", e.Name())); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseFFprobe(data, Info{})
		if err == nil && (info.Width <= 0 || info.Height <= 0 || info.Frames <= 0 || info.FPS <= 0 || info.Duration <= 0) {
			t.Errorf("no error but %+v", info)
		}
	})
}

// TestProbeNoDuration: a Matroska written to a pipe stores no Duration
// (live.mkv). The header alone cannot say how long it is; Probe measures
// it from the packets (and so counts its frames exactly), and says so. A
// DURATION stream tag, when there is one, is read without a scan.
func TestProbeNoDuration(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(videosDir, "ffprobe", "live.mkv.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseFFprobe(data, Info{Path: "live.mkv"}); !errors.Is(err, errNoDuration) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("recorded ffprobe output: %v, want errNoDuration", err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	s := p["streams"].([]any)[0].(map[string]any)
	s["tags"] = map[string]any{"DURATION": "00:01:02.500000000"}
	tagged, _ := json.Marshal(p)
	info, err := parseFFprobe(tagged, Info{Path: "live.mkv"})
	if err != nil || info.Duration != 62.5 || info.DurationSource != "stream_tag" || info.Frames != 1562 || !info.FramesEstimated {
		t.Errorf("with a DURATION tag: %v, %gs (%s), %d frames", err, info.Duration, info.DurationSource, info.Frames)
	}

	needFFmpeg(t)
	info, err = Probe(context.Background(), videoPath("live.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Duration != 4 || info.DurationSource != "packets" || info.Frames != 100 || info.FramesEstimated || info.FPS != 25 || info.timeline == nil {
		t.Errorf("probed %gs (%q), %d frames (estimated %v) at %g fps", info.Duration, info.DurationSource, info.Frames, info.FramesEstimated, info.FPS)
	}
	if ps := ValidateVideo(info, testSpec(t), nil, TransportBase64); len(ps) != 0 {
		t.Errorf("problems %v", ps)
	}
	plan := planFor(t, info, tokens.VideoOptions{})
	frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{})
	if err != nil || len(frames) != len(plan.Indices) {
		t.Fatalf("extract: %d frames, %v", len(frames), err)
	}
	for k, f := range frames {
		if got, _ := stamp(decodeJPEG(t, f.Data)); got != plan.Indices[k] {
			t.Errorf("frame %d shows %d, want %d", k, got, plan.Indices[k])
		}
	}
}

// TestProbeScanned: ProbeScanned reports the header's facts as Probe does
// and leaves its packet scan for ExactFrames and ExtractFrames, which then
// run no ffprobe (PATH is emptied after the probe): the same exact count
// as a fresh scan.
func TestProbeScanned(t *testing.T) {
	needFFmpeg(t)
	path := os.Getenv("PATH")
	for _, name := range []string{"cut.mkv", "cfr_h264.mp4", "trimmed.mp4"} {
		p := filepath.Join(videosDir, name)
		plain, err := Probe(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		scanned, err := ProbeScanned(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if scanned.Frames != plain.Frames || scanned.FramesEstimated != plain.FramesEstimated || scanned.Duration != plain.Duration {
			t.Errorf("%s: ProbeScanned %d frames (estimated %v), Probe %d (%v)", name, scanned.Frames, scanned.FramesEstimated, plain.Frames, plain.FramesEstimated)
		}
		want, err := ExactFrames(context.Background(), plain)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", "")
		got, err := ExactFrames(context.Background(), scanned)
		if err != nil {
			t.Fatalf("%s: ExactFrames after ProbeScanned ran ffprobe: %v", name, err)
		}
		if got.Frames != want.Frames || got.FramesEstimated || got.VFR != want.VFR {
			t.Errorf("%s: exact %d frames (vfr %v), a fresh scan %d (%v)", name, got.Frames, got.VFR, want.Frames, want.VFR)
		}
		t.Setenv("PATH", path)
	}
}
