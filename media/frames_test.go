package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwen-vision/vision/tokens"
)

// vfrTime is the timestamp of frame i of vfr.mp4: 10 frames at 10 fps, 30
// at 30 fps, then 15 fps.
func vfrTime(i int) float64 {
	switch {
	case i < 10:
		return float64(i) / 10
	case i < 40:
		return 1 + float64(i-10)/30
	}
	return 2 + float64(i-40)*2/30
}

// checkFrames checks that frames are exactly the plan's: index, timestamp,
// size, pixel stamp and orientation.
func checkFrames(t *testing.T, frames []Frame, plan tokens.FramePlan, timeOf func(int) float64) {
	t.Helper()
	checkFramesShift(t, frames, plan, timeOf, 0)
}

// checkFramesShift is checkFrames for a video cut from a stamped one:
// frame i shows index i+shift.
func checkFramesShift(t *testing.T, frames []Frame, plan tokens.FramePlan, timeOf func(int) float64, shift int) {
	t.Helper()
	if len(frames) != len(plan.Indices) {
		t.Fatalf("got %d frames, want %d", len(frames), len(plan.Indices))
	}
	for k, f := range frames {
		want := plan.Indices[k]
		if f.Index != want {
			t.Errorf("frame %d: Index %d, want %d", k, f.Index, want)
		}
		if wt := timeOf(want); !(math.Abs(f.TimeS-wt) <= 1e-3) {
			t.Errorf("frame %d (index %d): TimeS %.6f, want %.6f", k, want, f.TimeS, wt)
		}
		img := decodeJPEG(t, f.Data)
		if b := img.Bounds(); b.Dx() != plan.ResizedWidth || b.Dy() != plan.ResizedHeight {
			t.Errorf("frame %d: %dx%d, want %dx%d", k, b.Dx(), b.Dy(), plan.ResizedWidth, plan.ResizedHeight)
		}
		if got, upright := stamp(img); got != (want+shift)%1024 || !upright {
			t.Errorf("frame %d: shows index %d upright=%v, want index %d upright", k, got, upright, (want+shift)%1024)
		}
	}
}

func cfrTime(fps float64) func(int) float64 {
	return func(i int) float64 { return float64(i) / fps }
}

func TestExtractFramesExact(t *testing.T) {
	needFFmpeg(t)
	cases := []struct {
		name   string
		opts   tokens.VideoOptions
		timeOf func(int) float64
	}{
		{"cfr_h264.mp4", tokens.VideoOptions{}, cfrTime(25)},
		{"cfr_h264.mp4", tokens.VideoOptions{FPS: 10}, cfrTime(25)},
		{"cfr_h264.mp4", tokens.VideoOptions{Start: ptr(1.3), End: ptr(3.1)}, cfrTime(25)},
		{"rotated_90.mp4", tokens.VideoOptions{}, cfrTime(25)},
		{"vfr.mp4", tokens.VideoOptions{FPS: 5}, vfrTime},
		{"clip.mkv", tokens.VideoOptions{}, cfrTime(25)},
		{"clip.webm", tokens.VideoOptions{}, cfrTime(25)},
		{"clip.avi", tokens.VideoOptions{}, cfrTime(25)},
		{"with_audio.mov", tokens.VideoOptions{}, cfrTime(25)},
	}
	for _, c := range cases {
		info := probeFixture(t, c.name)
		plan := planFor(t, info, c.opts)
		for _, mode := range []ExtractMode{ExtractPass, ExtractSeek, ExtractAuto} {
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				checkFrames(t, frames, plan, c.timeOf)
			})
		}
	}
}

func ptr(f float64) *float64 { return &f }

func TestExtractKeyframes(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "cfr_h264.mp4") // keyframes every 25 frames
	plan := planFor(t, info, tokens.VideoOptions{})
	url, _ := fileURL(info.Path)
	ft, err := scanFrames(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := nearestKeyframes(ft, plan.Indices)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range plan.Indices {
		// Nearest multiple of 25 in time, the earlier on a tie.
		if want := min((i+12)/25*25, 75); keys[k] != want {
			t.Errorf("planned frame %d: keyframe %d, want %d", i, keys[k], want)
		}
	}
	for _, pass := range []bool{true, false} {
		col := newCollector(keys, nil)
		base := ffmpegJob{URL: url, Width: plan.ResizedWidth, Height: plan.ResizedHeight}
		if err := extractKeyframes(context.Background(), base, ft, col, 2, pass); err != nil {
			t.Fatalf("pass=%v: %v", pass, err)
		}
		for k, f := range col.frames {
			if f.Index != keys[k] || math.Abs(f.TimeS-float64(keys[k])/25) > 1e-3 {
				t.Errorf("pass=%v frame %d: index %d at %.3fs, want keyframe %d at %.3fs", pass, k, f.Index, f.TimeS, keys[k], float64(keys[k])/25)
			}
			if got, up := stamp(decodeJPEG(t, f.Data)); got != f.Index || !up {
				t.Errorf("pass=%v frame %d: shows %d upright=%v, want %d", pass, k, got, up, f.Index)
			}
		}
	}
	// The public entry point agrees.
	frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractKeyframes})
	if err != nil {
		t.Fatal(err)
	}
	for k, f := range frames {
		if f.Index != keys[k] {
			t.Errorf("frame %d: index %d, want keyframe %d", k, f.Index, keys[k])
		}
	}
}

// TestExtractKeyframesTheora: ffmpeg's Theora decoder fails with
// -skip_frame nokey (frame 0, then exit 69), so keyframe mode decodes the
// keyframes without it: every frame in one pass in Ogg (clip.ogv), by an
// exact seek to each in Matroska when that is cheaper (clip.ogv looped to
// 18 s). Each frame is the keyframe nearest its planned one.
func TestExtractKeyframesTheora(t *testing.T) {
	needFFmpeg(t)
	looped := filepath.Join(t.TempDir(), "looped.mkv")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-stream_loop", "5", "-i", "file:"+videoPath("clip.ogv"), "-c", "copy", "file:"+looped).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, c := range []struct {
		path, how string
		fps       float64
		frames    int // in the file; each shows its index modulo 75
	}{
		{videoPath("clip.ogv"), "decoding every frame", 2, 75},
		{looped, "sought one by one", 0.5, 450},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			info := exactPath(t, c.path)
			if info.Codec != "theora" || info.Frames != c.frames {
				t.Fatalf("%s, %d frames", info.Codec, info.Frames)
			}
			plan := planFor(t, info, tokens.VideoOptions{FPS: c.fps})
			x, err := Extract(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractKeyframes})
			if err != nil {
				t.Fatal(err)
			}
			want, err := nearestKeyframes(*info.timeline, plan.Indices)
			if err != nil {
				t.Fatal(err)
			}
			if x.Mode != ExtractKeyframes || !strings.Contains(x.Note, c.how) || len(x.Frames) != len(plan.Indices) {
				t.Fatalf("mode %s, note %q, %d frames for %d planned", x.Mode, x.Note, len(x.Frames), len(plan.Indices))
			}
			keys := keyframeIndices(info)
			for k, f := range x.Frames {
				if f.Index != want[k] || !slices.Contains(keys, f.Index) || math.Abs(f.TimeS-float64(f.Index)/25) > 1e-3 {
					t.Errorf("frame %d: index %d at %.3fs, want keyframe %d", k, f.Index, f.TimeS, want[k])
				}
				if got, up := stamp(decodeJPEG(t, f.Data)); got != f.Index%75 || !up {
					t.Errorf("frame %d: shows %d upright=%v, want %d", k, got, up, f.Index%75)
				}
			}
		})
	}
}

func TestExtractFramesOnFrame(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "cfr_h264.mp4")
	plan := planFor(t, info, tokens.VideoOptions{FPS: 5})
	for _, mode := range []ExtractMode{ExtractPass, ExtractSeek} {
		var got []int
		frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode, Workers: 3,
			OnFrame: func(f Frame) error {
				if len(f.Data) == 0 {
					t.Errorf("%s: OnFrame got frame %d without data", mode, f.Index)
				}
				got = append(got, f.Index)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, plan.Indices) {
			t.Errorf("%s: OnFrame order %v, want %v", mode, got, plan.Indices)
		}
		for _, f := range frames {
			if f.Data != nil {
				t.Fatalf("%s: returned frames keep their data with OnFrame set", mode)
			}
		}
		// An error from OnFrame stops the extraction and is returned.
		stop := errors.New("disk full")
		_, err = ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode,
			OnFrame: func(Frame) error { return stop }})
		if !errors.Is(err, stop) {
			t.Errorf("%s: OnFrame error: got %v", mode, err)
		}
	}
}

func TestExtractFramesMissing(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "cfr_h264.mp4")
	plan := planFor(t, info, tokens.VideoOptions{})
	plan.Indices = append(slices.Clone(plan.Indices[:len(plan.Indices)-1]), 150) // past the end
	for _, mode := range []ExtractMode{ExtractPass, ExtractSeek, ExtractKeyframes} {
		_, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: mode})
		if !errors.Is(err, ErrFrameMissing) {
			t.Errorf("%s: got %v, want ErrFrameMissing", mode, err)
		}
	}
	if _, err := ExtractFrames(context.Background(), info.Path, info, tokens.FramePlan{}, ExtractOptions{}); err == nil {
		t.Error("empty plan: no error")
	}
	if _, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: "fast"}); err == nil {
		t.Error("unknown mode: no error")
	}
}

// TestExtractUnsafeNames copies a fixture to names ffmpeg would read as
// options or protocols if they were passed bare.
func TestExtractUnsafeNames(t *testing.T) {
	needFFmpeg(t)
	src, err := os.ReadFile(videoPath("cfr_h264.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	for _, name := range []string{"-i.mp4", "http:x.mp4", "concat:a|b.mp4", "with space's \"q\".mp4", "ünï©ødé 視頻.mp4", "pipe:0.mp4", "%d.mp4"} {
		t.Run(name, func(t *testing.T) {
			// A bare relative name, as a user would type it.
			rel := name
			if err := os.WriteFile(rel, src, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := Probe(context.Background(), rel)
			if err != nil {
				t.Fatal(err)
			}
			if info.Frames != 100 || info.Width != 160 {
				t.Fatalf("probe: %d frames %dx%d, want 100 frames 160x90", info.Frames, info.Width, info.Height)
			}
			plan := planFor(t, info, tokens.VideoOptions{})
			for _, mode := range []ExtractMode{ExtractPass, ExtractSeek} {
				frames, err := ExtractFrames(context.Background(), rel, info, plan, ExtractOptions{Mode: mode})
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				checkFrames(t, frames, plan, cfrTime(25))
			}
		})
	}
}

// TestExtractCancel cancels an extraction in progress: it must return
// context.Canceled promptly and leave no ffmpeg running.
func TestExtractCancel(t *testing.T) {
	needFFmpeg(t)
	long := generate(t, "long.mp4", "testsrc2=s=320x180:r=25:d=60", "-g", "250")
	info, err := Probe(context.Background(), long)
	if err != nil {
		t.Fatal(err)
	}
	plan := planFor(t, info, tokens.VideoOptions{FPS: 2})
	for _, mode := range []ExtractMode{ExtractPass, ExtractSeek} {
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan struct{})
		done := make(chan error, 1)
		var once sync.Once
		go func() {
			_, err := ExtractFrames(ctx, long, info, plan, ExtractOptions{Mode: mode, OnFrame: func(Frame) error {
				// Hold the first frame until canceled, so ffmpeg is
				// still running when the cancel comes.
				once.Do(func() { close(first); <-ctx.Done() })
				return nil
			}})
			done <- err
		}()
		select {
		case <-first:
		case err := <-done:
			t.Fatalf("%s: finished before any frame: %v", mode, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no frame after 30s", mode)
		}
		cancel()
		start := time.Now()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: got %v, want context.Canceled", mode, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: returned %v after cancel", mode, d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still running 10s after cancel", mode)
		}
		if kids := childProcesses(t); len(kids) > 0 {
			t.Errorf("%s: child processes left after cancel: %v", mode, kids)
		}
	}
}

// generate writes a video from a lavfi source into a temporary directory
// with H.264 ultrafast and extra output options.
func generate(t *testing.T, name, source string, opts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", source,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}, opts...)
	if out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", name, err, out)
	}
	return path
}

// TestExtractManyFrames plans hundreds and thousands of frames: the select
// expression must stay within ffmpeg's parser depth, and past Linux's
// 128 KiB argument limit it goes through a script file.
func TestExtractManyFrames(t *testing.T) {
	needFFmpeg(t)
	// 40 s of the stamp pattern at 25 fps: 1000 frames.
	pattern := "color=c=black:s=160x90:r=25:d=40,format=yuv420p,geq=lum='if(lt(Y,H/2),if(bitand(N,pow(2,floor(X*10/W))),235,16),if(lt(X,W/4),235,64))':cb=128:cr=128"
	path := generate(t, "stamps.mp4", pattern, "-g", "50")
	info, err := Probe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	plan := planFor(t, info, tokens.VideoOptions{FPS: 10}) // 400 frames
	if plan.Frames <= 100 {
		t.Fatalf("plan has %d frames; want over 100", plan.Frames)
	}
	frames, err := ExtractFrames(context.Background(), path, info, plan, ExtractOptions{Mode: ExtractPass})
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, frames, plan, cfrTime(25))
	// Seeking: 20 keyframe groups, more than one multi-input ffmpeg takes.
	if n := len(seekGroups(mustScan(t, path), plan.Indices)); n <= maxSeekInputs {
		t.Fatalf("only %d seek groups", n)
	}
	frames, err = ExtractFrames(context.Background(), path, info, plan, ExtractOptions{Mode: ExtractSeek, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, frames, plan, cfrTime(25))

	// 4000 frames, every one planned: a filter graph over 100 KB.
	tiny := generate(t, "tiny.mp4", "testsrc2=s=32x32:r=100:d=40", "-g", "100")
	all := make([]int, 4000)
	for i := range all {
		all[i] = i
	}
	j := ffmpegJob{URL: "file:" + tiny, Select: selectFrames(all), Width: 32, Height: 32, MaxFrames: len(all)}
	if args, _ := ffmpegArgs(j); len(strings.Join(args, " ")) <= maxArgLen {
		t.Fatalf("graph is only %d bytes", len(strings.Join(args, " ")))
	}
	big := tokens.FramePlan{Indices: all, ResizedWidth: 32, ResizedHeight: 32}
	got, err := ExtractFrames(context.Background(), tiny, Info{}, big, ExtractOptions{Mode: ExtractPass})
	if err != nil {
		t.Fatal(err)
	}
	for k, f := range got {
		if f.Index != k || math.Abs(f.TimeS-float64(k)/100) > 1e-3 {
			t.Fatalf("frame %d: index %d at %.3fs", k, f.Index, f.TimeS)
		}
	}
}

// childProcesses lists this process's children (Linux /proc), zombies
// included; elsewhere it returns nil.
func childProcesses(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	var kids []string
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == self {
			kids = append(kids, s[:i+1]+" "+f[0])
		}
	}
	return kids
}

func TestMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Probe(context.Background(), videoPath("cfr_h264.mp4"))
	var mt *MissingToolError
	if !errors.Is(err, ErrToolMissing) || !errors.As(err, &mt) || mt.Tool != "ffprobe" {
		t.Fatalf("Probe without ffprobe: got %v", err)
	}
	if !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Errorf("no install hint in %q", err)
	}
	info := Info{Path: videoPath("cfr_h264.mp4"), Kind: KindVideo, Width: 160, Height: 90, Frames: 100, FPS: 25}
	plan := tokens.FramePlan{Indices: []int{0, 50}, ResizedWidth: 64, ResizedHeight: 32}
	_, err = ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{Mode: ExtractPass})
	if !errors.As(err, &mt) || mt.Tool != "ffmpeg" || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Fatalf("ExtractFrames without ffmpeg: got %v", err)
	}
}

// TestNearestKeyframeTie: a planned frame halfway between two keyframes
// takes the earlier, decided exactly: frame 54 with keyframes every 12 at
// 25 fps is 0.24 s from both, though in floats 2.16−1.92 > 2.40−2.16.
func TestNearestKeyframeTie(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"packets":[`)
	for i := range 72 {
		if i > 0 {
			b.WriteByte(',')
		}
		flags := "__"
		if i%12 == 0 {
			flags = "K_"
		}
		fmt.Fprintf(&b, `{"pts":%d,"pts_time":"%.6f","flags":"%s"}`, i*512, float64(i*512)/12800, flags)
	}
	b.WriteString(`],"format":{"format_name":"mov,mp4","start_time":"0.000000"}}`)
	ft, err := parseFrameScan([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := nearestKeyframes(ft, []int{6, 18, 53, 54, 55, 66})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 12, 48, 48, 60, 60}; !slices.Equal(got, want) {
		t.Errorf("keyframes %v, want %v", got, want)
	}
}

func TestSeekGroups(t *testing.T) {
	// 12 frames, keyframes at 0, 4 and 8.
	ft := frameTimes{PTS: make([]float64, 12), Key: make([]bool, 12)}
	for i := range ft.PTS {
		ft.PTS[i], ft.Key[i] = float64(i)/10, i%4 == 0
	}
	got := seekGroups(ft, []int{1, 3, 4, 9, 10, 11})
	want := [][]int{{1, 3}, {4}, {9, 10, 11}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("seekGroups = %v, want %v", got, want)
	}
	// Frames 0–3, 4, 8–11, each group plus 20 for ffmpeg's start-up.
	if c, want := seekCost(ft, []int{1, 3, 4, 9, 10, 11}), float64(4+1+4+3*seekOverheadFrames); c != want {
		t.Errorf("seekCost = %g, want %g", c, want)
	}
}

func mustScan(t *testing.T, path string) frameTimes {
	t.Helper()
	url, err := fileURL(path)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := scanFrames(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return ft
}

func TestSeekBatches(t *testing.T) {
	for _, c := range []struct {
		n, workers int
		want       [][2]int
	}{
		{1, 2, [][2]int{{0, 1}}},
		{5, 2, [][2]int{{0, 2}, {2, 5}}},
		{64, 2, [][2]int{{0, 16}, {16, 32}, {32, 48}, {48, 64}}},
		{40, 1, [][2]int{{0, 13}, {13, 26}, {26, 40}}},
	} {
		if got := seekBatches(c.n, c.workers); !slices.Equal(got, c.want) {
			t.Errorf("seekBatches(%d, %d) = %v, want %v", c.n, c.workers, got, c.want)
		}
	}
}

// TestRunSeeksChecksTimes gives runSeeks a seek that lands on another
// frame than it claims: the frame must be refused, not misnumbered.
func TestRunSeeksChecksTimes(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "cfr_h264.mp4")
	url, _ := fileURL(info.Path)
	ft := mustScan(t, info.Path)
	col := newCollector([]int{30, 40}, nil)
	base := ffmpegJob{URL: url, Width: 64, Height: 32}
	seeks := []seekTask{
		{In: ffmpegInput{SeekSet: true, Seek: 1.18, Frames: 1}, Frames: []int{30}},
		{In: ffmpegInput{SeekSet: true, Seek: 1.22, Frames: 1}, Frames: []int{40}}, // gives 31
	}
	err := runSeeks(context.Background(), base, ft, seeks, col, 1)
	if err == nil || !strings.Contains(err.Error(), "frame 40") {
		t.Fatalf("got %v, want a refusal of frame 40", err)
	}
	if !col.filled[0] || col.filled[1] {
		t.Errorf("filled %v, want only frame 30", col.filled)
	}
}
