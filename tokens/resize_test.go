package tokens

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

func TestSmartResizeTraps(t *testing.T) {
	// qwen-vl-math.md §1 and §7: cases where half-to-even rounding, the
	// factor floor or the two divisions decide the result.
	tests := []struct {
		name         string
		h, w, f      int
		lo, hi       float64
		wantH, wantW int
		wantErr      error
	}{
		{"720x1280 f32 lib: tie rounds down to even", 720, 1280, 32, 4 * 1024, 16384 * 1024, 704, 1280, nil},
		{"720x1280 f32 family A", 720, 1280, 32, 65536, 2621440, 704, 1280, nil},
		{"70x70 f28: tie 2.5 rounds to 2", 70, 70, 28, 3136, 1003520, 56, 56, nil},
		{"406x1024 f28 family D", 406, 1024, 28, 3136, 1003520, 392, 1036, nil},
		{"42x126 f28", 42, 126, 28, 3136, 1003520, 56, 112, nil},
		{"80x80 f32 lib", 80, 80, 32, 4096, 16777216, 64, 64, nil},
		{"80x1000 f32 A: tie flips the branch", 80, 1000, 32, 65536, 2621440, 96, 928, nil},
		{"3024x4032 f32 high-res", 3024, 4032, 32, 65536, 16777216, 3008, 4032, nil},
		{"dog_and_girl 1365x2048 qwen-vl-max", 1365, 2048, 32, 4096, 1310720, 928, 1376, nil},
		{"4x4 upscales f28", 4, 4, 28, 3136, 1003520, 56, 56, nil},
		{"11x2200 exactly 200:1 allowed", 11, 2200, 28, 3136, 1003520, 28, 2212, nil},
		{"11x2201 over 200:1", 11, 2201, 28, 3136, 1003520, 0, 0, ErrAspectRatio},
		{"11x500 max 3136: zero side", 11, 500, 28, 3136, 3136, 0, 364, ErrZeroSide},
		{"100x20000 f28: ratio over 200 after resize", 100, 20000, 28, 3136, 1003520, 56, 14140, ErrAspectRatio},
		{"min above max", 100, 100, 28, 5000, 4000, 0, 0, ErrBounds},
		{"upscale branch", 10, 20, 32, 65536, 2621440, 192, 384, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, w, err := SmartResize(tt.h, tt.w, tt.f, tt.lo, tt.hi)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantH != 0 || tt.wantW != 0 {
					if h != tt.wantH || w != tt.wantW {
						t.Errorf("size with error = %dx%d, want %dx%d", h, w, tt.wantH, tt.wantW)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.wantH || w != tt.wantW {
				t.Errorf("SmartResize(%d, %d) = %dx%d (h×w), want %dx%d", tt.h, tt.w, h, w, tt.wantH, tt.wantW)
			}
		})
	}
}

func TestRoundHalfEvenIsNotGoRound(t *testing.T) {
	// The trap in one line: Go's math.Round gives 736 for 720 at f=32.
	if got := int(math.Round(720.0/32)) * 32; got != 736 {
		t.Fatalf("math.Round sanity: %d", got)
	}
	if got := roundByFactor(720, 32); got != 704 {
		t.Fatalf("roundByFactor(720, 32) = %d, want 704", got)
	}
}

// refCase is one line of testdata/tokens/cases.jsonl, written by the Python
// oracle testdata/gen/tokens_cases.py with Python's own float arithmetic.
type refCase struct {
	Kind        string  `json:"kind"`
	H           int     `json:"h"`
	W           int     `json:"w"`
	Factor      int     `json:"factor"`
	Min         float64 `json:"min"`
	Max         float64 `json:"max"`
	TotalFrames int     `json:"total_frames"`
	VideoFPS    float64 `json:"video_fps"`
	FPS         float64 `json:"fps"`
	NFrames     int     `json:"nframes"`
	MaxPixels   int     `json:"max_pixels"`
	Want        struct {
		H, W      int
		Frames    int     `json:"frames"`
		Tokens    int     `json:"tokens"`
		SampleFPS float64 `json:"sample_fps"`
		Error     string  `json:"error"`
	} `json:"want"`
}

func loadCases(t testing.TB) []refCase {
	f, err := os.Open("../testdata/tokens/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []refCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c refCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if len(cs) < 1000 {
		t.Fatalf("only %d reference cases", len(cs))
	}
	return cs
}

var refErrors = map[string]error{"ratio": ErrAspectRatio, "ratio_resized": ErrAspectRatio, "zero": ErrZeroSide, "bounds": ErrBounds}

func TestSmartResizeMatchesPythonOracle(t *testing.T) {
	n := 0
	for _, c := range loadCases(t) {
		if c.Kind != "image" {
			continue
		}
		n++
		h, w, err := SmartResize(c.H, c.W, c.Factor, c.Min, c.Max)
		if c.Want.Error != "" {
			if !errors.Is(err, refErrors[c.Want.Error]) {
				t.Errorf("%dx%d f=%d [%v,%v]: err %v, want %s", c.H, c.W, c.Factor, c.Min, c.Max, err, c.Want.Error)
			}
			continue
		}
		if err != nil || h != c.Want.H || w != c.Want.W {
			t.Errorf("%dx%d f=%d [%v,%v]: got %dx%d %v, want %dx%d", c.H, c.W, c.Factor, c.Min, c.Max, h, w, err, c.Want.H, c.Want.W)
		}
	}
	t.Logf("%d image cases", n)
}

func TestPlanVideoMatchesPythonOracle(t *testing.T) {
	n := 0
	for _, c := range loadCases(t) {
		if c.Kind != "video" {
			continue
		}
		n++
		o := VideoOptions{FPS: c.FPS, NFrames: c.NFrames, MaxPixels: c.MaxPixels}
		p, err := PlanVideo(VideoSource{Width: c.W, Height: c.H, Frames: c.TotalFrames, FPS: c.VideoFPS}, CustomSpec(c.Factor), o)
		if c.Want.Error != "" {
			if err == nil {
				t.Errorf("%+v: got %+v, want error %s", c, p, c.Want.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if p.Frames != c.Want.Frames || p.ResizedHeight != c.Want.H || p.ResizedWidth != c.Want.W || p.Tokens != c.Want.Tokens || p.SampleFPS != c.Want.SampleFPS {
			t.Errorf("%dx%d T=%d fps=%g src=%g n=%d max=%d: got n=%d %dx%d tok=%d sfps=%v, want n=%d %dx%d tok=%d sfps=%v",
				c.H, c.W, c.TotalFrames, c.FPS, c.VideoFPS, c.NFrames, c.MaxPixels,
				p.Frames, p.ResizedHeight, p.ResizedWidth, p.Tokens, p.SampleFPS,
				c.Want.Frames, c.Want.H, c.Want.W, c.Want.Tokens, c.Want.SampleFPS)
		}
	}
	t.Logf("%d video cases", n)
}

// FuzzSmartResize checks the invariants of every successful resize: sides are
// positive multiples of the factor, the area respects the bounds (except the
// documented tight cases), and the aspect ratio stays within 200:1.
func FuzzSmartResize(f *testing.F) {
	f.Add(720, 1280, 32, 4096, 16777216)
	f.Add(70, 70, 28, 3136, 1003520)
	f.Add(11, 2200, 28, 3136, 1003520)
	f.Add(1, 1, 32, 65536, 2621440)
	f.Fuzz(func(t *testing.T, h, w, factor, lo, hi int) {
		if h <= 0 || w <= 0 || h > 1<<20 || w > 1<<20 || factor <= 0 || factor > 64 || lo <= 0 || hi <= 0 || lo > 1<<30 || hi > 1<<30 {
			t.Skip()
		}
		rh, rw, err := SmartResize(h, w, factor, float64(lo), float64(hi))
		if err != nil {
			return
		}
		if rh <= 0 || rw <= 0 || rh%factor != 0 || rw%factor != 0 {
			t.Fatalf("%dx%d f=%d: %dx%d not positive multiples", h, w, factor, rh, rw)
		}
		if float64(max(rh, rw))/float64(min(rh, rw)) > MaxRatio {
			t.Fatalf("%dx%d: resized ratio over 200", h, w)
		}
		area := rh * rw
		h0, w0 := max(factor, roundByFactor(float64(h), factor)), max(factor, roundByFactor(float64(w), factor))
		switch {
		case h0*w0 > hi && area > hi:
			t.Fatalf("%dx%d f=%d [%d,%d]: downscaled area %d over max", h, w, factor, lo, hi, area)
		case h0*w0 < lo && area < lo:
			t.Fatalf("%dx%d f=%d [%d,%d]: upscaled area %d under min", h, w, factor, lo, hi, area)
		}
	})
}
