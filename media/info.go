package media

// Kind is what a file holds, decided from its content, not its name.
type Kind string

// The kinds of file media knows.
const (
	KindImage Kind = "image"
	KindVideo Kind = "video"
	KindOther Kind = "other" // not media: listed as skipped with a reason
)

// Info is what a probe learns of a file without decoding its pixels.
// Width and Height are upright: EXIF orientations 5–8 and video rotations of
// ±90° swap the stored sides.
type Info struct {
	Path   string `json:"path"`
	Kind   Kind   `json:"kind"`
	Format string `json:"format"` // jpeg png webp bmp tiff gif heic; mp4 mov mkv webm avi …
	MIME   string `json:"mime"`
	Bytes  int64  `json:"bytes"`

	Width       int `json:"width"`
	Height      int `json:"height"`
	CodedWidth  int `json:"coded_width"` // as stored, before orientation
	CodedHeight int `json:"coded_height"`

	// Images.
	Orientation int    `json:"orientation,omitempty"` // EXIF orientation 1–8 (0: none)
	Mislabelled bool   `json:"mislabelled,omitempty"` // the extension names another format
	Animated    bool   `json:"animated,omitempty"`    // more than one frame (GIF, WEBP); the first is used
	ColorModel  string `json:"color_model,omitempty"` // e.g. ycbcr, cmyk, gray, rgba, paletted, rgba64

	// Videos.
	Duration float64 `json:"duration_s,omitempty"`
	// DurationSource says where Duration came from when the container
	// and stream do not state it: "stream_tag" (Matroska's DURATION tag)
	// or "packets" (the last frame's timestamp plus one frame: the file
	// was written to a pipe or by a live muxer).
	DurationSource  string  `json:"duration_source,omitempty"`
	FPS             float64 `json:"source_fps,omitempty"` // average frame rate
	RealFPS         float64 `json:"real_fps,omitempty"`   // r_frame_rate
	Frames          int     `json:"source_frames,omitempty"`
	FramesEstimated bool    `json:"frames_estimated,omitempty"` // derived from duration × fps
	VFR             bool    `json:"vfr,omitempty"`
	Rotation        int     `json:"rotation,omitempty"` // degrees clockwise to display upright
	Codec           string  `json:"codec,omitempty"`
	HasAudio        bool    `json:"has_audio,omitempty"`

	// SampleAspect is the pixel aspect ratio (e.g. "64:45") when pixels
	// are not square; Width and Height then are the display size.
	SampleAspect string `json:"sample_aspect,omitempty"`
	// TimestampsUnreliable is set by ExactFrames when the packets carry no
	// presentation timestamps (MPEG-PS): frames cannot be found by time, so
	// they are extracted in one pass and timed as decoded.
	TimestampsUnreliable bool `json:"timestamps_unreliable,omitempty"`

	// ffmpegDecode is set by the probe for a BMP the Go decoder refuses
	// (RLE4, RLE8), which is then decoded by ffmpeg.
	ffmpegDecode bool
	// goUnsupported is the Go TIFF decoder's reason for refusing a file
	// whose size its header still gives (CMYK, JPEG compression): vision
	// estimates it but cannot decode it (ffmpeg 5.1 decodes these TIFFs to
	// wrong colours or black, so it is not used).
	goUnsupported string

	// timeline is the packet scan behind an exact Frames (ExactFrames),
	// reused by ExtractFrames instead of scanning the file again.
	timeline *frameTimes
	// scanned is the packet scan ProbeScanned made; ExactFrames uses it
	// instead of scanning.
	scanned *scanResult
}
