package media

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/qwen-vision/vision/tokens"
)

// ValidateVideo checks a probed video against the API's documented limits
// for the model described by spec (seed 001 lines 2252–2275): duration,
// file size for the transport, the frame count of the list vision sends
// (plan; nil when planning failed), the container, and notes an ignored
// audio track and a variable frame rate. Each problem has a stable code:
//
//	video.no_video_stream   error    nothing to sample
//	video.unreadable        error    no duration, rate or frames
//	video.too_short         warning  under spec.VideoMinSeconds, but the
//	                                 frame list fits (error when not)
//	video.too_long          warning  over spec.VideoMaxSeconds, but the
//	                                 frame list fits (error when not)
//	video.too_large_base64  warning  base64 data URL of 10 MB or more, but the
//	                                 frame list fits (error when not)
//	video.too_large_path    warning  file over 100 MB, but the frame list
//	                                 fits (error when not)
//	video.too_large_url     warning  file over the model's URL limit, but the
//	                                 frame list fits (error when not)
//	video.frames_too_few    error    plan below spec.ImageListMin frames
//	video.frames_too_many   error    plan above spec.ImageListMax frames
//	video.format_unlisted   warning  a container the API does not list
//	video.audio_ignored     warning  the model does not hear audio
//	video.vfr               warning  variable frame rate
//	video.sample_fps        warning  the plan samples outside the API's fps
//	                                 range: the list is sent with the fps
//	                                 clamped (tokens.Spec.ListFPS)
//
// The limits on a video file (duration, size, format) are fixable while
// the frame list fits: vision sends the sampled frames, never the file.
func ValidateVideo(info Info, spec tokens.Spec, plan *tokens.FramePlan, t Transport) []Problem {
	return ValidateVideoWith(info, spec, plan, t, tokens.VideoOptions{})
}

// ValidateVideoWith is ValidateVideo knowing the sampling options the plan
// was made with, so a fix names the option that caused a problem (e.g.
// --nframes for too many frames).
func ValidateVideoWith(info Info, spec tokens.Spec, plan *tokens.FramePlan, t Transport, o tokens.VideoOptions) []Problem {
	if info.Kind != KindVideo {
		return nil
	}
	var ps []Problem
	add := func(code string, sev Severity, fix, format string, args ...any) {
		ps = append(ps, Problem{Code: code, Severity: sev, Path: info.Path, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	if info.Width <= 0 || info.Height <= 0 {
		add("video.no_video_stream", SeverityError, "the model needs a video stream: send a file with one",
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
		// The maximum is for video files too (seed 001 lines 2263–2265).
		if framesFit {
			add("video.too_long", SeverityWarning, fmt.Sprintf("none needed: vision sends it as the list of its %d sampled frames", plan.Frames),
				"lasts %s, over the API's maximum of %s for a video file on this model", fmtDuration(info.Duration), fmtDuration(spec.VideoMaxSeconds))
		} else {
			add("video.too_long", SeverityError, "use --start/--end or a shorter clip",
				"lasts %s, over the API's maximum of %s for this model", fmtDuration(info.Duration), fmtDuration(spec.VideoMaxSeconds))
		}
	}
	ps = append(ps, videoSizeProblems(info, spec, t, framesFit)...)

	if plan != nil {
		if spec.ImageListMin > 0 && plan.Frames < spec.ImageListMin {
			fix := "raise --fps or use a longer clip"
			if o.NFrames > 0 {
				fix = fmt.Sprintf("raise --nframes to at least %d", spec.ImageListMin)
			}
			add("video.frames_too_few", SeverityError, fix,
				"samples %d frames, under the API's minimum of %d images in a frame list", plan.Frames, spec.ImageListMin)
		}
		if spec.ImageListMax > 0 && plan.Frames > spec.ImageListMax {
			fix := fmt.Sprintf("lower --fps or --max-frames (to at most %d frames)", spec.ImageListMax)
			if o.NFrames > 0 {
				fix = fmt.Sprintf("lower --nframes to at most %d", spec.ImageListMax)
			}
			add("video.frames_too_many", SeverityError, fix,
				"samples %d frames, over the API's maximum of %d images in a frame list for this model", plan.Frames, spec.ImageListMax)
		}
	}
	if plan != nil {
		if p, ok := sampleFPSProblem(info, spec, *plan); ok {
			ps = append(ps, p)
		}
	}
	if !listedVideoFormat(info.Format) {
		add("video.format_unlisted", SeverityWarning, "none needed: vision sends the sampled frames as JPEG images, not the file",
			"is %s, a container the API does not list for video files (%s)", formatName(info), listedVideoFormats)
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

// listedVideoFormats are the video file formats seed 001 line 2266 names
// ("MP4, AVI, MKV, MOV, FLV, WMV, and more").
const listedVideoFormats = "MP4, AVI, MKV, MOV, FLV, WMV"

// listedVideoFormat reports whether the API lists the container: the six
// it names, with WEBM (a Matroska profile) and 3GP (an MP4 brand) counted
// as theirs. Others that ffprobe reads (Ogg, MPEG-TS, MPEG-PS) are the
// documentation's "and more", not promised.
func listedVideoFormat(format string) bool {
	switch format {
	case "mp4", "mov", "3gp", "avi", "mkv", "webm", "flv", "wmv":
		return true
	}
	return false
}

// formatName names a video's container and codec for messages.
func formatName(info Info) string {
	name := strings.ToUpper(info.Format)
	if name == "" {
		name = "an unknown container"
	}
	if info.Codec != "" {
		name += " (" + info.Codec + ")"
	}
	return name
}

// videoSizeProblems compares the file's size with the transport's limit.
// Vision sends extracted frames instead of the file, so the problem is only
// a warning when the frame list fits the image-list limits (as
// video.too_long and image.too_large_base64 are), an error when nothing can
// be sent.
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
	sev, fix := SeverityError, "re-encode it smaller or send a shorter clip (--start/--end)"
	if framesFit {
		sev, fix = SeverityWarning, "none needed: vision sends the sampled frames instead of the file"
	}
	return []Problem{{Code: code, Severity: sev, Path: info.Path, Fix: fix,
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

// VideoErrorProblem turns an error from probing (or scanning) a video
// into the problem to report:
//
//	video.no_video_stream  ErrNoVideoStream (an audio-only file: ErrAudioOnly)
//	tool.missing           ffprobe or ffmpeg not installed; the fix is the
//	                       install command
//	file.corrupt           ErrCorrupt, with ffprobe's reason
//	video.damaged          extraction: a planned frame could not be
//	                       decoded (ErrFrameMissing), another came instead
//	                       (ErrWrongFrame) or ffmpeg failed decoding (a
//	                       *ToolError from ffmpeg); the fix is the
//	                       re-encoding command
//	video.seek_missed      extraction: a forced seek missed a frame
//	                       (ErrSeekMissed); the fix is a pass (--mode pass)
//	video.unreadable       anything else
func VideoErrorProblem(path string, err error) Problem {
	p := Problem{Severity: SeverityError, Path: path}
	var te *ToolError
	switch {
	case errors.Is(err, ErrAudioOnly):
		p.Code, p.Message = "video.no_video_stream", "has audio but no video stream"
		p.Fix = "none possible: it is audio-only, and the model needs a video stream"
	case errors.Is(err, ErrNoVideoStream):
		p.Code, p.Message = "video.no_video_stream", "has no video stream"
		p.Fix = "the model needs a video stream: send a file with one"
	case errors.Is(err, ErrToolMissing):
		var mt *MissingToolError
		tool := "ffmpeg"
		if errors.As(err, &mt) {
			tool = mt.Tool
		}
		p.Code, p.Message, p.Fix = "tool.missing", fmt.Sprintf("cannot be read: %s is not installed", tool), ToolInstallHint
	case errors.Is(err, ErrCorrupt):
		reason := err.Error()
		if errors.As(err, &te) {
			if s := tailSummary(te.Stderr); s != "" {
				reason = te.Tool + ": " + s
			}
		}
		p.Code, p.Message = "file.corrupt", "is corrupt or truncated: "+reason
		p.Fix = "re-export or re-download it; if a player can read it, re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
	case errors.Is(err, ErrSeekMissed):
		p.Code, p.Message = "video.seek_missed", "cannot be extracted by seeking: "+errorText(path, err)
		p.Fix = "extract in one pass: --mode pass (or auto)"
	case errors.Is(err, ErrFrameMissing), errors.Is(err, ErrWrongFrame), errors.As(err, &te) && te.Tool == "ffmpeg":
		p.Code, p.Message = "video.damaged", "is damaged: "+errorText(path, err)
		p.Fix = "re-encode it, which keeps what can be decoded (ffmpeg -i IN -c:v libx264 -crf 18 OUT.mp4), and use the copy"
	default:
		p.Code, p.Message = "video.unreadable", fmt.Sprintf("cannot be read as a video: %v", err)
		p.Fix = "check the file; re-download or re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
	}
	return p
}

// errorText is err's message without the "extract frames of PATH: "
// wrapper and the sentinels' "media: " prefix.
func errorText(path string, err error) string {
	s := strings.TrimPrefix(err.Error(), "extract frames of "+path+": ")
	return strings.ReplaceAll(s, "media: ", "")
}

// sampleFPSProblem is video.sample_fps: the frames qwen-vl-utils' rules
// plan are spaced outside the API's [FPSMin, FPSMax] (seed 000 line 1285),
// 4 frames of a sub-second clip or max_frames over a long video, so the
// list is declared at the clamped fps (tokens.Spec.ListFPS) and the model,
// told the interval by fps (seed 000 line 1294), reads the frames as 1/fps
// apart. Token counts do not change.
func sampleFPSProblem(info Info, spec tokens.Spec, plan tokens.FramePlan) (Problem, bool) {
	real, declared := plan.SampleFPS, spec.ListFPS(plan.SampleFPS)
	if declared == real {
		return Problem{}, false
	}
	bound, side := spec.FPSMax, "above"
	var fix string
	switch {
	case real > spec.FPSMax:
		n := max(plan.Frames, spec.ImageListMin)
		fix = fmt.Sprintf("use a longer clip: %d frames need at least %.3gs to stay within %g fps", n, float64(n)/spec.FPSMax, spec.FPSMax)
	case info.FPS >= spec.FPSMin:
		bound, side = spec.FPSMin, "below"
		// A part of s seconds holds s·fps+1 frames: n of them sample
		// n/(s·fps+1)·fps ≥ FPSMin up to s = n/FPSMin − 1/fps.
		part := math.Floor(float64(plan.Frames)/spec.FPSMin - 1/info.FPS)
		fix = fmt.Sprintf("send a part of at most %s with --start/--end, so its %d frames sample at least %g fps, or send the video file itself", fmtDuration(part), plan.Frames, spec.FPSMin)
	default:
		bound, side = spec.FPSMin, "below"
		fix = fmt.Sprintf("no frame option helps: the video's own frames are %s apart (%.3g fps); send the video file itself, or accept the %s spacing", fmtSpacing(1/info.FPS), info.FPS, fmtSpacing(1/declared))
	}
	return Problem{Code: "video.sample_fps", Severity: SeverityWarning, Path: info.Path, Fix: fix,
		Message: fmt.Sprintf("samples %d frames at %.4g fps (about %s apart), %s the API's %g fps for a frame list: vision declares fps %g, so the model reads them as %s apart",
			plan.Frames, real, fmtSpacing(frameSpacing(plan)), side, bound, declared, fmtSpacing(1/declared))}, true
}

// frameSpacing is the mean time between two sampled frames: the span from
// the first planned frame to the last over the gaps between them.
func frameSpacing(p tokens.FramePlan) float64 {
	if p.Frames < 2 || !(p.SourceFPS > 0) {
		return 1 / p.SampleFPS
	}
	return float64(p.EndFrame-p.StartFrame) / float64(p.Frames-1) / p.SourceFPS
}

// fmtSpacing prints the seconds between two frames.
func fmtSpacing(s float64) string {
	if s >= 60 {
		return fmtDuration(s)
	}
	return fmt.Sprintf("%.3gs", s)
}
