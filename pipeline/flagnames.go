package pipeline

import "regexp"

// flagOfParam maps the API parameter names package tokens uses in its
// errors to the vision flags that set them.
var flagOfParam = map[string]string{
	"min_pixels": "--min-pixels", "max_pixels": "--max-pixels", "total_pixels": "--total-pixels",
	"fps": "--fps", "nframes": "--nframes", "min_frames": "--min-frames", "max_frames": "--max-frames",
	"video_start": "--start", "video_end": "--end", "vl_high_resolution_images": "--high-res",
}

var apiName = regexp.MustCompile(`\b(min_pixels|max_pixels|total_pixels|fps|nframes|min_frames|max_frames|video_start|video_end|vl_high_resolution_images)\b`)

// FlagNames rewrites API parameter names in s (a tokens.OptionError's
// option, message or fix) as the flags that set them: "give nframes
// between 2 and 40" becomes "give --nframes between 2 and 40".
func FlagNames(s string) string {
	return apiName.ReplaceAllStringFunc(s, func(m string) string { return flagOfParam[m] })
}
