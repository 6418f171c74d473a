package media

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"strconv"

	"github.com/qwen-vision/vision/tokens"
)

// fastShrinkFactor is how much larger than the plan (in pixels) a JPEG must
// be for PrepareImage to hand decoding and scaling to ffmpeg. Go's JPEG
// decoder has no reduced-resolution decode and imaging's filters run in
// float64, so a 12 MP photo costs ~280 ms in Go; ffmpeg decodes, scales
// (bicubic, as qwen-vl-utils) and turns it upright in one pass in about half
// of that, and Go then encodes the small result with the usual quality and
// fit-to-limit rules. Smaller shrinks stay in Go, where the cost is small.
const fastShrinkFactor = 4

// useFFmpegScaler reports whether the fast path applies to this file.
func useFFmpegScaler(info Info, plan tokens.ImagePlan) bool {
	if info.Format != "jpeg" || info.ColorModel == "cmyk" || info.Animated {
		return false
	}
	planned := plan.ResizedWidth * plan.ResizedHeight
	if planned <= 0 || plan.ResizedWidth%2 != 0 || plan.ResizedHeight%2 != 0 {
		return false
	}
	if _, err := lookTool("ffmpeg"); err != nil {
		return false
	}
	return info.CodedWidth*info.CodedHeight >= fastShrinkFactor*planned
}

// orientFilters are the ffmpeg filters that turn an image stored with EXIF
// orientation n upright (transpose=0 is the main-diagonal transpose,
// 1 a clockwise turn, 2 counter-clockwise, 3 the anti-diagonal).
var orientFilters = map[int]string{
	2: ",hflip",
	3: ",hflip,vflip",
	4: ",vflip",
	5: ",transpose=0",
	6: ",transpose=1",
	7: ",transpose=3",
	8: ",transpose=2",
}

// scaleArgs is the ffmpeg command line that decodes a JPEG, scales its
// stored pixels (-noautorotate: newer ffmpeg turns JPEGs by their EXIF tag
// itself, which would turn them twice) to w×h (the upright plan with sides swapped for
// orientations 5–8), turns it upright and writes full-range 4:2:0 raw video.
func scaleArgs(url string, w, h, orientation int) []string {
	filter := "scale=" + strconv.Itoa(w) + ":" + strconv.Itoa(h) + ":flags=bicubic" + orientFilters[orientation]
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-threads", "1", "-filter_threads", "1"}
	args = append(args, jpegInputArgs(url)...)
	return append(args, "-vf", filter, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuvj420p", "-")
}

// jpegInputArgs are the input options of one JPEG for the scaler.
// -err_detect explode makes ffmpeg's mjpeg decoder fail on a truncated or
// damaged scan ("overread", "error dc") instead of concealing it (filling
// the rest with gray or green and exiting 0), so the file falls back to the
// Go decoder, which reports it corrupt. Valid JPEGs (baseline, progressive,
// restart markers, every subsampling, data after EOI) decode to the same
// pixels with or without it.
func jpegInputArgs(url string) []string {
	return []string{"-noautorotate", "-err_detect", "explode", "-i", url}
}

// scaleWithFFmpeg returns the upright, planned-size image of a JPEG file as
// ffmpeg decodes and scales it.
func scaleWithFFmpeg(ctx context.Context, path string, info Info, plan tokens.ImagePlan) (*image.YCbCr, error) {
	url, err := fileURL(path)
	if err != nil {
		return nil, err
	}
	w, h := plan.ResizedWidth, plan.ResizedHeight
	sw, sh := storedSize(info, plan)
	cmd, err := toolCommand(ctx, "ffmpeg", scaleArgs(url, sw, sh, info.Orientation))
	if err != nil {
		return nil, err
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	tail := newTail(stderrTailLines)
	cmd.Stderr = tail
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	readErr := readPlanes(stdout, img)
	io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if waitErr != nil || readErr != nil {
		err := waitErr
		if err == nil {
			err = readErr
		}
		return nil, fmt.Errorf("ffmpeg scale: %w: %s", err, bytes.TrimSpace([]byte(tail.String())))
	}
	return img, nil
}
