package tokens

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
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
		{"NaN max", 480, 640, 32, 65536, math.NaN(), 0, 0, ErrBounds},
		{"NaN min", 480, 640, 32, math.NaN(), 655360, 0, 0, ErrBounds},
		{"Inf max", 480, 640, 32, 65536, math.Inf(1), 0, 0, ErrBounds},
		{"-Inf min", 480, 640, 32, math.Inf(-1), 655360, 0, 0, ErrBounds},
		{"negative min", 480, 640, 32, -1, 655360, 0, 0, ErrBounds},
		{"max above 2^53", 480, 640, 32, 65536, 1 << 54, 0, 0, ErrBounds},
		{"zero bounds: zero side", 480, 640, 28, 0, 0, 0, 0, ErrZeroSide},
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
// Options absent from the line are nil (the model's default).
type refCase struct {
	Kind        string   `json:"kind"`
	Model       string   `json:"model"` // registry model; "" means --factor Factor
	H           int      `json:"h"`
	W           int      `json:"w"`
	Factor      int      `json:"factor"`
	Min         float64  `json:"min"` // kind image: explicit bounds
	Max         float64  `json:"max"`
	HighRes     bool     `json:"high_res"`
	TotalFrames int      `json:"total_frames"`
	VideoFPS    float64  `json:"video_fps"`
	FPS         *float64 `json:"fps"`
	NFrames     *int     `json:"nframes"`
	MinFrames   *int     `json:"min_frames"`
	MaxFrames   *int     `json:"max_frames"`
	MinPixels   *int     `json:"min_pixels"`
	MaxPixels   *int     `json:"max_pixels"`
	TotalPixels *float64 `json:"total_pixels"`
	Start       *float64 `json:"start"`
	End         *float64 `json:"end"`
	Want        struct {
		H, W        int
		Frames      int     `json:"frames"`
		Tokens      int     `json:"tokens"`
		InputTokens int     `json:"input_tokens"`
		SampleFPS   float64 `json:"sample_fps"`
		StartFrame  int     `json:"start_frame"`
		EndFrame    int     `json:"end_frame"`
		MinPixels   float64 `json:"min_pixels"`
		MaxPixels   float64 `json:"max_pixels"`
		Error       string  `json:"error"`
	} `json:"want"`
}

// spec is the case's model, or the custom deployment of its factor.
func (c refCase) spec(t testing.TB) Spec {
	if c.Model == "" {
		return CustomSpec(c.Factor)
	}
	m, err := Lookup(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Factor != c.Factor {
		t.Fatalf("%s: factor %d, oracle says %d", c.Model, m.Factor, c.Factor)
	}
	return m.Spec
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// videoOptions are the case's options as the CLI passes them.
func (c refCase) videoOptions() VideoOptions {
	return VideoOptions{FPS: deref(c.FPS), NFrames: deref(c.NFrames), MinFrames: deref(c.MinFrames), MaxFrames: deref(c.MaxFrames),
		MinPixels: deref(c.MinPixels), MaxPixels: deref(c.MaxPixels), TotalPixels: deref(c.TotalPixels), Start: c.Start, End: c.End}
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cs) < 10000 {
		t.Fatalf("only %d reference cases", len(cs))
	}
	return cs
}

var refErrors = map[string]error{"ratio": ErrAspectRatio, "ratio_resized": ErrAspectRatio, "zero": ErrZeroSide, "bounds": ErrBounds}

// wantRefError checks err against the oracle's kind of refusal: "option" and
// "range" (video_start/video_end) are settings the caller must change, an
// [*OptionError]; "nframes" is a video too short to sample, a plain error;
// the rest are smart_resize's sentinels.
func wantRefError(kind string, err error) bool {
	var oe *OptionError
	switch kind {
	case "option", "range":
		return errors.As(err, &oe)
	case "nframes": // smart_nframes' ValueError: an explicit nframes is named as the option at fault
		return err != nil && (!errors.As(err, &oe) || oe.Option == "nframes")
	}
	return refErrors[kind] != nil && errors.Is(err, refErrors[kind])
}

func TestSmartResizeMatchesPythonOracle(t *testing.T) {
	n := 0
	for _, c := range loadCases(t) {
		if c.Kind != "image" {
			continue
		}
		n++
		h, w, err := SmartResize(c.H, c.W, c.Factor, c.Min, c.Max)
		if c.Want.Error != "" {
			if !wantRefError(c.Want.Error, err) {
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

func TestPlanImageMatchesPythonOracle(t *testing.T) {
	n, models := 0, map[string]bool{}
	for _, c := range loadCases(t) {
		if c.Kind != "image_model" {
			continue
		}
		n++
		models[c.Model] = true
		o := ImageOptions{MinPixels: deref(c.MinPixels), MaxPixels: deref(c.MaxPixels), HighRes: c.HighRes}
		p, err := PlanImage(c.W, c.H, c.spec(t), o)
		if c.Want.Error != "" {
			if !wantRefError(c.Want.Error, err) {
				t.Errorf("%s f=%d %dx%d %+v: got %+v, %v; want %s", c.Model, c.Factor, c.W, c.H, o, p, err, c.Want.Error)
			}
			continue
		}
		if err != nil || p.ResizedHeight != c.Want.H || p.ResizedWidth != c.Want.W || p.Tokens != c.Want.Tokens || p.InputTokens != c.Want.InputTokens {
			t.Errorf("%s f=%d %dx%d %+v: got %+v, %v; want %dx%d (h×w) %d tokens", c.Model, c.Factor, c.W, c.H, o, p, err, c.Want.H, c.Want.W, c.Want.Tokens)
		}
	}
	if n < 1000 || len(models) < 10 {
		t.Fatalf("%d image_model cases over %d models", n, len(models))
	}
	t.Logf("%d image_model cases, %d models", n, len(models))
}

func TestPlanVideoMatchesPythonOracle(t *testing.T) {
	n, ok := 0, 0
	seen := map[string]int{}
	for _, c := range loadCases(t) {
		if c.Kind != "video" {
			continue
		}
		n++
		o := c.videoOptions()
		for name, set := range map[string]bool{"fps": c.FPS != nil, "nframes": c.NFrames != nil, "min_frames": c.MinFrames != nil,
			"max_frames": c.MaxFrames != nil, "min_pixels": c.MinPixels != nil, "max_pixels": c.MaxPixels != nil,
			"total_pixels": c.TotalPixels != nil, "start": c.Start != nil, "end": c.End != nil, "model": c.Model != ""} {
			if set && c.Want.Error == "" {
				seen[name]++
			}
		}
		p, err := PlanVideo(VideoSource{Width: c.W, Height: c.H, Frames: c.TotalFrames, FPS: c.VideoFPS}, c.spec(t), o)
		desc := func() string {
			return fmt.Sprintf("%s f=%d %dx%d T=%d src=%g %s", c.Model, c.Factor, c.W, c.H, c.TotalFrames, c.VideoFPS, describeOptions(o))
		}
		if c.Want.Error != "" {
			if !wantRefError(c.Want.Error, err) {
				t.Errorf("%s: got n=%d %dx%d sfps=%v err %v; want error %s", desc(), p.Frames, p.ResizedWidth, p.ResizedHeight, p.SampleFPS, err, c.Want.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", desc(), err)
			continue
		}
		ok++
		if p.Frames != c.Want.Frames || p.ResizedHeight != c.Want.H || p.ResizedWidth != c.Want.W || p.Tokens != c.Want.Tokens ||
			p.InputTokens != c.Want.InputTokens || p.SampleFPS != c.Want.SampleFPS || p.StartFrame != c.Want.StartFrame ||
			p.EndFrame != c.Want.EndFrame || p.MinPixels != c.Want.MinPixels || p.MaxPixels != c.Want.MaxPixels {
			t.Errorf("%s:\n got n=%d %dx%d (h×w) tok=%d sfps=%v range %d..%d px [%v, %v]\nwant n=%d %dx%d tok=%d sfps=%v range %d..%d px [%v, %v]",
				desc(), p.Frames, p.ResizedHeight, p.ResizedWidth, p.Tokens, p.SampleFPS, p.StartFrame, p.EndFrame, p.MinPixels, p.MaxPixels,
				c.Want.Frames, c.Want.H, c.Want.W, c.Want.Tokens, c.Want.SampleFPS, c.Want.StartFrame, c.Want.EndFrame, c.Want.MinPixels, c.Want.MaxPixels)
		}
	}
	// Every option must be exercised by successful cases, not only by errors.
	for _, name := range []string{"fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels", "total_pixels", "start", "end", "model"} {
		if seen[name] < 200 {
			t.Errorf("only %d successful video cases set %s", seen[name], name)
		}
	}
	t.Logf("%d video cases, %d planned; options in planned cases: %v", n, ok, seen)
}

// describeOptions prints the options that are set.
func describeOptions(o VideoOptions) string {
	s := fmt.Sprintf("%+v", o)
	if o.Start != nil {
		s += fmt.Sprintf(" start=%v", *o.Start)
	}
	if o.End != nil {
		s += fmt.Sprintf(" end=%v", *o.End)
	}
	return s
}

// FuzzSmartResize checks that SmartResize fails exactly when it must and
// that every success keeps the invariants, for any int and float input. An
// error is allowed only for: a side or factor out of range (ErrSize); bounds
// that are not finite, non-negative and ordered (ErrBounds); an original
// ratio over 200 (ErrAspectRatio); a zero side, returned with the error
// (ErrZeroSide); or a resized ratio over 200, also returned with the error
// (ErrAspectRatio). On success sides are positive multiples of the factor,
// the ratio stays within 200:1, the area respects max in the downscale
// branch and min in the upscale branch (min and max can both be missed only
// when they are closer than one factor step, the tight case) and is never
// more than one factor step above what the upscale asks, and a size already
// within the bounds is kept. The rounded size is recomputed here in float64
// (exact for every accepted input), so an int overflow inside SmartResize
// cannot hide behind the same overflow in the check.
func FuzzSmartResize(f *testing.F) {
	f.Add(720, 1280, 32, 4096.0, 16777216.0)
	f.Add(70, 70, 28, 3136.0, 1003520.0)
	f.Add(11, 2200, 28, 3136.0, 1003520.0)
	f.Add(11, 2201, 28, 3136.0, 1003520.0)
	f.Add(11, 500, 28, 3136.0, 3136.0)
	f.Add(100, 20000, 28, 3136.0, 1003520.0)
	f.Add(1, 1, 32, 65536.0, 2621440.0)
	f.Add(100, 100, 28, 5000.0, 4000.0)
	f.Add(640, 480, 32, math.NaN(), 655360.0)
	f.Add(640, 480, 32, 65536.0, math.Inf(1))
	f.Add(640, 480, 32, -1.0, 655360.0)
	f.Add(640, 480, 28, 0.0, 0.0)
	// Huge values: sides near int64 max once came back as 256x256.
	f.Add(math.MaxInt, math.MaxInt, 32, 65536.0, 2621440.0)
	f.Add(MaxSide, MaxSide, 2, 0.0, float64(MaxPixelBound))
	f.Add(MaxSide+1, 1000, 28, 3136.0, 1003520.0)
	f.Add(MaxSide, MaxSide/128, 1, float64(MaxPixelBound), float64(MaxPixelBound))
	f.Add(1, 1, MaxFactor, float64(MaxPixelBound), float64(MaxPixelBound))
	f.Add(640, 480, 33558530, 0.0, float64(MaxPixelBound))
	f.Add(math.MinInt, 480, math.MinInt, 0.0, 1.0)
	f.Add(MaxSide, 1<<24, 1, 7.505999378950827e+15, 9.00719925474099e+15) // area a few ulps over max, as in Python
	f.Fuzz(func(t *testing.T, h, w, factor int, lo, hi float64) {
		rh, rw, err := SmartResize(h, w, factor, lo, hi)
		if h <= 0 || w <= 0 || h > MaxSide || w > MaxSide || factor <= 0 || factor > MaxFactor {
			if !errors.Is(err, ErrSize) {
				t.Fatalf("%dx%d f=%d: out of range, got %dx%d err %v", h, w, factor, rh, rw, err)
			}
			return
		}
		validBounds := lo >= 0 && hi >= 0 && lo <= MaxPixelBound && hi <= MaxPixelBound && lo <= hi
		ratio := float64(max(h, w)) / float64(min(h, w))
		resizedRatio := func() float64 { return float64(max(rh, rw)) / float64(min(rh, rw)) }
		switch {
		case errors.Is(err, ErrSize):
			t.Fatalf("%dx%d f=%d: ErrSize for an accepted size: %v", h, w, factor, err)
		case !validBounds:
			if !errors.Is(err, ErrBounds) {
				t.Fatalf("%dx%d f=%d [%v,%v]: bounds not usable, got %dx%d err %v", h, w, factor, lo, hi, rh, rw, err)
			}
			return
		case errors.Is(err, ErrBounds):
			t.Fatalf("%dx%d f=%d [%v,%v]: ErrBounds for usable bounds: %v", h, w, factor, lo, hi, err)
		case ratio > MaxRatio:
			if !errors.Is(err, ErrAspectRatio) {
				t.Fatalf("%dx%d: ratio %v, got %dx%d err %v", h, w, ratio, rh, rw, err)
			}
			return
		case errors.Is(err, ErrZeroSide):
			if rh != 0 && rw != 0 {
				t.Fatalf("%dx%d f=%d [%v,%v]: ErrZeroSide with %dx%d", h, w, factor, lo, hi, rh, rw)
			}
			return
		case errors.Is(err, ErrAspectRatio):
			if rh <= 0 || rw <= 0 || resizedRatio() <= MaxRatio {
				t.Fatalf("%dx%d f=%d [%v,%v]: ratio error but resized %dx%d", h, w, factor, lo, hi, rh, rw)
			}
			return
		case err != nil:
			t.Fatalf("%dx%d f=%d [%v,%v]: unexpected error %v", h, w, factor, lo, hi, err)
		}
		if rh <= 0 || rw <= 0 || rh%factor != 0 || rw%factor != 0 {
			t.Fatalf("%dx%d f=%d: %dx%d not positive multiples", h, w, factor, rh, rw)
		}
		if resizedRatio() > MaxRatio {
			t.Fatalf("%dx%d: resized ratio over 200 without an error", h, w)
		}
		area := float64(rh) * float64(rw)
		h0, w0, eh, ew := floatResize(h, w, factor, lo, hi)
		a0 := h0 * w0
		switch {
		case float64(rh) != eh || float64(rw) != ew:
			t.Fatalf("%dx%d f=%d [%v,%v]: %dx%d, but smart_resize in float64 gives %vx%v", h, w, factor, lo, hi, rw, rh, ew, eh)
		// The area bounds hold up to float rounding: with factor 1 and sides
		// near MaxSide, Python's own beta gives an area a few ulps over max.
		case a0 > hi && area > hi*(1+1e-12):
			t.Fatalf("%dx%d f=%d [%v,%v]: downscaled area %v over max", h, w, factor, lo, hi, area)
		case a0 < lo && area < lo*(1-1e-12):
			t.Fatalf("%dx%d f=%d [%v,%v]: upscaled area %v under min", h, w, factor, lo, hi, area)
		case a0 >= lo && a0 <= hi && (float64(rh) != h0 || float64(rw) != w0):
			t.Fatalf("%dx%d f=%d [%v,%v]: %vx%v is within bounds but became %dx%d", h, w, factor, lo, hi, h0, w0, rh, rw)
		}
	})
}

// floatResize is smart_resize (qwen-vl-math.md §1) written in float64 only,
// as Python computes it: exact for every size SmartResize accepts (sides and
// factors far below 2^53), so it has no int conversion that could overflow.
// It returns the rounded size and the result.
func floatResize(h, w, factor int, lo, hi float64) (h0, w0, rh, rw float64) {
	ff, hf, wf := float64(factor), float64(h), float64(w)
	h0, w0 = math.Max(ff, math.RoundToEven(hf/ff)*ff), math.Max(ff, math.RoundToEven(wf/ff)*ff)
	switch {
	case h0*w0 > hi:
		beta := math.Sqrt((hf * wf) / hi)
		return h0, w0, math.Floor(hf/beta/ff) * ff, math.Floor(wf/beta/ff) * ff
	case h0*w0 < lo:
		beta := math.Sqrt(lo / (hf * wf))
		return h0, w0, math.Ceil(hf*beta/ff) * ff, math.Ceil(wf*beta/ff) * ff
	}
	return h0, w0, h0, w0
}

// TestSmartResizeHugeInputs: sides and factors out of range are refused
// with ErrSize instead of overflowing (9223372036854775807² once gave
// 256x256), and the largest accepted ones give Python's answer.
func TestSmartResizeHugeInputs(t *testing.T) {
	for _, c := range []struct{ h, w, f int }{
		{math.MaxInt, math.MaxInt, 32}, {MaxSide + 1, 1000, 28}, {1000, MaxSide + 1, 28},
		{640, 480, MaxFactor + 1}, {640, 480, 33558530}, {640, 480, 3037000498}, {0, 480, 32}, {480, -1, 32}, {480, 640, 0},
	} {
		if h, w, err := SmartResize(c.h, c.w, c.f, 0, MaxPixelBound); !errors.Is(err, ErrSize) {
			t.Errorf("SmartResize(%d, %d, %d) = %dx%d, %v; want ErrSize", c.h, c.w, c.f, w, h, err)
		}
	}
	for _, c := range []struct {
		h, w, f int
		lo, hi  float64
	}{
		{MaxSide, MaxSide, 32, 65536, 2621440},
		{MaxSide, MaxSide, 2, 0, MaxPixelBound},
		{MaxSide, MaxSide / 128, 1, MaxPixelBound, MaxPixelBound},
		{1, 1, MaxFactor, MaxPixelBound, MaxPixelBound},
		{1, 1, MaxFactor, 4 * MaxFactor * MaxFactor, 16384 * MaxFactor * MaxFactor},
	} {
		h, w, err := SmartResize(c.h, c.w, c.f, c.lo, c.hi)
		_, _, eh, ew := floatResize(c.h, c.w, c.f, c.lo, c.hi)
		if err != nil || float64(h) != eh || float64(w) != ew {
			t.Errorf("SmartResize(%d, %d, %d, %v, %v) = %dx%d, %v; want %vx%v", c.h, c.w, c.f, c.lo, c.hi, w, h, err, ew, eh)
		}
	}
}

func TestRatioText(t *testing.T) {
	for r, want := range map[float64]string{50000: "50000", 200.09: "200.1", 13888.888: "13888.9", 2: "2"} {
		if got := RatioText(r); got != want {
			t.Errorf("RatioText(%g) = %s, want %s", r, got, want)
		}
	}
}
