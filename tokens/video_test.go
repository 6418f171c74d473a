package tokens

import (
	"errors"
	"math"
	"reflect"
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
