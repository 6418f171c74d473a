package tokens

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// FrameFactor is the number of frames that share one temporal patch
// (qwen-vl-utils FRAME_FACTOR): frame counts are even, and a video's tokens
// are (n/2)·(h/f)·(w/f).
const FrameFactor = 2

// ErrTooFewFrames reports a video with fewer frames than a frame list
// samples (FrameFactor, 2): a single-frame video.
var ErrTooFewFrames = errors.New("tokens: too few frames for a frame list")

// VideoSource is what a probe knows of a video: its upright size, frame count
// and average frame rate.
type VideoSource struct {
	Width, Height int
	Frames        int     // total frames (qwen-vl-utils total_frames)
	FPS           float64 // average frame rate (video_fps)
}

// VideoOptions are the request settings that change how a video is sampled
// and sized. Zero values mean the model's default.
type VideoOptions struct {
	FPS         float64  // frames sampled per second; excludes NFrames
	NFrames     int      // explicit frame count, rounded half to even to an even number
	MinFrames   int      // lower bound on the fps-derived count (default 4)
	MaxFrames   int      // max_frames
	MinPixels   int      // per-frame min_pixels
	MaxPixels   int      // per-frame max_pixels
	TotalPixels float64  // total_pixels budget over all frames
	Start       *float64 // video_start in seconds
	End         *float64 // video_end in seconds
}

// FramePlan is the frames qwen-vl-utils would sample from a video and the
// size each is seen at.
type FramePlan struct {
	SourceFrames  int     `json:"source_frames"`
	SourceFPS     float64 `json:"source_fps"`
	StartFrame    int     `json:"start_frame"`
	EndFrame      int     `json:"end_frame"`
	Frames        int     `json:"frames"`     // n, always even
	Indices       []int   `json:"indices"`    // source frame indices, ascending
	SampleFPS     float64 `json:"sample_fps"` // n / frames in range · source fps
	MinPixels     float64 `json:"min_pixels"` // per-frame bounds used for smart_resize
	MaxPixels     float64 `json:"max_pixels"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	ResizedWidth  int     `json:"resized_width"`
	ResizedHeight int     `json:"resized_height"`
	Tokens        int     `json:"tokens"`       // what the API reports as video_tokens
	InputTokens   int     `json:"input_tokens"` // Tokens plus the vision markers
}

// VideoTokens is (⌈n/2⌉)·(h/f)·(w/f) for n frames of h×w (an odd count is
// padded with its last frame, as qwen-vl-utils and the HF processors do).
func VideoTokens(n, h, w, f int) int { return (n + 1) / 2 * (h / f) * (w / f) }

// MaxTokens is the most visual tokens a plan may count (2^53): far above any
// model's context, low enough that every count is exact in float64 and an
// int never overflows.
const MaxTokens = 1 << 53

// planTokens is VideoTokens, or an error when the count would be over
// MaxTokens (absurd per-frame bounds times many frames would overflow int).
func planTokens(n, h, w, f int) (int, error) {
	if t := float64((n+1)/2) * float64(h/f) * float64(w/f); t > MaxTokens {
		return 0, fmt.Errorf("%w: %d frames at %dx%d are %.4g tokens, over the 2^53 vision counts", ErrSize, n, w, h, t)
	}
	return VideoTokens(n, h, w, f), nil
}

// MaxSourceFrames is the most source frames a video may have here (2^31:
// over two years at 30 fps), so frame arithmetic never overflows an int.
const MaxSourceFrames = 1 << 31

// MaxSampledFrames is the most frames a plan may sample (2^20): far above
// every model's max_frames, low enough that the index list fits in memory.
const MaxSampledFrames = 1 << 20

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// checkVideoOptions rejects settings the API documents as out of range, and
// non-finite numbers anywhere. Range checks are written !(lo <= x && x <= hi)
// so that NaN fails them.
func (s Spec) checkVideoOptions(o VideoOptions) error {
	custom := s.Family == FamilyCustom
	if o.FPS != 0 && !(o.FPS >= s.FPSMin && o.FPS <= s.FPSMax) {
		return optErr("fps", "%g is outside [%g, %g]", o.FPS, s.FPSMin, s.FPSMax)
	}
	if o.FPS != 0 && o.NFrames != 0 {
		return withFix(optErr("nframes/fps", "both are given"), "give either fps or nframes, not both")
	}
	if o.NFrames < 0 || o.MinFrames < 0 || o.MaxFrames < 0 || o.MinPixels < 0 || o.MaxPixels < 0 {
		return optErr("video options", "nframes, min_frames, max_frames, min_pixels and max_pixels must not be negative")
	}
	if o.MinPixels > MaxPixelBound || o.MaxPixels > MaxPixelBound {
		return optErr("min_pixels/max_pixels", "must be at most 2^53")
	}
	if !(o.TotalPixels >= 0 && o.TotalPixels <= MaxPixelBound) { // NaN fails
		return optErr("total_pixels", "%g must be a number in [0, 2^53]", o.TotalPixels)
	}
	for _, t := range []struct {
		name string
		v    *float64
	}{{"video_start", o.Start}, {"video_end", o.End}} {
		if t.v != nil && !finite(*t.v) {
			return optErr(t.name, "%g is not a finite number of seconds", *t.v)
		}
	}
	if o.NFrames > MaxSampledFrames {
		return optErr("nframes", "%d is above the %d frames vision can plan", o.NFrames, MaxSampledFrames)
	}
	if n := evenNFrames(o.NFrames); o.NFrames != 0 && !custom && n > s.MaxFrames {
		return withFix(optErr("nframes", "%d (%d rounded to even) is above this model's max_frames %d (%s)", o.NFrames, n, s.MaxFrames, s.Sources["max_frames"]), "give nframes of at most %d", s.MaxFrames)
	}
	if o.MaxFrames != 0 && !custom && o.MaxFrames > s.MaxFrames {
		return withFix(optErr("max_frames", "%d is above this model's maximum %d", o.MaxFrames, s.MaxFrames), "give max_frames of at most %d, or leave it out for the maximum", s.MaxFrames)
	}
	if o.MinFrames != 0 && o.MaxFrames != 0 && o.MinFrames > o.MaxFrames {
		return withFix(optErr("min_frames", "%d is greater than max_frames %d", o.MinFrames, o.MaxFrames), "lower min_frames or raise max_frames")
	}
	// Only min_frames given: on a DashScope model the default max_frames is
	// also the maximum, so the clash cannot be fixed by raising max_frames.
	// A --factor deployment keeps qwen-vl-utils, whose default max_frames is
	// min(768, total frames) and simply wins.
	if o.MinFrames != 0 && o.MaxFrames == 0 && !custom && o.MinFrames > s.MaxFrames {
		return withFix(optErr("min_frames", "%d is greater than this model's default max_frames %d, which is also its maximum (%s)", o.MinFrames, s.MaxFrames, s.Sources["max_frames"]), "lower min_frames to at most %d", s.MaxFrames)
	}
	if o.MinPixels != 0 && !custom && o.MinPixels < s.VideoMinPixels {
		return withFix(optErr("min_pixels", "%d is below this model's minimum %d for video frames", o.MinPixels, s.VideoMinPixels), "give min_pixels of at least %d, or leave it out for the default", s.VideoMinPixels)
	}
	if o.MaxPixels != 0 && !custom && o.MaxPixels > s.VideoMaxPixels {
		return withFix(optErr("max_pixels", "%d is above this model's maximum %d for video frames", o.MaxPixels, s.VideoMaxPixels), "give max_pixels of at most %d, or leave it out for the default", s.VideoMaxPixels)
	}
	// The per-frame bounds fetch_video ends up with: min_pixels against the
	// max_pixels the frame budget is capped by (FrameBudget). The budget
	// itself never goes below min_pixels·1.05, so only these two can clash.
	lo := userOr(o.MinPixels, s.VideoMinPixelsDefault, "the default video min_pixels", s.VideoMinPixels)
	maxLimit := s.VideoMaxPixels
	if custom {
		lo.note = fmt.Sprintf("qwen-vl-utils VIDEO_MIN_PIXELS, 128·%d²", s.Factor)
		maxLimit = 0 // VideoMaxPixels is the budget's cap, not a limit on max_pixels
	}
	hi := userOr(o.MaxPixels, s.VideoMaxPixelsDefault, "the default video max_pixels", maxLimit)
	if hi.v != 0 && lo.v > hi.v {
		return boundsClash(lo, hi)
	}
	if o.TotalPixels != 0 && !custom && o.TotalPixels < s.VideoTotalPixelsMin {
		return withFix(optErr("total_pixels", "%.0f is below this model's minimum %.0f", o.TotalPixels, s.VideoTotalPixelsMin), "give total_pixels of at least %.0f, or leave it out for the default", s.VideoTotalPixelsMin)
	}
	return nil
}

// evenNFrames is an explicit nframes rounded half to even to a multiple of
// FrameFactor (qwen-vl-utils round_by_factor): 5 → 4, 7 → 8.
func evenNFrames(n int) int { return int(roundHalfEven(float64(n)/FrameFactor)) * FrameFactor }

// checkSampleFPS rejects, for DashScope models, a frame count the caller
// forced (nframes, or min_frames on a short clip) that samples the video
// outside the API's fps range: vision sends the frames as a list with that
// fps (seed 000 line 1285: fps in [0.1, 10]; seed 001 line 995).
func (s Spec) checkSampleFPS(o VideoOptions, n, count int, srcFPS, sampleFPS float64) error {
	if s.Family == FamilyCustom {
		return nil // qwen-vl-utils itself has no fps range
	}
	if s.fpsInRange(sampleFPS) {
		return nil
	}
	seconds := float64(count) / srcFPS
	lo, hi := fpsFrameRange(s, count, seconds)
	what := fmt.Sprintf("%d frames of %d (%.4g s at %g fps) sample %.4g fps, outside [%g, %g] (seed 000 line 1285)",
		n, count, seconds, srcFPS, sampleFPS, s.FPSMin, s.FPSMax)
	fix := func(option string) error {
		switch {
		case lo > hi && lo > s.MaxFrames:
			return optErr(option, "%s; no frame count fits: this length needs at least %d frames and this model takes at most %d", what, lo, s.MaxFrames)
		case lo > hi:
			return optErr(option, "%s; no frame count fits: no even count from 2 to %d samples this %.4g s clip within [%g, %g] fps", what, evenFloor(min(count, s.MaxFrames)), seconds, s.FPSMin, s.FPSMax)
		}
		return withFix(optErr(option, "%s", what), "for this length give %s between %d and %d", option, lo, hi)
	}
	switch {
	case o.NFrames != 0:
		return fix("nframes")
	case o.MinFrames != 0 && sampleFPS > s.FPSMax && n == ceilByFactor(float64(o.MinFrames), FrameFactor):
		return fix("min_frames")
	}
	return nil
}

// fpsInRange reports whether fps is within the API's [FPSMin, FPSMax]
// (seed 000 line 1285), with slack for n/count·fps being one division
// away from an exact fps.
func (s Spec) fpsInRange(fps float64) bool {
	const slack = 1e-9
	return fps >= s.FPSMin*(1-slack) && fps <= s.FPSMax*(1+slack)
}

// ListFPS is the fps vision declares for a frame list sampled at
// sampleFPS (FramePlan.SampleFPS): on DashScope models it is clamped into
// the API's [FPSMin, FPSMax] (seed 000 line 1285: "The value range is
// [0.1, 10]"), so a sub-second clip's 4 frames (13.3 fps) or a long video
// capped at max_frames (0.07 fps) is still sent with an fps the API
// accepts. The frames stay the planned ones; the model then reads them as
// 1/fps apart (seed 000 line 1294: fps "informs the model of the time
// interval between adjacent frames"). Tokens do not depend on fps. A
// --factor deployment (qwen-vl-utils) has no range: sampleFPS is kept.
func (s Spec) ListFPS(sampleFPS float64) float64 {
	if s.Family == FamilyCustom || s.fpsInRange(sampleFPS) || !(sampleFPS > 0) {
		return sampleFPS
	}
	return math.Min(math.Max(sampleFPS, s.FPSMin), s.FPSMax)
}

// fpsFrameRange is the even frame counts n with 2 ≤ n ≤ min(max_frames,
// count) that sample seconds of video within [FPSMin, FPSMax]. Both ends are
// even, so every nframes between them still lands inside after rounding half
// to even (5 → 4, 7 → 8) and every min_frames after rounding up to even.
func fpsFrameRange(s Spec, count int, seconds float64) (lo, hi int) {
	lo = max(FrameFactor, int(math.Ceil(s.FPSMin*seconds)))
	lo += lo % FrameFactor
	hi = evenFloor(min(int(math.Floor(s.FPSMax*seconds)), s.MaxFrames, count))
	return lo, hi
}

// evenFloor is n rounded down to a multiple of FrameFactor.
func evenFloor(n int) int { return n - n%FrameFactor }

// FrameRange is qwen-vl-utils' calculate_video_frame_range: the first and
// last source frame inside [start, end] seconds and their count.
func FrameRange(total int, fps float64, start, end *float64) (first, last, count int, err error) {
	if !(fps > 0) || math.IsInf(fps, 0) {
		return 0, 0, 0, fmt.Errorf("tokens: video frame rate %g must be a positive number", fps)
	}
	if total <= 0 || total > MaxSourceFrames {
		return 0, 0, 0, fmt.Errorf("tokens: video has %d frames (want 1 to %d)", total, MaxSourceFrames)
	}
	if (start != nil && !finite(*start)) || (end != nil && !finite(*end)) {
		return 0, 0, 0, optErr("video_start/video_end", "must be finite numbers of seconds")
	}
	if start == nil && end == nil {
		return 0, total - 1, total, nil
	}
	maxDuration := float64(total) / fps
	first, last = 0, total-1
	if start != nil {
		first = int(math.Ceil(math.Max(0, math.Min(*start, maxDuration)) * fps))
	}
	if end != nil {
		last = min(int(math.Floor(math.Max(0, math.Min(*end, maxDuration))*fps)), total-1)
	}
	if first >= last {
		return 0, 0, 0, withFix(optErr("video_start/video_end", "invalid time range: start frame %d is not before end frame %d (video is %.2fs, %d frames at %g fps)", first, last, maxDuration, total, fps), "give a video_start before video_end, both within the video's %.2fs", maxDuration)
	}
	return first, last, last - first + 1, nil
}

// NFrames is qwen-vl-utils' smart_nframes: how many frames to sample from
// total frames at videoFPS, for the model's defaults and the options.
func (s Spec) NFrames(total int, videoFPS float64, o VideoOptions) (int, error) {
	if !(videoFPS > 0) || math.IsInf(videoFPS, 0) {
		return 0, fmt.Errorf("tokens: video frame rate %g must be a positive number", videoFPS)
	}
	var n int
	if o.NFrames != 0 {
		n = evenNFrames(o.NFrames)
	} else {
		fps := o.FPS
		if fps == 0 {
			fps = s.FPSDefault
		}
		if !(fps > 0) || math.IsInf(fps, 0) {
			return 0, optErr("fps", "%g must be a positive number", fps)
		}
		minFrames := s.MinFrames
		if o.MinFrames != 0 {
			minFrames = o.MinFrames
		}
		minF := float64(ceilByFactor(float64(minFrames), FrameFactor))
		maxFrames := s.MaxFrames
		if o.MaxFrames != 0 {
			maxFrames = o.MaxFrames
		} else if s.Family == FamilyCustom {
			maxFrames = min(s.MaxFrames, total) // qwen-vl-utils: min(FPS_MAX_FRAMES, total_frames)
		}
		maxF := float64(floorByFactor(float64(maxFrames), FrameFactor))
		raw := float64(total) / videoFPS * fps
		nf := math.Min(math.Min(math.Max(raw, minF), maxF), float64(total))
		n = floorByFactor(nf, FrameFactor)
	}
	if (n < FrameFactor || n > total) && o.NFrames != 0 && total >= FrameFactor {
		// The caller's count: name it, with the counts that this video has
		// and, on DashScope models, that sample it within the fps range.
		lo, hi := FrameFactor, evenFloor(total)
		if s.Family != FamilyCustom {
			lo, hi = fpsFrameRange(s, total, float64(total)/videoFPS)
		}
		asked := strconv.Itoa(o.NFrames)
		if n != o.NFrames {
			asked += fmt.Sprintf(" (%d rounded to even)", n)
		}
		err := optErr("nframes", "%s frames to sample, but the video has %d", asked, total)
		if lo > hi {
			return n, err
		}
		return n, withFix(err, "for this video give nframes between %d and %d", lo, hi)
	}
	if total < FrameFactor {
		need := ""
		if s.ImageListMin > 0 {
			need = fmt.Sprintf(" and the API needs %d in a list", s.ImageListMin)
		}
		return n, fmt.Errorf("%w: the video has %d frame; at least %d are sampled%s", ErrTooFewFrames, total, FrameFactor, need)
	}
	if n < FrameFactor || n > total {
		return n, fmt.Errorf("tokens: %d frames to sample, but the video has %d (need between %d and %d)", n, total, FrameFactor, total)
	}
	if n > MaxSampledFrames {
		return n, fmt.Errorf("tokens: %d frames to sample is above the %d vision can plan (lower max_frames or fps)", n, MaxSampledFrames)
	}
	return n, nil
}

// FrameBudget returns the per-frame [min, max] pixels for n sampled frames:
// max(min(cap, total/n·2), int(min·1.05)), then capped by max_pixels
// (qwen-vl-utils fetch_video; cap is the model's per-frame maximum). It
// fails for n < 1 and for a total_pixels budget that is not a finite
// positive number, rather than return NaN bounds.
func (s Spec) FrameBudget(n int, o VideoOptions) (minPx, maxPx float64, err error) {
	if n < 1 {
		return 0, 0, fmt.Errorf("tokens: frame budget for %d frames: need at least 1", n)
	}
	minPx = float64(s.VideoMinPixelsDefault)
	if o.MinPixels != 0 {
		minPx = float64(o.MinPixels)
	}
	total := s.VideoTotalPixelsDefault
	if o.TotalPixels != 0 {
		total = o.TotalPixels
	}
	if !(total > 0) || math.IsInf(total, 0) || !(minPx >= 0) {
		return 0, 0, optErr("total_pixels", "%g must be a finite positive number", total)
	}
	maxPx = math.Max(math.Min(float64(s.VideoMaxPixels), total/float64(n)*FrameFactor), math.Trunc(minPx*1.05))
	supposed := s.VideoMaxPixelsDefault
	if o.MaxPixels != 0 {
		supposed = o.MaxPixels
	}
	if supposed != 0 {
		maxPx = math.Min(float64(supposed), maxPx)
	}
	return minPx, maxPx, nil
}

// PlanVideo plans the frames of a video file as qwen-vl-utils samples it:
// which source frames, how many, at what size, and their tokens.
func PlanVideo(src VideoSource, s Spec, o VideoOptions) (FramePlan, error) {
	if err := s.checkVideoOptions(o); err != nil {
		return FramePlan{}, err
	}
	if src.Width <= 0 || src.Height <= 0 {
		return FramePlan{}, fmt.Errorf("tokens: video size %dx%d: sides must be positive", src.Width, src.Height)
	}
	first, last, count, err := FrameRange(src.Frames, src.FPS, o.Start, o.End)
	if err != nil {
		return FramePlan{}, err
	}
	n, err := s.NFrames(count, src.FPS, o)
	if err != nil {
		return FramePlan{}, err
	}
	sampleFPS := float64(n) / math.Max(float64(count), 1e-6) * src.FPS
	if err := s.checkSampleFPS(o, n, count, src.FPS, sampleFPS); err != nil {
		return FramePlan{}, err
	}
	minPx, maxPx, err := s.FrameBudget(n, o)
	if err != nil {
		return FramePlan{}, err
	}
	h, w, err := SmartResize(src.Height, src.Width, s.Factor, minPx, maxPx)
	if err != nil {
		return FramePlan{}, err
	}
	t, err := planTokens(n, h, w, s.Factor)
	if err != nil {
		return FramePlan{}, err
	}
	return FramePlan{
		SourceFrames: src.Frames, SourceFPS: src.FPS,
		StartFrame: first, EndFrame: last,
		Frames: n, Indices: FrameIndices(first, last, n),
		SampleFPS: sampleFPS,
		MinPixels: minPx, MaxPixels: maxPx,
		Width: src.Width, Height: src.Height, ResizedWidth: w, ResizedHeight: h,
		Tokens: t, InputTokens: t + VisionMarkers,
	}, nil
}

// PlanImageList plans a "video" sent as a list of count images of
// width×height (qwen-vl-utils 0.0.14): each image is smart-resized with the
// element's bounds, the count is padded to even, and the video budget for
// that count is applied to the resized size.
func PlanImageList(width, height, count int, s Spec, o VideoOptions) (FramePlan, error) {
	if err := s.checkVideoOptions(o); err != nil {
		return FramePlan{}, err
	}
	if count <= 0 || count > MaxSampledFrames {
		return FramePlan{}, fmt.Errorf("tokens: an image list of %d images: want 1 to %d", count, MaxSampledFrames)
	}
	n := ceilByFactor(float64(count), FrameFactor)
	lo, hi := float64(s.VideoMinPixelsDefault), float64(s.VideoMaxPixelsDefault)
	if s.Family == FamilyCustom {
		lo, hi = float64(s.ImageMinPixels), float64(s.ImageMaxPixelsDefault)
	}
	if o.MinPixels != 0 {
		lo = float64(o.MinPixels)
	}
	if o.MaxPixels != 0 {
		hi = float64(o.MaxPixels)
	}
	h1, w1, err := SmartResize(height, width, s.Factor, lo, hi)
	if err != nil {
		return FramePlan{}, err
	}
	minPx, maxPx, err := s.FrameBudget(n, o)
	if err != nil {
		return FramePlan{}, err
	}
	h, w, err := SmartResize(h1, w1, s.Factor, minPx, maxPx)
	if err != nil {
		return FramePlan{}, err
	}
	fps := o.FPS
	if fps == 0 {
		fps = s.FPSDefault
	}
	t, err := planTokens(n, h, w, s.Factor)
	if err != nil {
		return FramePlan{}, err
	}
	idx := make([]int, count)
	for i := range idx {
		idx[i] = i
	}
	return FramePlan{
		SourceFrames: count, SourceFPS: fps, EndFrame: count - 1,
		Frames: n, Indices: idx, SampleFPS: fps,
		MinPixels: minPx, MaxPixels: maxPx,
		Width: width, Height: height, ResizedWidth: w, ResizedHeight: h,
		Tokens: t, InputTokens: t + VisionMarkers,
	}, nil
}

// FrameIndices returns round_half_even(linspace(start, end, n)) computed as
// torch computes linspace on the CPU in float32: step and the 8-lane vector
// blocks, each block based on the nearer end point with a fused multiply-add.
// For short videos it equals the float64 result; for ≳10,000 source frames
// float32 rounding moves some indices by one, and this follows torch.
func FrameIndices(start, end, n int) []int {
	if n <= 0 {
		return nil
	}
	if n == 1 {
		return []int{start}
	}
	s32, e32 := float32(start), float32(end)
	step := float32(float32(e32-s32) / float32(n-1))
	half := n / 2
	base := func(i int) float32 {
		if i < half {
			return fma32(step, float32(i), s32)
		}
		return fma32(-step, float32(n-1-i), e32)
	}
	out := make([]int, n)
	blocks := n / 16 * 16
	for i := 0; i < blocks; i += 8 {
		b := base(i)
		for k := 0; k < 8; k++ {
			v := float32(b + float32(float32(k)*step))
			out[i+k] = int(math.RoundToEven(float64(v)))
		}
	}
	for i := blocks; i < n; i++ {
		out[i] = int(math.RoundToEven(float64(base(i))))
	}
	return out
}

// fma32 is a·b+c rounded once to float32.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact: 24+24 significant bits
	sum := new(big.Float).SetPrec(128).SetFloat64(p)
	sum.Add(sum, new(big.Float).SetFloat64(float64(c)))
	f, _ := sum.Float32()
	return f
}
