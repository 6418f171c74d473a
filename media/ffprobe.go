package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrNoVideoStream is wrapped when a container holds no video stream (an
// audio-only .m4a or .mp4, or only a cover picture).
var ErrNoVideoStream = errors.New("media: no video stream")

// ErrAudioOnly wraps ErrNoVideoStream for a file that holds audio but no
// video (an .m4a, a podcast .mp4).
var ErrAudioOnly = fmt.Errorf("%w (audio only)", ErrNoVideoStream)

// ffprobeArgs are the arguments that make ffprobe describe a file's
// container and streams as JSON, reading headers only.
func ffprobeArgs(url string) []string {
	return []string{"-v", "error", "-print_format", "json", "-show_format", "-show_streams", url}
}

// probeVideo fills info from ffprobe's description of the file at path.
func probeVideo(ctx context.Context, path string, info Info) (Info, error) {
	url, err := fileURL(path)
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	cmd, err := toolCommand(ctx, "ffprobe", ffprobeArgs(url))
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	var stdout bytes.Buffer
	stderr := newTail(stderrTailLines)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return info, fmt.Errorf("probe %s: %w", path, ctx.Err())
		}
		terr := &ToolError{Tool: "ffprobe", Err: err, Stderr: stderr.String()}
		return info, fmt.Errorf("probe %s: %w: %w", path, ErrCorrupt, terr)
	}
	out, err := parseFFprobe(stdout.Bytes(), info)
	if errors.Is(err, errNoDuration) {
		out, err = durationFromPackets(ctx, url, out)
	}
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	return out, nil
}

// probeVideoScanned is probeVideo with the packet scan run at the same
// time; a probe that fails stops the scan.
func probeVideoScanned(ctx context.Context, path string, info Info) (Info, error) {
	url, err := fileURL(path)
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	scanCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan scanResult, 1)
	go func() {
		ft, err := scanFrames(scanCtx, url)
		done <- scanResult{url, ft, err}
	}()
	out, err := probeVideo(ctx, path, info)
	if err != nil {
		cancel()
		<-done
		return out, err
	}
	if out.timeline == nil { // durationFromPackets has scanned already
		r := <-done
		if r.err == nil || ctx.Err() == nil {
			out.scanned = &r
		}
	}
	return out, nil
}

// scanResult is a packet scan made beside the probe (ProbeScanned), with
// its error, for ExactFrames.
type scanResult struct {
	url string
	ft  frameTimes
	err error
}

// errNoDuration is parseFFprobe's error for a file whose container and
// stream state no duration: a Matroska/WEBM written to a pipe or by a
// live muxer, which cannot seek back to fill in its Duration element.
var errNoDuration = fmt.Errorf("%w: no duration", ErrCorrupt)

// durationFromPackets gives a video without a stated duration one from
// its packets (the scan ExactFrames makes, kept for extraction): the last
// frame's timestamp plus one frame at the average rate. Its frame count is
// then exact. DurationSource says so.
func durationFromPackets(ctx context.Context, url string, info Info) (Info, error) {
	ft, err := scanFrames(ctx, url)
	if err != nil {
		return info, err
	}
	if ft.Unreliable || len(ft.PTS) == 0 {
		return info, fmt.Errorf("%w: no duration, and the packets carry no timestamps to measure one", ErrCorrupt)
	}
	n := len(ft.PTS)
	span := ft.PTS[n-1] - ft.PTS[0]
	if info.FPS <= 0 && n > 1 && span > 0 {
		info.FPS = float64(n-1) / span
	}
	if info.FPS <= 0 {
		return info, fmt.Errorf("%w: no duration and no frame rate", ErrCorrupt)
	}
	info.Duration, info.DurationSource = ft.PTS[n-1]+1/info.FPS, "packets"
	info.Frames, info.FramesEstimated = ft.frames(), false
	info.VFR = info.VFR || ft.variable()
	info.timeline = &ft
	return info, nil
}

// ffprobeJSON is the part of `ffprobe -show_format -show_streams` read.
type ffprobeJSON struct {
	Streams []ffprobeStream `json:"streams"`
	Format  struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		StartTime  string            `json:"start_time"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
}

type ffprobeStream struct {
	Index        int               `json:"index"`
	CodecType    string            `json:"codec_type"`
	CodecName    string            `json:"codec_name"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	SampleAspect string            `json:"sample_aspect_ratio"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	RFrameRate   string            `json:"r_frame_rate"`
	NbFrames     string            `json:"nb_frames"`
	Duration     string            `json:"duration"`
	Tags         map[string]string `json:"tags"`
	Disposition  map[string]int    `json:"disposition"`
	SideDataList []struct {
		SideDataType string   `json:"side_data_type"`
		Rotation     *float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// vfrTolerance is how far apart (relative) the average and the real base
// frame rate may be in a constant-frame-rate file: muxers round timestamps,
// so e.g. 2997/100 and 30000/1001 are the same rate.
const vfrTolerance = 0.005

// parseFFprobe turns ffprobe's JSON into the video fields of info. It is
// pure: the recorded outputs in testdata/video/ffprobe test it.
//
//   - The first video stream that is not an attached picture is used.
//   - Duration is the stream's, else the container's, else the stream's
//     DURATION tag (Matroska; DurationSource "stream_tag"). Without any
//     (a Matroska/WEBM written to a pipe or by a live muxer has no
//     Duration element) it returns errNoDuration with the rest filled in,
//     and probeVideo measures the duration from the packets
//     (durationFromPackets, DurationSource "packets").
//   - Frames is nb_frames when the container stores it (MP4, MOV, AVI);
//     otherwise (MKV, WEBM, …) round(duration × average fps), marked
//     FramesEstimated. An nb_frames more than a frame (and 1%) away from
//     duration × fps is not trusted either: a trimmed MP4 keeps the
//     packets its edit list discards in nb_frames (115 listed, 102 shown),
//     so the count is derived from the duration and marked estimated.
//     ExactFrames counts the real frames from the packets.
//   - FPS is avg_frame_rate (r_frame_rate when that is 0/0); RealFPS is
//     r_frame_rate, the lowest rate that represents every timestamp.
//   - VFR is reported when the two rates differ by more than 0.5%: a CFR
//     file has avg = r; a file mixing rates has r = the fastest rate (or
//     their common multiple) and avg below it. Files without nb_frames are
//     not assumed VFR: MKV/WEBM store a default duration that ffprobe
//     reports as both rates, so VFR MKVs are caught only when they differ.
//   - Width and Height are the display size: the coded width times the
//     sample (pixel) aspect ratio, then rotated upright. A 720x576 stream
//     with SAR 64:45 is shown 1024x576; frames are planned and scaled to
//     that shape (with square pixels) so nothing is squeezed. qwen-vl-utils
//     (decord, torchvision) ignore the SAR and sample the coded 720x576;
//     vision sends what a player shows instead.
//   - Rotation is clockwise degrees to display upright, from the display
//     matrix (ffprobe's "rotation" is counter-clockwise, so it is negated)
//     or an old-style "rotate" tag (clockwise), normalised to 0/90/180/270.
func parseFFprobe(data []byte, info Info) (Info, error) {
	var p ffprobeJSON
	if err := json.Unmarshal(data, &p); err != nil {
		return info, fmt.Errorf("%w: unreadable ffprobe output: %v", ErrCorrupt, err)
	}
	var v *ffprobeStream
	for i := range p.Streams {
		s := &p.Streams[i]
		switch s.CodecType {
		case "audio":
			info.HasAudio = true
		case "video":
			if v == nil && s.Disposition["attached_pic"] == 0 {
				v = s
			}
		}
	}
	if f := containerFormat(p.Format.FormatName, p.Format.Tags["major_brand"]); info.Format == "" && f != "" {
		info.Format = f
	}
	info.Kind = KindVideo
	info.MIME = videoMIME[info.Format]
	if v == nil {
		if info.HasAudio {
			return info, ErrAudioOnly
		}
		return info, ErrNoVideoStream
	}
	info.Codec = v.CodecName
	if v.Width <= 0 || v.Height <= 0 {
		return info, fmt.Errorf("%w: video stream %d has no size (%dx%d)", ErrCorrupt, v.Index, v.Width, v.Height)
	}
	info.CodedWidth, info.CodedHeight = v.Width, v.Height
	info.Rotation = rotation(*v)
	w, h := v.Width, v.Height
	if num, den, ok := parseRatio(v.SampleAspect); ok && num != den {
		info.SampleAspect = v.SampleAspect
		w = max(1, int(math.Round(float64(w)*float64(num)/float64(den))))
	}
	info.Width, info.Height = w, h
	if info.Rotation == 90 || info.Rotation == 270 {
		info.Width, info.Height = h, w
	}

	info.RealFPS = parseRate(v.RFrameRate)
	info.FPS = parseRate(v.AvgFrameRate)
	if info.FPS <= 0 {
		info.FPS = info.RealFPS
	}
	info.VFR = info.RealFPS > 0 && info.FPS > 0 && math.Abs(info.FPS-info.RealFPS) > vfrTolerance*info.RealFPS

	info.Duration = parseFloat(v.Duration)
	if info.Duration <= 0 {
		info.Duration = parseFloat(p.Format.Duration)
	}
	if info.Duration <= 0 {
		if d, ok := parseClock(v.Tags["DURATION"]); ok {
			info.Duration, info.DurationSource = d, "stream_tag"
		}
	}
	if info.Duration <= 0 || math.IsInf(info.Duration, 0) {
		return info, errNoDuration
	}
	if info.FPS <= 0 {
		return info, fmt.Errorf("%w: no frame rate", ErrCorrupt)
	}

	derived := info.Duration * info.FPS
	if n, err := strconv.Atoi(v.NbFrames); err == nil && n > 0 && math.Abs(float64(n)-derived) <= 1+0.01*derived {
		info.Frames = n
	} else {
		info.Frames = int(math.RoundToEven(derived))
		info.FramesEstimated = true
	}
	if info.Frames <= 0 {
		return info, fmt.Errorf("%w: no frames", ErrCorrupt)
	}
	return info, nil
}

// rotation is the clockwise display rotation of s in {0, 90, 180, 270}.
func rotation(s ffprobeStream) int {
	deg, ok := 0.0, false
	for _, sd := range s.SideDataList {
		if sd.Rotation != nil {
			deg, ok = -*sd.Rotation, true
			break
		}
	}
	if !ok {
		if r, err := strconv.ParseFloat(s.Tags["rotate"], 64); err == nil {
			deg = r
		}
	}
	q := int(math.RoundToEven(deg/90)) % 4
	if q < 0 {
		q += 4
	}
	return q * 90
}

// containerFormat maps ffprobe's format_name (and the MP4 brand) to the
// format names media uses.
func containerFormat(name, brand string) string {
	first, _, _ := strings.Cut(name, ",")
	switch first {
	case "mov":
		if strings.TrimSpace(brand) == "qt" {
			return "mov"
		}
		return "mp4"
	case "matroska":
		return "mkv"
	case "mpeg", "mpegvideo":
		return "mpeg"
	case "mpegts":
		return "ts"
	case "asf":
		return "wmv"
	}
	return first
}

// videoMIME is the media type of each video format.
var videoMIME = map[string]string{
	"mp4": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska", "webm": "video/webm",
	"avi": "video/x-msvideo", "flv": "video/x-flv", "wmv": "video/x-ms-wmv", "3gp": "video/3gpp",
	"mpeg": "video/mpeg", "ts": "video/mp2t", "ogg": "video/ogg",
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0
	}
	return f
}

// parseClock reads a Matroska DURATION tag, "HH:MM:SS.nnnnnnnnn".
func parseClock(s string) (float64, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || m < 0 || sec < 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return 0, false
	}
	return float64(h*3600+m*60) + sec, true
}

// parseRatio reads an ffprobe aspect ratio like "64:45"; ok is false when
// it is missing or undefined ("0:1", "N/A").
func parseRatio(s string) (num, den int, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	num, err1 := strconv.Atoi(a)
	den, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || num <= 0 || den <= 0 {
		return 0, 0, false
	}
	return num, den, true
}

// parseRate reads an ffprobe rational like "30000/1001"; 0 when undefined.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return parseFloat(s)
	}
	n, d := parseFloat(num), parseFloat(den)
	if d == 0 {
		return 0
	}
	return n / d
}
