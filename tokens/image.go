package tokens

import (
	"errors"
	"fmt"
)

// VisionMarkers is the number of tokens each image or video adds around its
// visual tokens (<vision_bos>, <vision_eos>); the API counts them in
// input_tokens but not in image_tokens/video_tokens (qwen-vl-math.md §2).
const VisionMarkers = 2

// OptionError is a setting outside what the model accepts (a usage error).
// Option names the API parameter (or parameters, "a/b"), Msg says what is
// wrong and Fix, when one is known, what to change; both name settings by
// their API parameter names (min_pixels, nframes), which a CLI can map to
// its own flags.
type OptionError struct {
	Option string
	Msg    string
	Fix    string
}

func (e *OptionError) Error() string {
	if e.Fix != "" {
		return fmt.Sprintf("tokens: %s: %s; %s", e.Option, e.Msg, e.Fix)
	}
	return fmt.Sprintf("tokens: %s: %s", e.Option, e.Msg)
}

func optErr(option, format string, args ...any) error {
	return &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
}

// withFix adds what would fix it to an [*OptionError] made by optErr.
func withFix(err error, format string, args ...any) error {
	if oe, ok := err.(*OptionError); ok {
		oe.Fix = fmt.Sprintf(format, args...)
	}
	return err
}

// ImageOptions are the request settings that change an image's size.
// Zero values mean the model's default.
type ImageOptions struct {
	MinPixels int  // min_pixels
	MaxPixels int  // max_pixels; ignored with HighRes
	HighRes   bool // vl_high_resolution_images
}

// ImageBounds returns the [min, max] pixel bounds smart_resize uses for an
// image on this model, or an [*OptionError] for a setting the API refuses.
func (s Spec) ImageBounds(o ImageOptions) (minPx, maxPx float64, err error) {
	custom := s.Family == FamilyCustom
	if o.MinPixels < 0 || o.MaxPixels < 0 {
		return 0, 0, optErr("min_pixels/max_pixels", "must not be negative")
	}
	if o.MinPixels > MaxPixelBound || o.MaxPixels > MaxPixelBound {
		return 0, 0, optErr("min_pixels/max_pixels", "must be at most 2^53")
	}
	if o.MinPixels != 0 && !custom && o.MinPixels < s.ImageMinPixels {
		return 0, 0, withFix(optErr("min_pixels", "%d is below this model's minimum %d", o.MinPixels, s.ImageMinPixels), "give min_pixels of at least %d, or leave it out for the default", s.ImageMinPixels)
	}
	minLimit := s.ImageMinPixels
	if custom {
		minLimit = 0
	}
	lo := userOr(o.MinPixels, s.ImageMinPixels, "the default image min_pixels", minLimit)
	hi := userOr(o.MaxPixels, s.ImageMaxPixelsDefault, "the default image max_pixels", s.ImageMaxPixels)
	switch {
	case o.HighRes:
		hi = bound{v: s.HighResMaxPixels, def: "the vl_high_resolution_images cap", limit: s.HighResMaxPixels}
	case o.MaxPixels != 0:
		if !custom && s.ImageMaxPixels > 0 && o.MaxPixels > s.ImageMaxPixels {
			return 0, 0, withFix(optErr("max_pixels", "%d is above this model's maximum %d", o.MaxPixels, s.ImageMaxPixels), "give max_pixels of at most %d", s.ImageMaxPixels)
		}
	}
	if lo.v > hi.v {
		return 0, 0, boundsClash(lo, hi)
	}
	return float64(lo.v), float64(hi.v), nil
}

// ImagePlan is the size an image will be seen at and what it costs in tokens.
type ImagePlan struct {
	Width         int `json:"width"`
	Height        int `json:"height"`
	ResizedWidth  int `json:"resized_width"`
	ResizedHeight int `json:"resized_height"`
	Tokens        int `json:"tokens"`       // what the API reports as image_tokens
	InputTokens   int `json:"input_tokens"` // Tokens plus the vision markers
}

// PlanImage resizes an upright width×height image as the model will and
// counts its tokens. When the resized size breaks the ratio limit
// ([ErrAspectRatio] after resizing) the plan still carries the size and the
// resized size (so the error can name it) with zero tokens, since the image
// cannot be sent; on any other error the plan is empty.
func PlanImage(width, height int, s Spec, o ImageOptions) (ImagePlan, error) {
	lo, hi, err := s.ImageBounds(o)
	if err != nil {
		return ImagePlan{}, err
	}
	h, w, err := SmartResize(height, width, s.Factor, lo, hi)
	if err != nil {
		if errors.Is(err, ErrAspectRatio) && h > 0 && w > 0 {
			return ImagePlan{Width: width, Height: height, ResizedWidth: w, ResizedHeight: h}, err
		}
		return ImagePlan{}, err
	}
	t := ImageTokens(h, w, s.Factor)
	return ImagePlan{Width: width, Height: height, ResizedWidth: w, ResizedHeight: h,
		Tokens: t, InputTokens: t + VisionMarkers}, nil
}

// ImageTokens is (h/f)·(w/f), the visual tokens of an image already resized
// to multiples of f.
func ImageTokens(h, w, f int) int { return (h / f) * (w / f) }
