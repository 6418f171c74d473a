package tokens

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// MaxRatio is the largest accepted ratio of the long side to the short side,
// before and after resizing (qwen-vl-utils MAX_RATIO; seed 001 line 2210).
const MaxRatio = 200

// ErrAspectRatio reports a size whose long side exceeds MaxRatio times its
// short side, before or after resizing.
var ErrAspectRatio = errors.New("tokens: aspect ratio over 200:1")

// ErrZeroSide reports a resize that would give a side of 0 px: qwen-vl-utils
// returns such a size for tiny max_pixels, the API would reject it.
var ErrZeroSide = errors.New("tokens: resized side would be 0 px")

// ErrBounds reports pixel bounds smart_resize cannot use: min_pixels greater
// than max_pixels, or a bound that is not a number in [0, MaxPixelBound]
// (NaN, ±Inf, negative).
var ErrBounds = errors.New("tokens: invalid pixel bounds")

// ErrSize reports a size or factor SmartResize does not take: a side that is
// not in [1, MaxSide] or a factor not in [1, MaxFactor].
var ErrSize = errors.New("tokens: size out of range")

// MaxSide is the longest side accepted, 2^31 px: far above any real image
// (PNG's own limit is 2^31−1), and low enough that every side, rounded side
// and product of sides stays exact in float64 and far inside int range.
const MaxSide = 1 << 31

// MaxFactor is the largest resize factor accepted (Qwen-VL uses 28 and 32).
// With it, 16384·factor² (qwen-vl-utils' image max_pixels) is 2^34 at most.
const MaxFactor = 1024

// MaxPixelBound is the largest min_pixels or max_pixels accepted: 2^53, the
// largest integer a float64 holds exactly. It is far above every model's cap
// and keeps resized sides well inside int range.
const MaxPixelBound = 1 << 53

// checkBounds rejects bounds smart_resize cannot use.
func checkBounds(minPixels, maxPixels float64) error {
	for _, b := range []struct {
		name string
		v    float64
	}{{"min_pixels", minPixels}, {"max_pixels", maxPixels}} {
		if !(b.v >= 0 && b.v <= MaxPixelBound) { // NaN fails both comparisons
			return fmt.Errorf("%w: %s %g must be a number in [0, 2^53]", ErrBounds, b.name, b.v)
		}
	}
	if maxPixels < minPixels {
		return fmt.Errorf("%w: min_pixels %.0f is greater than max_pixels %.0f", ErrBounds, minPixels, maxPixels)
	}
	return nil
}

// roundHalfEven is Python 3's round(): exact halves go to the even neighbour.
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

func roundByFactor(n float64, f int) int { return int(roundHalfEven(n/float64(f))) * f }
func floorByFactor(n float64, f int) int { return int(math.Floor(n/float64(f))) * f }
func ceilByFactor(n float64, f int) int  { return int(math.Ceil(n/float64(f))) * f }

// SmartResize returns the size qwen-vl-utils' smart_resize gives an image of
// height×width: both sides multiples of factor, the area within
// [minPixels, maxPixels], the aspect ratio kept as closely as possible.
//
// It mirrors the Python float order exactly: round half to even, the factor
// floor, beta from the original size and two successive divisions. Unlike the
// Python code it also rejects results the API would reject: a side of 0 px
// ([ErrZeroSide]) or a resized ratio over 200:1 ([ErrAspectRatio]), and
// bounds that are not finite, non-negative and ordered ([ErrBounds]), and
// sides or factors out of range ([ErrSize]: sides 1 to [MaxSide], factor 1 to
// [MaxFactor]), for which the arithmetic would overflow.
func SmartResize(height, width, factor int, minPixels, maxPixels float64) (h, w int, err error) {
	if height <= 0 || width <= 0 || height > MaxSide || width > MaxSide {
		return 0, 0, fmt.Errorf("%w: %dx%d: sides must be 1 to %d px", ErrSize, width, height, MaxSide)
	}
	if factor <= 0 || factor > MaxFactor {
		return 0, 0, fmt.Errorf("%w: factor %d must be 1 to %d", ErrSize, factor, MaxFactor)
	}
	if err := checkBounds(minPixels, maxPixels); err != nil {
		return 0, 0, err
	}
	hf, wf := float64(height), float64(width)
	if ratio := math.Max(hf, wf) / math.Min(hf, wf); ratio > MaxRatio {
		return 0, 0, fmt.Errorf("%w: %dx%d has ratio %s:1", ErrAspectRatio, width, height, RatioText(ratio))
	}
	h = max(factor, roundByFactor(hf, factor))
	w = max(factor, roundByFactor(wf, factor))
	if float64(h)*float64(w) > maxPixels {
		beta := math.Sqrt((hf * wf) / maxPixels)
		h = floorByFactor(hf/beta, factor)
		w = floorByFactor(wf/beta, factor)
	} else if float64(h)*float64(w) < minPixels {
		beta := math.Sqrt(minPixels / (hf * wf))
		h = ceilByFactor(hf*beta, factor)
		w = ceilByFactor(wf*beta, factor)
	}
	if h == 0 || w == 0 {
		return h, w, fmt.Errorf("%w: %dx%d within [%.0f, %.0f] pixels gives %dx%d", ErrZeroSide, width, height, minPixels, maxPixels, w, h)
	}
	if ratio := float64(max(h, w)) / float64(min(h, w)); ratio > MaxRatio {
		return h, w, fmt.Errorf("%w after resizing: %dx%d becomes %dx%d (ratio %s:1)", ErrAspectRatio, width, height, w, h, RatioText(ratio))
	}
	return h, w, nil
}

// RatioText prints an aspect ratio for a message: one decimal, never an
// exponent (50000, not 5e+04; 200.1).
func RatioText(r float64) string {
	return strconv.FormatFloat(math.Round(r*10)/10, 'f', -1, 64)
}
