package media

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/qwen-vision/vision/tokens"
)

// Transport is how an image reaches the API; each has its own size and
// count limits (seed 001 lines 2240–2251).
type Transport string

// The transports.
const (
	TransportBase64 Transport = "base64" // a data URL in the request body
	TransportPath   Transport = "path"   // a local path (DashScope SDK upload)
	TransportURL    Transport = "url"    // a public or oss:// URL
)

// Resolution thresholds of the API's image rules (seed 001 lines 2212–2234).
const (
	minSide           = 10 // both sides must be greater
	res4KLong         = 3840
	res4KShort        = 2160
	res8KLong         = 7680
	res8KShort        = 4320
	formatsBelow4K    = "BMP, JPEG, PNG, TIFF, WEBP, HEIC" // seed 001 lines 2214–2233
	formatsAbove4K    = "JPEG, PNG"
	fixReencodeToJPEG = "none needed: vision decodes it and sends a JPEG re-encode"
)

// over reports whether w×h exceeds long×short in either orientation.
func over(w, h, long, short int) bool { return max(w, h) > long || min(w, h) > short }

// formatOK4K is the set the API accepts below 4K; formatOK8K between 4K and 8K.
var (
	formatOK4K = map[string]bool{"bmp": true, "jpeg": true, "png": true, "tiff": true, "webp": true, "heic": true}
	formatOK8K = map[string]bool{"jpeg": true, "png": true}
)

// ValidateImage is ValidateImageLimit with the default decode limit.
func ValidateImage(info Info, spec tokens.Spec, opts tokens.ImageOptions, t Transport) []Problem {
	return ValidateImageLimit(info, spec, opts, t, 0)
}

// ValidateImageLimit checks a probed image against the API's documented
// limits for the model described by spec, the request options and the
// transport, and against vision's decode limit maxDecodePixels (coded width
// × height; 0: DefaultMaxPixels). Problems vision fixes itself when it
// prepares the image (over 8K, a format the API refuses, a file too large as
// it stands) are warnings; those it cannot fix are errors. The sizes checked
// are the original file's; ValidatePrepared checks the bytes actually sent.
func ValidateImageLimit(info Info, spec tokens.Spec, opts tokens.ImageOptions, t Transport, maxDecodePixels int) []Problem {
	if info.Kind != KindImage || info.Width <= 0 || info.Height <= 0 {
		return nil // not an image, or the probe failed (its error says why)
	}
	var ps []Problem
	add := func(code string, sev Severity, fix, format string, args ...any) {
		ps = append(ps, Problem{Code: code, Severity: sev, Path: info.Path, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	w, h := info.Width, info.Height
	size := fmt.Sprintf("%dx%d", w, h)

	limit := maxPixelsOr(maxDecodePixels)
	decodable := true
	if px := int64(info.CodedWidth) * int64(info.CodedHeight); px > int64(limit) {
		decodable = false
		add("image.decode_limit", SeverityError,
			fmt.Sprintf("if it really is an image this large, raise the limit with --max-decode-pixels %d (decoding needs about %s of memory), or downscale it with another tool first", px, fmtBytes(4*px)),
			"header claims %s = %d pixels, over vision's decode limit of %d (a possible decompression bomb)", size, px, limit)
	}
	if min(w, h) <= minSide {
		add("image.too_small", SeverityError, "pad or upscale the image so both sides are at least 11 px",
			"is %s; the API needs both sides greater than %d px", size, minSide)
	}
	plan, planErr := tokens.ImagePlan{}, error(nil)
	if ratio := float64(max(w, h)) / float64(max(min(w, h), 1)); ratio > tokens.MaxRatio {
		add("image.aspect_ratio", SeverityError, "crop or pad it to at most 200:1, or cut a long strip into pieces",
			"is %s, aspect ratio %s:1; the API accepts at most %d:1", size, tokens.RatioText(ratio), tokens.MaxRatio)
	} else if w > 0 && h > 0 {
		plan, planErr = tokens.PlanImage(w, h, spec, opts)
		var oe *tokens.OptionError
		switch {
		case planErr == nil:
		case errors.Is(planErr, tokens.ErrAspectRatio):
			add("image.aspect_ratio_resized", SeverityError, "pad the short side (or crop the long one) so the ratio stays within 200:1 after rounding to the factor",
				"is %s and smart_resize makes it %dx%d, over %d:1 (the API checks the resized ratio too)", size, plan.ResizedWidth, plan.ResizedHeight, tokens.MaxRatio)
		case errors.Is(planErr, tokens.ErrZeroSide):
			add("image.resize_zero_side", SeverityError, "raise max_pixels (--max-pixels) or pad the short side",
				"is %s and smart_resize within these pixel bounds gives a side of 0 px: %v", size, planErr)
		case errors.As(planErr, &oe):
			add("image.options", SeverityError, "change --min-pixels/--max-pixels", "cannot be planned: %v", planErr)
		default:
			add("image.plan", SeverityError, "check the image size", "cannot be planned: %v", planErr)
		}
	}
	sent := "the resized image"
	if planErr == nil && plan.ResizedWidth > 0 {
		sent = fmt.Sprintf("a %dx%d resize", plan.ResizedWidth, plan.ResizedHeight)
	}
	if over(w, h, res8KLong, res8KShort) {
		fix := "none needed: vision sends " + sent + ", never the original"
		if !decodable {
			fix = "raise the decode limit (see image.decode_limit) so vision can send " + sent + " instead"
		}
		add("image.over_8k", SeverityWarning, fix,
			"is %s, above 8K (%dx%d), where the API may time out", size, res8KLong, res8KShort)
	}
	ps = append(ps, formatProblems(info, spec, t)...)
	if info.Mislabelled {
		add("image.mislabelled", SeverityWarning, fmt.Sprintf("rename it with a .%s extension; vision sends the right MIME type (%s) regardless", extFor(info.Format), info.MIME),
			"has the extension %s but holds %s", extOf(info.Path), strings.ToUpper(info.Format))
	}
	if info.Animated && info.Format != "webp" { // animated WEBP: formatProblems
		add("image.animated", SeverityWarning, "extract frames and send them as a video (`vision frames`) if the motion matters",
			"is animated; only the first frame is sent")
	}
	if decodable && Decodable(info) {
		ps = append(ps, sizeProblems(info.Path, info.Bytes, info.MIME, spec, t, SeverityWarning,
			"none needed: vision sends "+sent+" re-encoded, lowering JPEG quality to fit if it must")...)
	}
	return ps
}

// formatProblems checks the format against the API's lists and what vision
// can decode. A file vision cannot decode is sent as it is when the API
// accepts it (OriginalFallback), with a warning; otherwise it is an error.
func formatProblems(info Info, spec tokens.Spec, t Transport) []Problem {
	name := strings.ToUpper(info.Format)
	size := fmt.Sprintf("%dx%d", info.Width, info.Height)
	p := func(code string, sev Severity, fix, format string, args ...any) []Problem {
		return []Problem{{Code: code, Severity: sev, Path: info.Path, Message: fmt.Sprintf(format, args...), Fix: fix}}
	}
	if !Decodable(info) {
		why, convert := undecodable(info)
		if ok, notWhy := OriginalFallback(info, spec, t); ok {
			return p("image.sent_original", SeverityWarning, "none needed: the API reads it as it is and resizes it the same way, so the estimate holds; to control the result, "+convert,
				"is %s, which vision cannot decode (%s): the original file is sent unresized", name, why)
		} else {
			return p("image.decode_unsupported", SeverityError, convert,
				"is %s %s, which vision cannot decode (%s), and the original cannot be sent: %s", name, size, why, notWhy)
		}
	}
	switch {
	case !formatOK4K[info.Format]:
		return p("image.format_unsupported", SeverityWarning, fixReencodeToJPEG+firstFrame(info),
			"is %s, not among the API's formats (%s)", name, formatsBelow4K)
	case over(info.Width, info.Height, res4KLong, res4KShort) && !formatOK8K[info.Format]:
		return p("image.format_4k", SeverityWarning, fixReencodeToJPEG,
			"is %s %s; between 4K (%dx%d) and 8K the API accepts only %s", name, size, res4KLong, res4KShort, formatsAbove4K)
	}
	return nil
}

func firstFrame(info Info) string {
	if info.Format == "gif" {
		return " (first frame)"
	}
	return ""
}

// Decodable reports whether vision can decode the probed image to resize
// it: every format image.Decode reads (not CMYK or JPEG-compressed TIFF),
// RLE BMP, HEIC and AVIF when ffmpeg is
// installed (heif_decode.go), and not animated WEBP (x/image/webp reads only
// still images and ffmpeg 5.1 has no animated WEBP decoder).
func Decodable(info Info) bool {
	switch info.Format {
	case "webp":
		return !info.Animated
	case "tiff":
		return info.goUnsupported == ""
	case "heic", "avif":
		_, err := lookTool("ffmpeg")
		return err == nil
	case "bmp":
		if info.ffmpegDecode {
			_, err := lookTool("ffmpeg")
			return err == nil
		}
	}
	return true
}

// undecodable says why vision cannot decode info and how to convert it.
func undecodable(info Info) (why, convert string) {
	switch info.Format {
	case "webp":
		return "an animated WEBP: neither Go's decoder nor ffmpeg 5.1 reads animated WEBP",
			"extract a frame first, e.g. `webpmux -get frame 1 IN.webp -o OUT.webp` (Debian webp) or `convert 'IN.webp[0]' OUT.png`"
	case "tiff":
		return "a TIFF that Go's decoder does not read (" + info.goUnsupported + ") and ffmpeg 5.1 decodes wrongly",
			"convert it first, e.g. `convert IN.tif OUT.png` (Debian imagemagick) or `tiffcp -c none -p contig IN.tif OUT.tif` for JPEG compression"
	case "bmp":
		return "an RLE-compressed BMP, which vision decodes with ffmpeg, and ffmpeg is not installed",
			"install ffmpeg (" + ToolInstallHint + "), or convert it first, e.g. `convert IN.bmp OUT.png` (Debian imagemagick)"
	case "heic", "avif":
		return "ffmpeg, which decodes its " + map[string]string{"heic": "HEVC", "avif": "AV1"}[info.Format] + " data, is not installed",
			"install ffmpeg (" + ToolInstallHint + "), or convert it first, e.g. `heif-convert IN OUT.jpg` (Debian libheif-examples)"
	}
	return "no decoder", "convert it to JPEG or PNG first"
}

// OriginalFallback reports whether an image vision cannot decode may be
// sent as its original bytes: the API accepts its format at its size (seed
// 001 lines 2212–2234: BMP, JPEG, PNG, TIFF, WEBP, HEIC below 4K; JPEG, PNG
// up to 8K) and the file fits the transport's size limit. The server then
// applies the same smart_resize, so the token estimate holds. If not, it
// says why.
func OriginalFallback(info Info, spec tokens.Spec, t Transport) (bool, string) {
	if ok, why := originalAccepted(info); !ok {
		return false, why
	}
	if ps := sizeProblems(info.Path, info.Bytes, info.MIME, spec, t, SeverityError, ""); len(ps) > 0 {
		return false, "it " + ps[0].Message
	}
	return true, ""
}

// originalAccepted reports whether the API accepts the file's format at its
// resolution, and if not, why.
func originalAccepted(info Info) (bool, string) {
	switch {
	case !formatOK4K[info.Format]:
		return false, fmt.Sprintf("the API does not accept %s", strings.ToUpper(info.Format))
	case over(info.Width, info.Height, res8KLong, res8KShort):
		return false, fmt.Sprintf("it is above 8K (%dx%d)", res8KLong, res8KShort)
	case over(info.Width, info.Height, res4KLong, res4KShort) && !formatOK8K[info.Format]:
		return false, fmt.Sprintf("above 4K (%dx%d) the API accepts only %s", res4KLong, res4KShort, formatsAbove4K)
	}
	return true, ""
}

// ValidatePrepared checks the bytes vision will send for an image against
// the transport's size limit; a problem here is an error.
func ValidatePrepared(path string, p Prepared, spec tokens.Spec, t Transport) []Problem {
	return sizeProblems(path, int64(len(p.Data)), p.MIME, spec, t, SeverityError,
		"lower --quality or max_pixels, or use another transport (uploads allow larger files)")
}

// sizeProblems compares n bytes of mime with the transport's limit.
func sizeProblems(path string, n int64, mime string, spec tokens.Spec, t Transport, sev Severity, fix string) []Problem {
	var code, what string
	var got, limit int64
	switch t {
	case TransportBase64:
		code, what, limit = "image.too_large_base64", "base64 data URL", spec.ImageBase64MaxBytes
		got = Base64Len(int(n), mime)
	case TransportPath:
		code, what, limit, got = "image.too_large_path", "local file", spec.ImagePathMaxBytes, n
	case TransportURL:
		code, what, limit, got = "image.too_large_url", "file by URL", spec.ImageURLMaxBytes, n
	default:
		return nil
	}
	if limit <= 0 || got <= limit {
		return nil
	}
	return []Problem{{Code: code, Severity: sev, Path: path, Fix: fix,
		Message: fmt.Sprintf("is %s as a %s, over the API's limit of %s", fmtBytesExact(got), what, fmtBytesExact(limit))}}
}

// CountProblems checks the number of images in one request against the
// transport's limit (250 as base64; 256, or 2048 for Qwen3.7, by URL/path;
// seed 001 lines 2245–2249). The problem's code is image.too_many; its Path
// is empty (it is about the request, not a file).
func CountProblems(n int, spec tokens.Spec, t Transport) []Problem {
	limit, how := spec.ImagesPerRequestURL, "by URL or path"
	if t == TransportBase64 {
		limit, how = spec.ImagesPerRequestBase64, "as base64"
	}
	if limit <= 0 || n <= limit {
		return nil
	}
	return []Problem{{Code: "image.too_many", Severity: SeverityError,
		Message: fmt.Sprintf("%d images in one request; the API accepts at most %d %s", n, limit, how),
		Fix:     fmt.Sprintf("split them into requests of at most %d images", limit)}}
}

// fmtBytes prints a size in decimal megabytes, as the API documents them.
func fmtBytes(n int64) string {
	if n >= tokens.MB {
		return fmt.Sprintf("%.2f MB", float64(n)/tokens.MB)
	}
	return fmt.Sprintf("%d bytes", n)
}

// fmtBytesExact prints a size in bytes, with decimal megabytes beside it
// from 1 MB on, so sizes either side of a limit never print alike.
func fmtBytesExact(n int64) string {
	if n >= tokens.MB {
		return fmt.Sprintf("%d bytes (%s)", n, fmtBytes(n))
	}
	return fmt.Sprintf("%d bytes", n)
}

// extFor is the usual extension of a format.
func extFor(format string) string {
	switch format {
	case "jpeg":
		return "jpg"
	case "tiff":
		return "tif"
	}
	return format
}

func extOf(path string) string { return strings.ToLower(filepath.Ext(path)) }
