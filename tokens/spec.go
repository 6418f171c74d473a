package tokens

import "fmt"

// Family groups models that share every number in a [Spec]. The names follow
// the groups of the DashScope API reference (seed 000 lines 1306–1402).
type Family string

// The known families. FamilyCustom is a self-hosted deployment described only
// by its factor (qwen-vl-utils' library defaults, no DashScope caps).
const (
	FamilyQwen37        Family = "qwen3.7"          // qwen3.7 series (assumed to follow qwen3.5)
	FamilyQwen36        Family = "qwen3.6"          // qwen3.6 series (assumed to follow qwen3.5)
	FamilyQwen35        Family = "qwen3.5"          // qwen3.5 series
	FamilyQwen3VLPlus   Family = "qwen3-vl-plus"    // qwen3-vl-plus/-flash series, qwen3-vl-235b-a22b-*
	FamilyQwen3VLOpen   Family = "qwen3-vl-open"    // other open-source Qwen3-VL sizes
	FamilyQwenVLMaxPlus Family = "qwen-vl-max-plus" // qwen-vl-max/-plus, -latest, -0813/-0815
	FamilyQwen25VL      Family = "qwen2.5-vl"       // older qwen-vl-max/-plus snapshots, Qwen2.5-VL, QVQ
	FamilyQwen2VL       Family = "qwen2-vl"         // Qwen2-VL open source ("other models" in seed 001)
	FamilyCustom        Family = "custom"           // --factor: qwen-vl-utils defaults only
)

// Families lists the DashScope families in registry order (FamilyCustom excluded).
var Families = []Family{
	FamilyQwen37, FamilyQwen36, FamilyQwen35, FamilyQwen3VLPlus, FamilyQwen3VLOpen,
	FamilyQwenVLMaxPlus, FamilyQwen25VL, FamilyQwen2VL,
}

// Spec is every number the tool needs for one model: the resize factor, pixel
// bounds for images and video frames, frame and duration limits, and the size
// and count limits per transport. Sizes are in bytes, durations in seconds.
// Sources maps each JSON field name to where its value comes from: a seed
// file and line ("seed 000 line 1330") or "assumed: <why>".
type Spec struct {
	Family Family `json:"family"`
	Factor int    `json:"factor"`

	ImageMinPixels        int `json:"image_min_pixels"`         // default and minimum
	ImageMaxPixelsDefault int `json:"image_max_pixels_default"` // max_pixels when none is given
	ImageMaxPixels        int `json:"image_max_pixels"`         // largest max_pixels accepted
	HighResMaxPixels      int `json:"high_res_max_pixels"`      // fixed cap with vl_high_resolution_images

	VideoMinPixelsDefault   int     `json:"video_min_pixels_default"`
	VideoMinPixels          int     `json:"video_min_pixels"` // smallest min_pixels accepted
	VideoMaxPixelsDefault   int     `json:"video_max_pixels_default"`
	VideoMaxPixels          int     `json:"video_max_pixels"` // per-frame cap (qwen-vl-utils VIDEO_MAX_PIXELS)
	VideoTotalPixelsDefault float64 `json:"video_total_pixels_default"`
	VideoTotalPixelsMin     float64 `json:"video_total_pixels_min"`

	MaxFrames  int     `json:"max_frames"` // default and maximum of max_frames
	MinFrames  int     `json:"min_frames"` // qwen-vl-utils FPS_MIN_FRAMES
	FPSMin     float64 `json:"fps_min"`
	FPSMax     float64 `json:"fps_max"`
	FPSDefault float64 `json:"fps_default"`

	ImageListMin    int     `json:"image_list_min"` // frames in a "video" given as images
	ImageListMax    int     `json:"image_list_max"`
	VideoMinSeconds float64 `json:"video_min_seconds"`
	VideoMaxSeconds float64 `json:"video_max_seconds"`

	ImageURLMaxBytes       int64 `json:"image_url_max_bytes"`
	ImagePathMaxBytes      int64 `json:"image_path_max_bytes"`
	ImageBase64MaxBytes    int64 `json:"image_base64_max_bytes"` // length of the encoded string
	ImagesPerRequestURL    int   `json:"images_per_request_url"`
	ImagesPerRequestBase64 int   `json:"images_per_request_base64"`
	VideoURLMaxBytes       int64 `json:"video_url_max_bytes"`
	VideoPathMaxBytes      int64 `json:"video_path_max_bytes"`
	VideoBase64MaxBytes    int64 `json:"video_base64_max_bytes"` // encoded string must be below this
	VideosPerRequest       int   `json:"videos_per_request"`

	// Rate limits per account and model (not in the seeds: the Model Studio
	// rate-limit page, reference/dashscope-notes.md §3 and §5).
	RPM int `json:"rpm"` // requests per minute
	TPM int `json:"tpm"` // tokens per minute

	Sources map[string]string `json:"sources"`
}

// Size units. The seeds write "MB" and "GB"; we read them as powers of ten,
// the stricter reading, so a file we accept is never rejected as too large.
const (
	MB = 1000 * 1000
	GB = 1000 * MB
)

const (
	srcAPI = "seed 000 line %d"
	srcVIS = "seed 001 line %d"
	srcZH  = "seed 002 line %d"
)

func api(line int) string { return fmt.Sprintf(srcAPI, line) }
func vis(line int) string { return fmt.Sprintf(srcVIS, line) }

// commonLimits fills the limits that seed 001 states for all models.
func commonLimits(s *Spec) {
	set := func(field, src string) { s.Sources[field] = src }
	s.FPSMin, s.FPSMax, s.FPSDefault = 0.1, 10, 2.0
	set("fps_min", api(1285))
	set("fps_max", api(1285))
	set("fps_default", api(1285))
	s.MinFrames = 4
	set("min_frames", "qwen-vl-utils FPS_MIN_FRAMES; seed 001 line 2254 (lists of at least 4 images)")
	s.ImageListMin = 4
	set("image_list_min", vis(2254))
	s.ImageURLMaxBytes = 10 * MB
	set("image_url_max_bytes", vis(2242))
	s.ImagePathMaxBytes = 10 * MB
	set("image_path_max_bytes", vis(2243))
	s.ImageBase64MaxBytes = 10 * MB
	set("image_base64_max_bytes", vis(2244))
	s.ImagesPerRequestURL = 256
	set("images_per_request_url", vis(2249))
	s.ImagesPerRequestBase64 = 250
	set("images_per_request_base64", vis(2250))
	s.VideoPathMaxBytes = 100 * MB
	set("video_path_max_bytes", "seed 001 line 2261")
	s.VideoBase64MaxBytes = 10 * MB
	set("video_base64_max_bytes", vis(2260))
	s.VideosPerRequest = 64
	set("videos_per_request", "seed 001 line 2268")
	s.VideoMinSeconds = 2
	set("video_min_seconds", vis(2264))
	s.RPM, s.TPM = 1200, 1_000_000
	set("rpm", rateSource)
	set("tpm", rateSource)
}

// rateSource cites the rate limits, which the seeds do not give.
const rateSource = "assumed: Model Studio rate-limit page and Bailian console data (dashscope-notes.md §3): 1,200 RPM and 1,000,000 TPM for qwen3-vl-plus/-flash and qwen-vl-max/-plus"

// factor32 fills the pixel numbers shared by the 32-px families A, B and C.
func factor32(s *Spec) {
	s.Factor = 32
	s.Sources["factor"] = api(1639) + " (each token 32×32 pixels)"
	s.ImageMaxPixels = 16777216
	s.HighResMaxPixels = 16777216
	s.Sources["high_res_max_pixels"] = api(1639)
	s.VideoMinPixelsDefault, s.VideoMinPixels = 65536, 4096
	s.Sources["video_min_pixels_default"] = api(1338)
	s.Sources["video_min_pixels"] = api(1338)
}

func newSpec(f Family) Spec { return Spec{Family: f, Sources: map[string]string{}} }

// specA is qwen3.5, qwen3-vl-plus/-flash and qwen3-vl-235b-a22b-*.
func specA(f Family) Spec {
	s := newSpec(f)
	commonLimits(&s)
	factor32(&s)
	s.ImageMinPixels = 65536
	s.Sources["image_min_pixels"] = api(1330)
	s.ImageMaxPixelsDefault = 2621440
	s.Sources["image_max_pixels_default"] = api(1362)
	s.Sources["image_max_pixels"] = api(1362)
	s.VideoMaxPixelsDefault, s.VideoMaxPixels = 655360, 2048000
	s.Sources["video_max_pixels_default"] = api(1376)
	s.Sources["video_max_pixels"] = api(1376)
	s.VideoTotalPixelsDefault, s.VideoTotalPixelsMin = 134217728, 134217728
	s.Sources["video_total_pixels_default"] = api(1398)
	s.Sources["video_total_pixels_min"] = api(1398)
	s.MaxFrames = 2000
	s.Sources["max_frames"] = api(1312)
	s.ImageListMax = 2000
	s.Sources["image_list_max"] = vis(2254)
	s.VideoMaxSeconds = 3600
	s.Sources["video_max_seconds"] = vis(2264)
	s.VideoURLMaxBytes = 2 * GB
	s.Sources["video_url_max_bytes"] = vis(2259)
	return s
}

// specQwen35Plus is the qwen3.5/3.6/3.7 series: family A's pixels with longer
// lists, longer videos and larger URL images (seed 001).
func specQwen35Plus(f Family) Spec {
	s := specA(f)
	s.ImageListMax = 8000
	s.VideoMaxSeconds = 7200
	s.Sources["video_max_seconds"] = vis(2264)
	s.ImageURLMaxBytes = 20 * MB
	s.Sources["image_url_max_bytes"] = vis(2242)
	switch f {
	case FamilyQwen36, FamilyQwen37:
		const why = "assumed: the seeds' pixel tables (seed 000 lines 1306–1402) name qwen3.5 but not qwen3.6/3.7; they are the same generation with 32×32 token pixels"
		for _, k := range []string{"factor", "image_min_pixels", "image_max_pixels_default", "image_max_pixels",
			"high_res_max_pixels", "video_min_pixels_default", "video_min_pixels", "video_max_pixels_default",
			"video_max_pixels", "video_total_pixels_default", "video_total_pixels_min", "max_frames"} {
			s.Sources[k] = why
		}
	}
	if f == FamilyQwen37 {
		s.Sources["image_list_max"] = "assumed: seed 001 line 2254 names qwen3.6 and qwen3.5 (8,000); qwen3.7 taken as the same"
		s.Sources["video_max_seconds"] = "assumed: seed 001 line 2264 names qwen3.6 and qwen3.5 (2 h); qwen3.7 taken as the same"
		s.Sources["video_url_max_bytes"] = "assumed: seed 001 line 2259 names qwen3.6/qwen3.5 (2 GB); qwen3.7 taken as the same"
		s.ImagesPerRequestURL = 2048
		s.Sources["images_per_request_url"] = vis(2248)
	} else {
		s.Sources["image_list_max"] = vis(2254)
	}
	return s
}

// specB is the other open-source Qwen3-VL sizes.
func specB() Spec {
	s := newSpec(FamilyQwen3VLOpen)
	commonLimits(&s)
	factor32(&s)
	s.ImageMinPixels = 65536
	s.Sources["image_min_pixels"] = api(1330)
	s.ImageMaxPixelsDefault = 2621440
	s.Sources["image_max_pixels_default"] = api(1362)
	s.Sources["image_max_pixels"] = api(1362)
	s.VideoMaxPixelsDefault, s.VideoMaxPixels = 655360, 786432
	s.Sources["video_max_pixels_default"] = api(1378)
	s.Sources["video_max_pixels"] = api(1378)
	s.VideoTotalPixelsDefault, s.VideoTotalPixelsMin = 67108864, 67108864
	s.Sources["video_total_pixels_default"] = api(1400)
	s.Sources["video_total_pixels_min"] = api(1400)
	s.MaxFrames = 512
	s.Sources["max_frames"] = "assumed: seed 000 line 1306 gives no max_frames for other Qwen3-VL open-source models; their image-list limit is 512 (seed 001 line 2255)"
	s.ImageListMax = 512
	s.Sources["image_list_max"] = vis(2255)
	s.VideoMaxSeconds = 1200
	s.Sources["video_max_seconds"] = vis(2265)
	s.VideoURLMaxBytes = 2 * GB
	s.Sources["video_url_max_bytes"] = vis(2259)
	return s
}

// specC is qwen-vl-max/-plus, -latest, -0813/-0815. plus selects the
// qwen-vl-plus limits (shorter videos, smaller URL files).
func specC(plus bool) Spec {
	s := newSpec(FamilyQwenVLMaxPlus)
	commonLimits(&s)
	factor32(&s)
	s.ImageMinPixels = 4096
	s.Sources["image_min_pixels"] = api(1332)
	s.ImageMaxPixelsDefault = 1310720
	s.Sources["image_max_pixels_default"] = api(1364)
	s.Sources["image_max_pixels"] = api(1364)
	s.VideoMaxPixelsDefault, s.VideoMaxPixels = 655360, 786432
	s.Sources["video_max_pixels_default"] = api(1378)
	s.Sources["video_max_pixels"] = api(1378)
	s.VideoTotalPixelsDefault, s.VideoTotalPixelsMin = 67108864, 67108864
	s.Sources["video_total_pixels_default"] = api(1400)
	s.Sources["video_total_pixels_min"] = api(1400)
	s.MaxFrames = 512
	s.Sources["max_frames"] = api(1314)
	s.ImageListMax = 512
	s.Sources["image_list_max"] = "assumed: seed 001 line 2255 does not name qwen-vl-max/-plus; counted as Qwen2.5-VL commercial (512)"
	if plus {
		s.VideoMaxSeconds = 600
		s.VideoURLMaxBytes = 1 * GB
	} else {
		s.VideoMaxSeconds = 1200
		s.VideoURLMaxBytes = 2 * GB
	}
	s.Sources["video_max_seconds"] = vis(2265)
	s.Sources["video_url_max_bytes"] = vis(2259)
	return s
}

// specD is the older qwen-vl-max/-plus snapshots, Qwen2.5-VL and QVQ.
func specD(f Family) Spec {
	s := newSpec(f)
	commonLimits(&s)
	s.Factor = 28
	s.Sources["factor"] = api(1641) + " (each token 28×28 pixels)"
	s.ImageMinPixels = 3136
	s.Sources["image_min_pixels"] = api(1334)
	s.ImageMaxPixelsDefault, s.ImageMaxPixels = 1003520, 12845056
	s.Sources["image_max_pixels_default"] = api(1366)
	s.Sources["image_max_pixels"] = api(1366)
	s.HighResMaxPixels = 12845056
	s.Sources["high_res_max_pixels"] = api(1641)
	s.VideoMinPixelsDefault, s.VideoMinPixels = 50176, 3136
	s.Sources["video_min_pixels_default"] = api(1340)
	s.Sources["video_min_pixels"] = api(1340)
	s.VideoMaxPixelsDefault, s.VideoMaxPixels = 501760, 602112
	s.Sources["video_max_pixels_default"] = api(1380)
	s.Sources["video_max_pixels"] = api(1380)
	s.VideoTotalPixelsDefault, s.VideoTotalPixelsMin = 51380224, 51380224
	s.Sources["video_total_pixels_default"] = api(1402)
	s.Sources["video_total_pixels_min"] = api(1402)
	s.MaxFrames = 512
	s.Sources["max_frames"] = "assumed: seed 000 line 1306 gives no max_frames for these models; their image-list limit is 512 (seed 001 line 2255)"
	s.ImageListMax = 512
	s.Sources["image_list_max"] = vis(2255)
	s.VideoMaxSeconds = 600
	s.Sources["video_max_seconds"] = vis(2265)
	s.VideoURLMaxBytes = 1 * GB
	s.Sources["video_url_max_bytes"] = vis(2259)
	if f == FamilyQwen2VL {
		const why = "assumed: Qwen2-VL is not in the seed pixel tables; it shares Qwen2.5-VL's 28-px numbers"
		for _, k := range []string{"factor", "image_min_pixels", "image_max_pixels_default", "image_max_pixels",
			"high_res_max_pixels", "video_min_pixels_default", "video_min_pixels", "video_max_pixels_default",
			"video_max_pixels", "video_total_pixels_default", "video_total_pixels_min"} {
			s.Sources[k] = why
		}
		s.MaxFrames, s.ImageListMax = 80, 80
		s.Sources["max_frames"] = "assumed: image-list limit for other models (seed 001 line 2255)"
		s.Sources["image_list_max"] = vis(2255) + " (other models)"
		s.VideoMaxSeconds = 40
		s.Sources["video_max_seconds"] = vis(2265) + " (other models)"
		s.VideoURLMaxBytes = 150 * MB
		s.Sources["video_url_max_bytes"] = vis(2259) + " (other models)"
	}
	return s
}

// CustomSpec describes a self-hosted deployment known only by its factor:
// qwen-vl-utils' own library defaults apply and no DashScope cap does.
// Images 4·f²…16384·f²; video frames 128·f²…768·f², total 128000·f²·0.9,
// max_frames 768 (qwen-vl-utils vision_process.py constants).
func CustomSpec(factor int) Spec {
	f2 := factor * factor
	const lib = "qwen-vl-utils library default"
	s := Spec{
		Family:                  FamilyCustom,
		Factor:                  factor,
		ImageMinPixels:          4 * f2,
		ImageMaxPixelsDefault:   16384 * f2,
		ImageMaxPixels:          0, // no cap
		HighResMaxPixels:        16384 * f2,
		VideoMinPixelsDefault:   128 * f2,
		VideoMinPixels:          0,
		VideoMaxPixelsDefault:   0, // none: the budget alone decides
		VideoMaxPixels:          768 * f2,
		VideoTotalPixelsDefault: 128000 * float64(f2) * 0.9,
		MaxFrames:               768,
		MinFrames:               4,
		FPSMin:                  0.1,
		FPSMax:                  10,
		FPSDefault:              2.0,
		Sources:                 map[string]string{},
	}
	for _, k := range []string{"factor", "image_min_pixels", "image_max_pixels_default", "high_res_max_pixels",
		"video_min_pixels_default", "video_max_pixels", "video_total_pixels_default", "max_frames", "min_frames", "fps_default"} {
		s.Sources[k] = lib
	}
	s.Sources["fps_min"] = api(1285)
	s.Sources["fps_max"] = api(1285)
	return s
}
