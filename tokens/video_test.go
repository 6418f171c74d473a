package tokens

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNFrames(t *testing.T) {
	lib := CustomSpec(28)
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	tests := []struct {
		name  string
		s     Spec
		total int
		fps   float64
		o     VideoOptions
		want  int
		err   bool
	}{
		{"explicit 5 rounds half-even to 4", lib, 100, 25, VideoOptions{NFrames: 5}, 4, false},
		{"explicit 7 to 8", lib, 100, 25, VideoOptions{NFrames: 7}, 8, false},
		{"explicit 9 to 8", lib, 100, 25, VideoOptions{NFrames: 9}, 8, false},
		{"explicit 13 to 12", lib, 100, 25, VideoOptions{NFrames: 13}, 12, false},
		{"explicit above total", lib, 10, 25, VideoOptions{NFrames: 12}, 0, true},
		{"fps 2 of 10 s at 30 fps", lib, 300, 30, VideoOptions{}, 20, false},
		{"sub-second clip still gets 4", lib, 25, 50, VideoOptions{FPS: 10}, 4, false},
		{"odd raw floors to even", lib, 151, 30, VideoOptions{FPS: 1}, 4, false},
		{"lib max_frames min(768, T)", lib, 100000, 30, VideoOptions{FPS: 10}, 768, false},
		{"family A max_frames 2000", a, 100000, 30, VideoOptions{FPS: 10}, 2000, false},
		{"user max_frames", a, 100000, 30, VideoOptions{FPS: 10, MaxFrames: 101}, 100, false},
		{"user min_frames rounds up to even", lib, 300, 30, VideoOptions{FPS: 0.1, MinFrames: 5}, 6, false},
		{"three frames give 2", lib, 3, 30, VideoOptions{}, 2, false},
		{"one frame is too few", lib, 1, 30, VideoOptions{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.s.NFrames(tt.total, tt.fps, tt.o)
			if tt.err {
				if err == nil {
					t.Fatalf("n = %d, want error", n)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("NFrames = %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

func TestFrameIndices(t *testing.T) {
	if got, want := FrameIndices(0, 99, 4), []int{0, 33, 66, 99}; !reflect.DeepEqual(got, want) {
		t.Errorf("FrameIndices(0,99,4) = %v, want %v", got, want)
	}
	if got, want := FrameIndices(0, 9, 2), []int{0, 9}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	// Short videos: float32 torch linspace equals float64 rounding half to even.
	for _, tc := range []struct{ start, end, n int }{{0, 299, 20}, {0, 1799, 120}, {15, 240, 32}, {0, 7199, 480}, {0, 47, 48}} {
		got := FrameIndices(tc.start, tc.end, tc.n)
		step := float64(tc.end-tc.start) / float64(tc.n-1)
		for i, g := range got {
			want := int(math.RoundToEven(float64(tc.start) + float64(i)*step))
			if g != want {
				t.Errorf("linspace(%d,%d,%d)[%d] = %d, want %d", tc.start, tc.end, tc.n, i, g, want)
			}
		}
		if got[0] != tc.start || got[len(got)-1] != tc.end {
			t.Errorf("end points %d..%d, want %d..%d", got[0], got[len(got)-1], tc.start, tc.end)
		}
	}
	// Long videos: indices stay within one of float64 linspace, ascending, ends exact.
	got := FrameIndices(0, 107999, 2000)
	for i := 1; i < len(got); i++ {
		exact := float64(i) * 107999 / 1999
		if got[i] <= got[i-1] || math.Abs(float64(got[i])-exact) > 1 {
			t.Fatalf("index %d = %d (exact %.3f)", i, got[i], exact)
		}
	}
	if got[len(got)-1] != 107999 {
		t.Fatalf("last index %d", got[len(got)-1])
	}
}

func TestFrameRange(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name               string
		start, end         *float64
		first, last, count int
		err                bool
	}{
		{"whole", nil, nil, 0, 299, 300, false},
		{"start 1.5 s", f(1.5), nil, 45, 299, 255, false},
		{"end 2 s", nil, f(2), 0, 60, 61, false},
		{"end past the end clamps", f(9), f(100), 270, 299, 30, false},
		{"empty range", f(5), f(5), 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, n, err := FrameRange(300, 30, tt.start, tt.end)
			if tt.err != (err != nil) || a != tt.first || b != tt.last || n != tt.count {
				t.Fatalf("FrameRange = %d %d %d %v, want %d %d %d err=%v", a, b, n, err, tt.first, tt.last, tt.count, tt.err)
			}
		})
	}
}

func TestPlanVideoFamilyDefaults(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	// 60 s of 1080p at 30 fps, fps 2: 120 frames; budget min(2048000, 134217728/120·2) capped by 655360.
	p, err := PlanVideo(VideoSource{Width: 1920, Height: 1080, Frames: 1800, FPS: 30}, a, VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Frames != 120 || p.MaxPixels != 655360 || p.ResizedWidth != 1056 || p.ResizedHeight != 576 {
		t.Fatalf("plan = %d frames, max %v, %dx%d", p.Frames, p.MaxPixels, p.ResizedWidth, p.ResizedHeight)
	}
	if p.Tokens != 60*(576/32)*(1056/32) || p.InputTokens != p.Tokens+2 || p.SampleFPS != 2 {
		t.Fatalf("tokens %d input %d sample fps %v", p.Tokens, p.InputTokens, p.SampleFPS)
	}
	// Long video: budget shrinks frames below the default per-frame cap.
	p, err = PlanVideo(VideoSource{Width: 1920, Height: 1080, Frames: 108000, FPS: 30}, a, VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Frames != 2000 || p.MaxPixels != 134217728.0/2000*2 {
		t.Fatalf("long plan: %d frames, max %v", p.Frames, p.MaxPixels)
	}
	if p.ResizedWidth*p.ResizedHeight > 134217728/1000 {
		t.Fatalf("frame %dx%d over budget", p.ResizedWidth, p.ResizedHeight)
	}
}

func TestVideoOptionErrors(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	src := VideoSource{Width: 640, Height: 480, Frames: 300, FPS: 30}
	for _, o := range []VideoOptions{
		{FPS: 0.05}, {FPS: 11}, {FPS: 2, NFrames: 4}, {MaxFrames: 2001}, {MinFrames: 10, MaxFrames: 4},
		{MinPixels: 1000}, {MaxPixels: 2048001}, {MinPixels: 200000, MaxPixels: 100000}, {TotalPixels: 1000},
	} {
		_, err := PlanVideo(src, a, o)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Errorf("%+v: err = %v, want OptionError", o, err)
		}
	}
}

func TestPlanImageList(t *testing.T) {
	// qwen-vl-math.md §3.5: 720×1280 frames under library defaults resize to
	// 704×1280, then the video budget for 2 frames (cap 768·32²) gives 640×1184.
	p, err := PlanImageList(1280, 720, 2, CustomSpec(32), VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ResizedWidth != 1184 || p.ResizedHeight != 640 {
		t.Fatalf("image list frame = %dx%d, want 1184x640", p.ResizedWidth, p.ResizedHeight)
	}
	// A 720×1280 video file goes straight to 640×1152.
	v, err := PlanVideo(VideoSource{Width: 1280, Height: 720, Frames: 60, FPS: 30}, CustomSpec(32), VideoOptions{NFrames: 2})
	if err != nil {
		t.Fatal(err)
	}
	if v.ResizedWidth != 1152 || v.ResizedHeight != 640 {
		t.Fatalf("video frame = %dx%d, want 1152x640", v.ResizedWidth, v.ResizedHeight)
	}
	// Odd counts pad to even: 5 images cost like 6 frames.
	p, err = PlanImageList(640, 480, 5, CustomSpec(28), VideoOptions{})
	if err != nil || p.Frames != 6 || p.Tokens != 3*(p.ResizedHeight/28)*(p.ResizedWidth/28) {
		t.Fatalf("odd list: %+v %v", p, err)
	}
}

func TestFrameBudget(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	d, _ := FamilySpec(FamilyQwen25VL, false)
	lib := CustomSpec(28)
	tests := []struct {
		name     string
		s        Spec
		n        int
		o        VideoOptions
		min, max float64
	}{
		// qwen-vl-utils fetch_video: max(min(cap, total/n·2), int(min·1.05)), then min(max_pixels, ·).
		{"defaults, budget above the default max", a, 120, VideoOptions{}, 65536, 655360},
		{"defaults, budget below the default max", a, 2000, VideoOptions{}, 65536, 134217728.0 / 2000 * 2},
		{"user min_pixels, budget wins", a, 2000, VideoOptions{MinPixels: 100000}, 100000, 134217728.0 / 2000 * 2},
		{"user min_pixels·1.05 beats the budget", a, 2000, VideoOptions{MinPixels: 200000}, 200000, 210000},
		{"user min_pixels·1.05 truncates", d, 512, VideoOptions{MinPixels: 200001}, 200001, 210001},
		{"user min_pixels·1.05 capped by the default max", d, 512, VideoOptions{MinPixels: 490000}, 490000, 501760},
		{"user total_pixels", a, 2000, VideoOptions{TotalPixels: 2e8}, 65536, 200000},
		{"user total_pixels, fractional budget", a, 3, VideoOptions{TotalPixels: 134217729}, 65536, 655360},
		{"user total_pixels with user max_pixels", a, 10, VideoOptions{TotalPixels: 2e8, MaxPixels: 2048000}, 65536, 2048000},
		{"user total_pixels below cap with max_pixels", a, 200, VideoOptions{TotalPixels: 2e8, MaxPixels: 2048000}, 65536, 2e6},
		{"custom: cap 768·f², no default max", lib, 2, VideoOptions{}, 100352, 602112},
		{"custom: default total 128000·f²·0.9", lib, 600, VideoOptions{}, 100352, 128000 * 784 * 0.9 / 600 * 2},
		{"custom: user max_pixels", lib, 2, VideoOptions{MaxPixels: 230400}, 100352, 230400},
		{"custom: user total below min·1.05", lib, 100, VideoOptions{TotalPixels: 1e6}, 100352, 105369},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi, err := tt.s.FrameBudget(tt.n, tt.o)
			if err != nil || lo != tt.min || hi != tt.max {
				t.Fatalf("FrameBudget(%d, %+v) = %v, %v, %v; want %v, %v", tt.n, tt.o, lo, hi, err, tt.min, tt.max)
			}
		})
	}
	for _, bad := range []struct {
		n int
		o VideoOptions
	}{{0, VideoOptions{}}, {-2, VideoOptions{}}, {4, VideoOptions{TotalPixels: math.NaN()}}, {4, VideoOptions{TotalPixels: math.Inf(1)}}, {4, VideoOptions{TotalPixels: -1}}} {
		if lo, hi, err := a.FrameBudget(bad.n, bad.o); err == nil {
			t.Errorf("FrameBudget(%d, %+v) = %v, %v; want an error", bad.n, bad.o, lo, hi)
		}
	}
}

func TestVideoOptionsRejectNonFinite(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	f := func(v float64) *float64 { return &v }
	src := VideoSource{Width: 640, Height: 480, Frames: 300, FPS: 30}
	for _, s := range []Spec{a, CustomSpec(28)} {
		for _, o := range []VideoOptions{
			{FPS: math.NaN()}, {FPS: math.Inf(1)}, {TotalPixels: math.NaN()}, {TotalPixels: math.Inf(1)}, {TotalPixels: -5},
			{TotalPixels: 1e300}, {Start: f(math.NaN())}, {End: f(math.NaN())}, {Start: f(math.Inf(1))}, {End: f(math.Inf(-1))},
			{NFrames: MaxSampledFrames + 1}, {MinPixels: 1 << 60},
		} {
			_, err := PlanVideo(src, s, o)
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Errorf("%s %+v: err = %v, want OptionError", s.Family, o, err)
			}
		}
	}
	// Source numbers that are not finite or too large are errors, not garbage.
	for _, bad := range []VideoSource{{640, 480, 300, math.NaN()}, {640, 480, 300, math.Inf(1)}, {640, 480, 300, -30}, {640, 480, MaxSourceFrames + 1, 30}} {
		if p, err := PlanVideo(bad, a, VideoOptions{}); err == nil {
			t.Errorf("%+v: planned %+v, want an error", bad, p)
		}
	}
	if n, err := a.NFrames(300, math.NaN(), VideoOptions{}); err == nil {
		t.Errorf("NFrames with NaN fps = %d, want an error", n)
	}
	if n, err := CustomSpec(28).NFrames(1<<30, 30, VideoOptions{FPS: 10, MaxFrames: 1 << 30}); err == nil {
		t.Errorf("NFrames sampling 2^30 frames = %d, want an error", n)
	}
}

func TestVideoBoundsClashNamesTheDefault(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	src := VideoSource{Width: 640, Height: 480, Frames: 300, FPS: 30}
	tests := []struct {
		s      Spec
		o      VideoOptions
		option string
		says   []string
	}{
		{a, VideoOptions{MaxPixels: 50000}, "max_pixels", []string{"50000", "default video min_pixels 65536"}},
		{a, VideoOptions{MaxPixels: 4000}, "max_pixels", []string{"smallest min_pixels 4096", "at least 4096"}},
		{a, VideoOptions{MinPixels: 700000}, "min_pixels", []string{"700000", "default video max_pixels 655360"}},
		{CustomSpec(28), VideoOptions{MaxPixels: 50000}, "max_pixels", []string{"default video min_pixels 100352", "VIDEO_MIN_PIXELS"}},
		{a, VideoOptions{MinPixels: 200000, MaxPixels: 100000}, "min_pixels", []string{"greater than max_pixels 100000"}},
	}
	for _, tt := range tests {
		_, err := PlanVideo(src, tt.s, tt.o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tt.option {
			t.Errorf("%+v: err = %v, want an OptionError for %s", tt.o, err, tt.option)
			continue
		}
		for _, w := range tt.says {
			if !strings.Contains(oe.Error(), w) {
				t.Errorf("%+v: %q does not say %q", tt.o, oe.Error(), w)
			}
		}
		if _, err := PlanImageList(640, 480, 8, tt.s, tt.o); !errors.As(err, &oe) {
			t.Errorf("image list %+v: err = %v, want an OptionError", tt.o, err)
		}
	}
}

func TestNFramesWithinModelAndFPSRange(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	d, _ := FamilySpec(FamilyQwen25VL, false)
	tests := []struct {
		name   string
		s      Spec
		frames int
		o      VideoOptions
		option string // "" means the plan must succeed
	}{
		{"nframes above max_frames 2000", a, 5000, VideoOptions{NFrames: 3000}, "nframes"},
		{"nframes 2001 rounds to 2000: allowed", a, 100000, VideoOptions{NFrames: 2001}, ""},
		{"nframes 2003 rounds to 2004: above", a, 100000, VideoOptions{NFrames: 2003}, "nframes"},
		{"nframes above max_frames 512", d, 100000, VideoOptions{NFrames: 600}, "nframes"},
		{"nframes sampling 18 fps", a, 2500, VideoOptions{NFrames: 1500}, "nframes"},
		{"nframes sampling exactly 10 fps", a, 300, VideoOptions{NFrames: 100}, ""},
		{"nframes sampling 0.05 fps", a, 108000, VideoOptions{NFrames: 180}, "nframes"},
		{"min_frames forcing 20 fps", a, 60, VideoOptions{MinFrames: 40}, "min_frames"},
		{"min_frames within range", a, 600, VideoOptions{MinFrames: 40}, ""},
		{"fps 10 exactly", a, 300, VideoOptions{FPS: 10}, ""},
		{"custom keeps qwen-vl-utils: nframes at 18 fps", CustomSpec(28), 5000, VideoOptions{NFrames: 3000}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanVideo(VideoSource{Width: 640, Height: 480, Frames: tt.frames, FPS: 30}, tt.s, tt.o)
			if tt.option == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("plan %d frames at %v fps, err %v; want an OptionError for %s", p.Frames, p.SampleFPS, err, tt.option)
			}
		})
	}
}

// TestPlanVideoTokenOverflow: per-frame bounds near 2^53 times a million
// frames once counted -8899112863684100096 tokens; now it is an error.
func TestPlanVideoTokenOverflow(t *testing.T) {
	o := VideoOptions{NFrames: 1_000_000, MinPixels: 1 << 52}
	p, err := PlanVideo(VideoSource{Width: 16, Height: 16, Frames: 2_000_000, FPS: 30}, CustomSpec(2), o)
	if !errors.Is(err, ErrSize) || p.Tokens != 0 {
		t.Fatalf("plan %d tokens, err %v; want ErrSize", p.Tokens, err)
	}
	o.NFrames, o.MaxPixels = 0, 1<<53
	if _, err := PlanImageList(16, 16, 1_000_000, CustomSpec(2), o); !errors.Is(err, ErrSize) {
		t.Fatalf("image list: err %v; want ErrSize", err)
	}
}

// TestSuggestedFrameCountsAllWork: the "give nframes between A and B" range
// is one whose every value plans after rounding half to even (nframes 5 → 4
// once failed again after "between 5 and 500"; "between 1 and 20" included
// 1 → 0), and so is the range for min_frames (rounded up to even); its ends
// are tight, even counts.
func TestSuggestedFrameCountsAllWork(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	d, _ := FamilySpec(FamilyQwen25VL, false)
	cases := []struct {
		s      Spec
		frames int
		fps    float64
		o      VideoOptions
	}{
		{a, 1500, 30, VideoOptions{NFrames: 2}},    // 50 s: 0.04 fps
		{a, 60, 30, VideoOptions{NFrames: 30}},     // 2 s: 15 fps
		{a, 2500, 30, VideoOptions{NFrames: 1500}}, // 83.3 s: 18 fps
		{a, 108000, 30, VideoOptions{NFrames: 100}},
		{a, 1234, 29.97, VideoOptions{NFrames: 2}},
		{a, 95, 24, VideoOptions{NFrames: 90}},
		{d, 7000, 25, VideoOptions{NFrames: 2}},
		{a, 60, 30, VideoOptions{MinFrames: 40}},
		{a, 47, 23.976, VideoOptions{MinFrames: 45}},
	}
	for _, c := range cases {
		src := VideoSource{Width: 640, Height: 480, Frames: c.frames, FPS: c.fps}
		_, err := PlanVideo(src, c.s, c.o)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Fatalf("%d frames at %g fps, %+v: err %v, want an OptionError", c.frames, c.fps, c.o, err)
		}
		i := strings.Index(oe.Fix, "between ")
		var lo, hi int
		if i < 0 {
			t.Fatalf("%q suggests no range", oe.Error())
		}
		if _, err := fmt.Sscanf(oe.Fix[i:], "between %d and %d", &lo, &hi); err != nil || lo%2 != 0 || hi%2 != 0 || lo < 2 || lo > hi {
			t.Fatalf("%q: range %d..%d (%v): want even ends, 2 ≤ lo ≤ hi", oe.Error(), lo, hi, err)
		}
		try := func(v int) error {
			o := c.o
			if o.NFrames != 0 {
				o.NFrames = v
			} else {
				o.MinFrames = v
			}
			_, err := PlanVideo(src, c.s, o)
			return err
		}
		for v := lo; v <= hi; v++ {
			if err := try(v); err != nil {
				t.Errorf("%d frames at %g fps: suggested %d..%d, but %d fails: %v", c.frames, c.fps, lo, hi, v, err)
				break
			}
		}
		if c.o.NFrames != 0 && (lo > 2 && try(lo-2) == nil || try(hi+2) == nil) {
			t.Errorf("%d frames at %g fps: %d..%d is not tight", c.frames, c.fps, lo, hi)
		}
	}
}

// TestNFramesAboveTheVideo: an explicit nframes beyond the video's frames
// is an OptionError on nframes whose fix is a range that works: within the
// frames and, on DashScope models, the fps range.
func TestNFramesAboveTheVideo(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		fix  string
	}{
		{mustSpec(t, "qwen3-vl-plus"), "for this video give nframes between 6 and 600"},
		{CustomSpec(28), "for this video give nframes between 2 and 1800"},
	} {
		_, err := c.spec.NFrames(1800, 30, VideoOptions{NFrames: 1900})
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "nframes" || oe.Fix != c.fix {
			t.Errorf("%s: err %v (fix %q), want an nframes OptionError with %q", c.spec.Family, err, fixOf(oe), c.fix)
		}
	}
}

func fixOf(oe *OptionError) string {
	if oe == nil {
		return ""
	}
	return oe.Fix
}

func mustSpec(t *testing.T, model string) Spec {
	t.Helper()
	m, err := Lookup(model)
	if err != nil {
		t.Fatal(err)
	}
	return m.Spec
}

// TestListFPSClampsIntoAPIRange: a plan from qwen-vl-utils' own rules can
// sample outside [0.1, 10] fps (4 frames of a 0.3 s clip, 50 frames over
// 4900 s); the fps declared for its frame list is clamped into the range
// (seed 000 line 1285), and the list's tokens do not change with it.
func TestListFPSClampsIntoAPIRange(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	tests := []struct {
		name      string
		s         Spec
		src       VideoSource
		want      float64
		wantFrame int
	}{
		{"0.3 s at 60 fps: 4 frames are 13.3 fps", a, VideoSource{Width: 64, Height: 64, Frames: 18, FPS: 60}, 10, 4},
		{"50 frames over 4900 s: 0.0102 fps", a, VideoSource{Width: 64, Height: 64, Frames: 50, FPS: 50.0 / 4900}, 0.1, 50},
		{"in range: kept", a, VideoSource{Width: 64, Height: 64, Frames: 300, FPS: 30}, 2, 20},
		{"custom deployment: no range", CustomSpec(28), VideoSource{Width: 64, Height: 64, Frames: 18, FPS: 60}, 4.0 / 18 * 60, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanVideo(tt.src, tt.s, VideoOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Frames != tt.wantFrame {
				t.Fatalf("frames %d, want %d", p.Frames, tt.wantFrame)
			}
			got := tt.s.ListFPS(p.SampleFPS)
			if math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("ListFPS(%v) = %v, want %v", p.SampleFPS, got, tt.want)
			}
			if tt.s.Family == FamilyCustom {
				return
			}
			raw, err := PlanImageList(p.ResizedWidth, p.ResizedHeight, p.Frames, tt.s, VideoOptions{FPS: 2})
			if err != nil {
				t.Fatal(err)
			}
			fl, err := PlanImageList(p.ResizedWidth, p.ResizedHeight, p.Frames, tt.s, VideoOptions{FPS: got})
			if err != nil {
				t.Fatalf("the declared fps %v is refused: %v", got, err)
			}
			if fl.Tokens != raw.Tokens || fl.Tokens != p.Tokens {
				t.Fatalf("tokens %d at fps %v, %d at fps 2, plan %d: want all equal", fl.Tokens, got, raw.Tokens, p.Tokens)
			}
		})
	}
}

// TestPlanVideoOneFrame: a single-frame video cannot be a frame list; the
// error is ErrTooFewFrames and says so, not "need between 2 and 1".
func TestPlanVideoOneFrame(t *testing.T) {
	a, _ := FamilySpec(FamilyQwen3VLPlus, false)
	_, err := PlanVideo(VideoSource{Width: 64, Height: 64, Frames: 1, FPS: 10}, a, VideoOptions{})
	if !errors.Is(err, ErrTooFewFrames) || err.Error() != "tokens: too few frames for a frame list: the video has 1 frame; at least 2 are sampled and the API needs 4 in a list" {
		t.Fatalf("err %v", err)
	}
}
