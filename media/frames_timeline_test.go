package media

// Extraction from files whose frame count or timestamps only the packets
// tell: a trimmed MP4 (edit list), MKV without a count, MPEG-TS (inexact
// seeking), MPEG-PS (packets without pts), a damaged file, and anamorphic
// pixels. Every frame is checked against a full decode by ffprobe and the
// index the fixture's pixels show (testdata/gen/videos.sh).

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qwen-vision/vision/tokens"
)

// decodedTimes are the timestamps of every frame of the video at path as
// a full decode gives them (ffprobe -show_frames), in presentation order,
// in seconds from the file's start: the truth frames are checked against.
// A frame the decoder gives no timestamp (the last of an MPEG-2 stream,
// flushed at the end) is NaN, and only its pixels are checked.
func decodedTimes(t *testing.T, path string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "V:0",
		"-show_entries", "frame=best_effort_timestamp_time:format=start_time", "-of", "json", "file:"+path).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_frames %s: %v", path, err)
	}
	var p struct {
		Frames []struct {
			T string `json:"best_effort_timestamp_time"`
		} `json:"frames"`
		Format struct {
			Start string `json:"start_time"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.ParseFloat(p.Format.Start, 64)
	ts := make([]float64, len(p.Frames))
	for i, f := range p.Frames {
		ts[i] = math.NaN()
		if v, err := strconv.ParseFloat(f.T, 64); err == nil {
			ts[i] = v - start
		}
	}
	return ts
}

// exactFixture probes a fixture and counts its frames from the packets.
func exactFixture(t *testing.T, name string) Info {
	t.Helper()
	return exactPath(t, videoPath(name))
}

// exactPath probes the video at path and counts its frames from the
// packets.
func exactPath(t *testing.T, path string) Info {
	t.Helper()
	info, err := Probe(context.Background(), path)
	if err == nil {
		info, err = ExactFrames(context.Background(), info)
	}
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// checkTruth checks that frame k is source frame want[k]: at the time a
// full decode gives that frame, showing stampOf(want[k]), upright, at the
// planned size.
func checkTruth(t *testing.T, frames []Frame, want []int, truth []float64, stampOf func(int) int, plan tokens.FramePlan) {
	t.Helper()
	if len(frames) != len(want) {
		t.Fatalf("got %d frames, want %d", len(frames), len(want))
	}
	for k, f := range frames {
		i := want[k]
		if f.Index != i {
			t.Errorf("frame %d: index %d, want %d", k, f.Index, i)
			continue
		}
		if !math.IsNaN(truth[i]) && !(math.Abs(f.TimeS-truth[i]) <= 1e-3) {
			t.Errorf("frame %d (index %d): time %.6f, decoded at %.6f", k, i, f.TimeS, truth[i])
		}
		img := decodeJPEG(t, f.Data)
		if b := img.Bounds(); b.Dx() != plan.ResizedWidth || b.Dy() != plan.ResizedHeight {
			t.Errorf("frame %d: %dx%d, want %dx%d", k, b.Dx(), b.Dy(), plan.ResizedWidth, plan.ResizedHeight)
		}
		if got, up := stamp(img); got != stampOf(i)%1024 || !up {
			t.Errorf("frame %d (index %d): shows %d upright=%v, want %d", k, i, got, up, stampOf(i)%1024)
		}
	}
}

// checkOnePass checks that pass and auto mode both decode the plan in one
// pass, exactly (checkTruth).
func checkOnePass(t *testing.T, info Info, plan tokens.FramePlan, truth []float64, stampOf func(int) int) {
	t.Helper()
	for _, mode := range []ExtractMode{ExtractPass, ExtractAuto} {
		x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if x.Mode != ExtractPass {
			t.Errorf("%s: used %s", mode, x.Mode)
		}
		checkTruth(t, x.Frames, plan.Indices, truth, stampOf, plan)
	}
}

// byTime is the stamp of a stream copy of a stamped 25 fps source: the
// source index at the frame's time, plus the frames cut off before it.
func byTime(truth []float64, shift int) func(int) int {
	return func(i int) int { return int(math.Round(truth[i]*25)) + shift }
}

func identity(i int) int { return i }

// keyframeIndices are the frames that are keyframes in the packets.
func keyframeIndices(info Info) []int { return info.timeline.keyframes() }

// TestExtractTrimmedMP4: an edit list hides 13 packets, so nb_frames (115)
// counts frames that are never shown. Plans are made from the 102 real
// ones, and every mode gives exactly them.
func TestExtractTrimmedMP4(t *testing.T) {
	needFFmpeg(t)
	info := exactFixture(t, "trimmed.mp4")
	if info.Frames != 102 {
		t.Fatalf("%d frames, want 102", info.Frames)
	}
	truth := decodedTimes(t, info.Path)
	if len(truth) != 102 {
		t.Fatalf("ffprobe decodes %d frames", len(truth))
	}
	stampOf := byTime(truth, 38) // cut at 1.5 s: the first frame is source frame 38
	plan := planFor(t, info, tokens.VideoOptions{FPS: 5})
	for _, mode := range []ExtractMode{ExtractPass, ExtractSeek, ExtractAuto} {
		t.Run(string(mode), func(t *testing.T) {
			x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			checkTruth(t, x.Frames, plan.Indices, truth, stampOf, plan)
		})
	}
	x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractKeyframes})
	if err != nil {
		t.Fatal(err)
	}
	keys := keyframeIndices(info)
	var got []int
	for k, f := range x.Frames {
		if !slices.Contains(keys, f.Index) {
			t.Errorf("keyframe mode frame %d: index %d is not a keyframe (%v)", k, f.Index, keys)
		}
		got = append(got, f.Index)
	}
	checkTruth(t, x.Frames, got, truth, stampOf, plan)

	// A plan made from nb_frames names frames that are not there; the
	// error counts the video's frames, not the frames found before it.
	header := info
	header.Frames = 115
	bad := planFor(t, header, tokens.VideoOptions{})
	_, err = ExtractFrames(context.Background(), info.Path, info, bad, ExtractOptions{Mode: ExtractPass})
	if !errors.Is(err, ErrFrameMissing) || !strings.Contains(err.Error(), "the video has 102 frames") || !strings.Contains(err.Error(), "made for 115") {
		t.Errorf("plan from nb_frames: got %v", err)
	}
}

// TestExtractExactCount: MKV stores no frame count, and the estimate from
// the duration can name a frame past the end (cut.mkv: 146 for 145) or
// pick other frames than qwen-vl-utils (vfr.mkv: 54 for 55).
func TestExtractExactCount(t *testing.T) {
	needFFmpeg(t)
	header := probeFixture(t, "cut.mkv")
	_, err := ExtractFrames(context.Background(), header.Path, header, planFor(t, header, tokens.VideoOptions{}), ExtractOptions{Mode: ExtractPass})
	if !errors.Is(err, ErrFrameMissing) {
		t.Errorf("cut.mkv planned from the estimate: got %v, want ErrFrameMissing", err)
	}
	for _, c := range []struct {
		name    string
		stampOf func(truth []float64) func(int) int
	}{
		{"cut.mkv", func(truth []float64) func(int) int { return byTime(truth, 0) }},
		{"vfr.mkv", func([]float64) func(int) int { return identity }}, // stamps count the kept frames
	} {
		info := exactFixture(t, c.name)
		truth := decodedTimes(t, info.Path)
		if len(truth) != info.Frames {
			t.Fatalf("%s: %d frames counted, ffprobe decodes %d", c.name, info.Frames, len(truth))
		}
		plan := planFor(t, info, tokens.VideoOptions{FPS: 4})
		if want := tokens.FrameIndices(0, info.Frames-1, plan.Frames); !slices.Equal(plan.Indices, want) {
			t.Fatalf("%s: plan %v, want %v", c.name, plan.Indices, want)
		}
		for _, mode := range []ExtractMode{ExtractPass, ExtractSeek, ExtractAuto} {
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				checkTruth(t, frames, plan.Indices, truth, c.stampOf(truth), plan)
			})
		}
	}
}

// TestExtractMPEGTS: ffmpeg's input seeking in MPEG-TS lands past the
// frame asked for. Auto never seeks there; a seek that misses makes auto
// decode the rest in one pass, and a forced seek fail with a hint.
func TestExtractMPEGTS(t *testing.T) {
	needFFmpeg(t)
	info := exactFixture(t, "clip.ts") // start_time 1.48 s
	truth := decodedTimes(t, info.Path)
	stampOf := byTime(truth, 0)
	plan := planFor(t, info, tokens.VideoOptions{})
	checkOnePass(t, info, plan, truth, stampOf)
	_, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractSeek})
	if err == nil || !strings.Contains(err.Error(), "--mode pass") {
		t.Errorf("forced seek: got %v, want a failure naming --mode pass", err)
	}

	// Auto's fall-back, entered as if the cost model had chosen to seek.
	url, _ := fileURL(info.Path)
	base := ffmpegJob{URL: url, Width: plan.ResizedWidth, Height: plan.ResizedHeight}
	col := newCollector(plan.Indices, nil)
	x := Extraction{Mode: ExtractSeek}
	if err := x.seekOrPass(context.Background(), ExtractAuto, base, *info.timeline, plan.Indices, col, 2); err != nil {
		t.Fatal(err)
	}
	if x.Mode != ExtractPass || !strings.Contains(x.Note, "seeking missed") {
		t.Errorf("fall-back: mode %s note %q", x.Mode, x.Note)
	}
	checkTruth(t, col.frames, plan.Indices, truth, stampOf, plan)
}

// TestAutoNeverSeeksMPEGTS: a long sparse plan, which auto would seek in an
// MP4, is decoded in one pass in MPEG-TS.
func TestAutoNeverSeeksMPEGTS(t *testing.T) {
	needFFmpeg(t)
	// 20 s at 100 fps: 2000 frames, 250-frame GOPs.
	src := "color=c=black:s=160x90:r=100:d=20,format=yuv420p,geq=lum='if(lt(Y,H/2),if(bitand(N,pow(2,floor(X*10/W))),235,16),if(lt(X,W/4),235,64))':cb=128:cr=128"
	path := generate(t, "long.ts", src, "-g", "250", "-f", "mpegts")
	info := exactPath(t, path)
	plan := planFor(t, info, tokens.VideoOptions{NFrames: 8})
	targets := plan.Indices
	if seekCost(*info.timeline, targets) > seekShare*float64(targets[len(targets)-1]+1) {
		t.Fatal("the plan is not sparse enough for auto to consider seeking")
	}
	x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Mode != ExtractPass || !strings.Contains(x.Note, "mpegts") {
		t.Errorf("mode %s note %q, want a pass because of mpegts", x.Mode, x.Note)
	}
	checkTruth(t, x.Frames, plan.Indices, decodedTimes(t, info.Path), identity, plan)

	// The same timeline in an MP4 is sought.
	mp4 := *info.timeline
	mp4.Format = "mov"
	if m, _ := chooseMode(mp4, targets); m != ExtractSeek {
		t.Errorf("mov: auto chose %s", m)
	}
}

// TestExtractMPEGPS: most packets of an MPEG-2 program stream carry no pts
// (their dts is off by the B-frame delay), and the decoder's stamps are
// guesses (ffprobe -show_frames puts frame 75, whose pixels show 75, at
// 2.92 s). The timeline is marked unreliable: frames are taken in one pass
// by decode count and frame n is timed n/25; seeking is refused; keyframe
// mode finds the decoder's keyframes by their count.
func TestExtractMPEGPS(t *testing.T) {
	needFFmpeg(t)
	info := exactFixture(t, "mpeg2.mpg")
	if !info.TimestampsUnreliable || info.Frames != 100 {
		t.Fatalf("unreliable %v, %d frames; want true, 100", info.TimestampsUnreliable, info.Frames)
	}
	byCount := make([]float64, info.Frames)
	for i := range byCount {
		byCount[i] = float64(i) / 25
	}
	plan := planFor(t, info, tokens.VideoOptions{FPS: 5})
	checkOnePass(t, info, plan, byCount, identity)
	_, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractSeek})
	if err == nil || !strings.Contains(err.Error(), "no timestamps") || !strings.Contains(err.Error(), "--mode pass") {
		t.Errorf("seek: got %v", err)
	}
	x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractKeyframes})
	if err != nil {
		t.Fatal(err)
	}
	keys := decodedKeyframes(t, info.Path)
	var got []int
	for k, f := range x.Frames {
		if want := nearestOf(keys, plan.Indices[k]); f.Index != want {
			t.Errorf("keyframe for planned %d: %d, want %d (keyframes %v)", plan.Indices[k], f.Index, want, keys)
		}
		got = append(got, f.Index)
	}
	checkTruth(t, x.Frames, got, byCount, identity, plan)
}

// decodedKeyframes are the presentation indices of the frames a full
// decode flags as keyframes.
func decodedKeyframes(t *testing.T, path string) []int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "V:0", "-show_entries", "frame=key_frame", "-of", "json", "file:"+path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Frames []struct {
			Key int `json:"key_frame"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	var keys []int
	for i, f := range p.Frames {
		if f.Key == 1 {
			keys = append(keys, i)
		}
	}
	return keys
}

// nearestOf is the entry of keys (ascending) nearest i, the earlier on a
// tie.
func nearestOf(keys []int, i int) int {
	best := keys[0]
	for _, k := range keys {
		if abs(k-i) < abs(best-i) {
			best = k
		}
	}
	return best
}

// TestExtractDamaged: the decoder drops frames it cannot decode. No mode
// may hand on a frame under another frame's index; a planned frame that is
// gone is reported missing.
func TestExtractDamaged(t *testing.T) {
	needFFmpeg(t)
	info := exactFixture(t, "damaged.mp4")
	end := 7.0 // the decoder gives 186 of 200 frames: enough to reach this
	plan := planFor(t, info, tokens.VideoOptions{FPS: 2, End: &end})
	for _, mode := range []ExtractMode{ExtractPass, ExtractAuto, ExtractSeek, ExtractKeyframes} {
		t.Run(string(mode), func(t *testing.T) {
			var handed []Frame
			_, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode,
				OnFrame: func(f Frame) error { handed = append(handed, f); return nil }})
			for _, f := range handed {
				if got, _ := stamp(decodeJPEG(t, f.Data)); got != f.Index || !(math.Abs(f.TimeS-float64(f.Index)/25) <= 1e-3) {
					t.Errorf("frame labelled %d at %.3fs shows %d", f.Index, f.TimeS, got)
				}
			}
			switch mode {
			case ExtractKeyframes: // keyframes are intact
				if err != nil {
					t.Fatal(err)
				}
			case ExtractSeek:
				if err == nil {
					t.Fatal("no error")
				}
			default:
				if !errors.Is(err, ErrFrameMissing) || !strings.Contains(err.Error(), "not decoded") {
					t.Fatalf("got %v, want a missing frame", err)
				}
			}
		})
	}
}

// TestExtractAnamorphic: pixels 64:45 wide, stored 180x144: frames are
// planned from the display size (256x144) and scaled to it with square
// pixels, so nothing is squeezed.
func TestExtractAnamorphic(t *testing.T) {
	needFFmpeg(t)
	info := exactFixture(t, "anamorphic.mp4")
	plan := planFor(t, info, tokens.VideoOptions{})
	if r := float64(plan.ResizedWidth) / float64(plan.ResizedHeight); math.Abs(r-256.0/144) > 0.1 {
		t.Fatalf("planned %dx%d (ratio %.3f), want about 16:9", plan.ResizedWidth, plan.ResizedHeight, r)
	}
	for _, mode := range []ExtractMode{ExtractPass, ExtractSeek} {
		frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		checkFrames(t, frames, plan, cfrTime(25))
	}
}

func TestParseFFprobeAspect(t *testing.T) {
	const stream = `"codec_type":"video","width":720,"height":576,"avg_frame_rate":"25/1","nb_frames":"50","duration":"2"`
	for _, c := range []struct {
		json string
		w, h int
		sar  string
	}{
		{`{"streams":[{` + stream + `,"sample_aspect_ratio":"64:45"}],"format":{}}`, 1024, 576, "64:45"},
		{`{"streams":[{` + stream + `,"sample_aspect_ratio":"16:15","tags":{"rotate":"90"}}],"format":{}}`, 576, 768, "16:15"},
		{`{"streams":[{` + stream + `,"sample_aspect_ratio":"1:1"}],"format":{}}`, 720, 576, ""},
		{`{"streams":[{` + stream + `,"sample_aspect_ratio":"0:1"}],"format":{}}`, 720, 576, ""},
		{`{"streams":[{` + stream + `,"sample_aspect_ratio":"N/A"}],"format":{}}`, 720, 576, ""},
	} {
		info, err := parseFFprobe([]byte(c.json), Info{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Width != c.w || info.Height != c.h || info.SampleAspect != c.sar || info.CodedWidth != 720 {
			t.Errorf("%s: %dx%d sar %q coded %dx%d, want %dx%d %q", c.json, info.Width, info.Height, info.SampleAspect, info.CodedWidth, info.CodedHeight, c.w, c.h, c.sar)
		}
	}
}

// TestParseFFprobeEditList: an nb_frames far from duration × fps (a
// trimmed MP4's discarded packets) is not taken as the count.
func TestParseFFprobeEditList(t *testing.T) {
	const s = `{"streams":[{"codec_type":"video","width":2,"height":2,"avg_frame_rate":"25/1","nb_frames":"%s","duration":"4.1"}],"format":{}}`
	for _, c := range []struct {
		nb        string
		frames    int
		estimated bool
	}{{"115", 102, true}, {"103", 103, false}, {"102", 102, false}} {
		info, err := parseFFprobe([]byte(strings.Replace(s, "%s", c.nb, 1)), Info{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Frames != c.frames || info.FramesEstimated != c.estimated {
			t.Errorf("nb_frames %s: %d frames estimated %v, want %d %v", c.nb, info.Frames, info.FramesEstimated, c.frames, c.estimated)
		}
	}
}

// TestFFmpegLog: showinfo lines become timestamps in order, NOPTS as NaN
// (skipping it would give every later frame its neighbour's time); only
// warnings and errors reach the tail.
func TestFFmpegLog(t *testing.T) {
	log := strings.Join([]string{
		"[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:x.mp4':",
		"[Parsed_showinfo_1 @ 0x55] [info] config in time_base: 1/12800, frame_rate: 25/1",
		"[Parsed_showinfo_1 @ 0x55] [info] n:   0 pts:    512 pts_time:0.04    pos: 48 fmt:yuv420p",
		"[h264 @ 0x56] [error] Invalid NAL unit size (0 > 79).",
		"[Parsed_showinfo_1 @ 0x55] [info] n:   1 pts:NOPTS pts_time:NOPTS pos: -1 fmt:yuv420p",
		"[Parsed_showinfo_1 @ 0x55] [info] n:   2 pts:   1536 pts_time:0.12    pos: 96 fmt:yuv420p",
		"[swscaler @ 0x57] [warning] deprecated pixel format used, make sure you did set range correctly",
		"[info] frame=    3 fps=0.0 q=3.0 Lsize=       2kB time=00:00:00.12",
		"[error] Conversion failed!",
	}, "\n") + "\n"
	tail := newTail(stderrTailLines)
	times := make(chan float64, 8)
	readFFmpegLog(strings.NewReader(log), tail, times, make(chan struct{}))
	close(times)
	var got []float64
	for v := range times {
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 0.04 || !math.IsNaN(got[1]) || got[2] != 0.12 {
		t.Errorf("times %v, want [0.04 NaN 0.12]", got)
	}
	if want := "[h264 @ 0x56] Invalid NAL unit size (0 > 79).\nConversion failed!"; tail.String() != want {
		t.Errorf("tail %q, want %q", tail.String(), want)
	}
}

// TestFFmpegToolError: a failed ffmpeg run names the cause, not only its
// last line ("moov atom not found" comes before "Invalid data found").
func TestFFmpegToolError(t *testing.T) {
	needFFmpeg(t)
	url, _ := fileURL(videoPath("truncated.mp4"))
	_, _, err := runFFmpeg(context.Background(), ffmpegJob{URL: url, Width: 64, Height: 32, MaxFrames: 1}, func(int, ffmpegFrame) error { return nil })
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "ffmpeg" {
		t.Fatalf("got %v, want an ffmpeg *ToolError", err)
	}
	msg := err.Error()
	for _, want := range []string{"moov atom not found", "Invalid data found", "exit status"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "@ 0x") {
		t.Errorf("%q keeps ffmpeg's object addresses", msg)
	}
}

func TestTailSummary(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"one", "one"},
		{"a\nb\nc\nd", "b; c; d"},
		{"cause\n[h264 @ 0x1] bad\n[h264 @ 0x2] bad\n    Last message repeated 3 times\n\nend", "cause; [h264] bad; end"},
		{"[h264 @ 0x1] [error] bad\n[error] Conversion failed!", "[h264] bad; Conversion failed!"},
		{long, strings.Repeat("x", summaryLineLen) + "…"},
	} {
		if got := tailSummary(c.in); got != c.want {
			t.Errorf("tailSummary(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestExtractNoLeaks: extractions that stop early (a seek that misses, a
// keyframe pass that has all it needs, an OnFrame error) leave no
// goroutine and no ffmpeg behind.
func TestExtractNoLeaks(t *testing.T) {
	needFFmpeg(t)
	before := runtime.NumGoroutine()
	ts, ps := exactFixture(t, "clip.ts"), exactFixture(t, "mpeg2.mpg")
	stop := errors.New("stop")
	for _, c := range []struct {
		info Info
		mode ExtractMode
		sink func(Frame) error
	}{
		{ts, ExtractSeek, nil},      // fails on a wrong frame
		{ps, ExtractKeyframes, nil}, // stops ffmpeg once served
		{ts, ExtractPass, func(Frame) error { return stop }},
		{ps, ExtractPass, func(Frame) error { return stop }},
	} {
		plan := planFor(t, c.info, tokens.VideoOptions{NFrames: 4})
		_, _ = ExtractFrames(context.Background(), c.info.Path, c.info, plan, ExtractOptions{Mode: c.mode, OnFrame: c.sink})
	}
	// Goroutines that were told to end may still be unwinding.
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if kids := childProcesses(t); len(kids) > 0 {
		t.Errorf("child processes left: %v", kids)
	}
}
