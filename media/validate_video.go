package media

import (
	"errors"
	"fmt"

	"github.com/qwen-vision/vision/tokens"
)

// ValidateVideo checks a probed video against the API's documented limits
// for the model described by spec (seed 001 lines 2252–2275): duration,
// file size for the transport, the frame count of the list vision sends
// (plan; nil when planning failed), and notes an ignored audio track and a
// variable frame rate. Each problem has a stable code:
//
//	video.no_video_stream   error    nothing to sample
//	video.unreadable        error    no duration, rate or frames
//	video.too_short         error    under spec.VideoMinSeconds
//	video.too_long          error    over spec.VideoMaxSeconds (vision fixes
//	                                 it by sending frames when they fit)
//	video.too_large_base64  error    base64 data URL of 10 MB or more (fixable)
//	video.too_large_path    error    file over 100 MB (fixable)
//	video.too_large_url     error    file over the model's URL limit (fixable)
//	video.frames_too_few    error    plan below spec.ImageListMin frames
//	video.frames_too_many   error    plan above spec.ImageListMax frames
//	video.audio_ignored     warning  the model does not hear audio
//	video.vfr               warning  variable frame rate
func ValidateVideo(info Info, spec tokens.Spec, plan *tokens.FramePlan, t Transport) []Problem {
	if info.Kind != KindVideo {
		return nil
	}
	var ps []Problem
	add := func(code string, sev Severity, fix, format string, args ...any) {
		ps = append(ps, Problem{Code: code, Severity: sev, Path: info.Path, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	if info.Width <= 0 || info.Height <= 0 {
		add("video.no_video_stream", SeverityError, "send a file with a video track",
			"has no video stream")
		return ps
	}
	if info.Duration <= 0 || info.FPS <= 0 || info.Frames <= 0 {
		add("video.unreadable", SeverityError, "re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4",
			"has no usable duration, frame rate or frame count (%.3gs, %.3g fps, %d frames)", info.Duration, info.FPS, info.Frames)
		return ps
	}

	framesFit := plan != nil && plan.Frames <= spec.ImageListMax && plan.Frames >= spec.ImageListMin
	if spec.VideoMinSeconds > 0 && info.Duration < spec.VideoMinSeconds {
		// The minimum is for video files; vision sends frame lists, which
		// need only ImageListMin frames (seed 001 line 2254).
		if framesFit {
			add("video.too_short", SeverityWarning, fmt.Sprintf("none needed: vision sends it as a list of its %d sampled frames (lists need at least %d)", plan.Frames, spec.ImageListMin),
				"lasts %.2fs, under the API's minimum of %gs for a video file", info.Duration, spec.VideoMinSeconds)
		} else {
			add("video.too_short", SeverityError, fmt.Sprintf("use a clip of at least %gs", spec.VideoMinSeconds),
				"lasts %.2fs, under the API's minimum of %gs for a video", info.Duration, spec.VideoMinSeconds)
		}
	}
	if spec.VideoMaxSeconds > 0 && info.Duration > spec.VideoMaxSeconds {
		fix := "use --start/--end or a shorter clip"
		if framesFit {
			fix = "none needed: vision sends it as the list of its sampled frames"
		}
		add("video.too_long", SeverityError, fix,
			"lasts %s, over the API's maximum of %s for this model", fmtDuration(info.Duration), fmtDuration(spec.VideoMaxSeconds))
	}
	ps = append(ps, videoSizeProblems(info, spec, t, framesFit)...)

	if plan != nil {
		if spec.ImageListMin > 0 && plan.Frames < spec.ImageListMin {
			add("video.frames_too_few", SeverityError, "raise --fps or use a longer clip",
				"samples %d frames, under the API's minimum of %d images in a frame list", plan.Frames, spec.ImageListMin)
		}
		if spec.ImageListMax > 0 && plan.Frames > spec.ImageListMax {
			add("video.frames_too_many", SeverityError, "lower --fps or --max-frames",
				"samples %d frames, over the API's maximum of %d images in a frame list for this model", plan.Frames, spec.ImageListMax)
		}
	}
	if info.HasAudio {
		add("video.audio_ignored", SeverityWarning, "none needed; the answer will not reflect the sound",
			"has an audio track, which the model ignores")
	}
	if info.VFR {
		add("video.vfr", SeverityWarning, "none needed: frames are picked by index as qwen-vl-utils does; re-encode at a constant rate for even spacing",
			"has a variable frame rate (average %.3g fps, base %.3g fps): sampled frames are unevenly spaced in time", info.FPS, info.RealFPS)
	}
	return ps
}

// videoSizeProblems compares the file's size with the transport's limit.
// Vision sends extracted frames instead of the file, so the problem is
// fixable when the frame list fits the image-list limits.
func videoSizeProblems(info Info, spec tokens.Spec, t Transport, framesFit bool) []Problem {
	var code, what string
	var got, limit int64
	over := func() bool { return got > limit }
	switch t {
	case TransportBase64:
		code, what, limit = "video.too_large_base64", "base64 data URL", spec.VideoBase64MaxBytes
		got = Base64Len(int(info.Bytes), info.MIME)
		over = func() bool { return got >= limit } // "must be less than 10 MB"
	case TransportPath:
		code, what, limit, got = "video.too_large_path", "local file", spec.VideoPathMaxBytes, info.Bytes
	case TransportURL:
		code, what, limit, got = "video.too_large_url", "file by URL", spec.VideoURLMaxBytes, info.Bytes
	default:
		return nil
	}
	if limit <= 0 || !over() {
		return nil
	}
	fix := "re-encode it smaller or send a shorter clip (--start/--end)"
	if framesFit {
		fix = "none needed: vision sends the sampled frames instead of the file"
	}
	return []Problem{{Code: code, Severity: SeverityError, Path: info.Path, Fix: fix,
		Message: fmt.Sprintf("is %s as a %s, over the API's %s limit", fmtBytes(got), what, fmtBytes(limit))}}
}

// fmtDuration prints seconds as the API documents durations.
func fmtDuration(s float64) string {
	switch {
	case s >= 3600 && int(s)%3600 == 0:
		return fmt.Sprintf("%dh", int(s)/3600)
	case s >= 60 && int(s)%60 == 0 && s == float64(int(s)):
		return fmt.Sprintf("%d min", int(s)/60)
	case s >= 60:
		return fmt.Sprintf("%dm%04.1fs", int(s)/60, s-float64(int(s)/60*60))
	}
	return fmt.Sprintf("%.2fs", s)
}

// VideoErrorProblem turns an error from probing a video into the problem
// ValidateVideo would report for it: video.no_video_stream for
// ErrNoVideoStream, video.tool_missing when ffprobe is not installed, else
// video.unreadable.
func VideoErrorProblem(path string, err error) Problem {
	switch {
	case errors.Is(err, ErrNoVideoStream):
		return Problem{Code: "video.no_video_stream", Severity: SeverityError, Path: path,
			Message: "has no video stream", Fix: "send a file with a video track"}
	case errors.Is(err, ErrToolMissing):
		return Problem{Code: "video.tool_missing", Severity: SeverityError, Path: path,
			Message: err.Error(), Fix: ToolInstallHint}
	}
	return Problem{Code: "video.unreadable", Severity: SeverityError, Path: path,
		Message: fmt.Sprintf("cannot be read as a video: %v", err),
		Fix:     "check the file; re-download or re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)"}
}
