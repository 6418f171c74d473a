package media

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/qwen-vision/vision/tokens"
)

// ImageJob is one image for PrepareImages.
type ImageJob struct {
	Path string
	Info Info
	Plan tokens.ImagePlan
}

// ImageResult is PrepareImages' answer for one job.
type ImageResult struct {
	Prepared Prepared
	Err      error
}

// maxScaleBatch bounds the images one ffmpeg run scales: enough to spread
// its start-up thin, few enough to keep every core busy and the decoded
// results (about 4 MB each at a 12 MP photo's planned size) small.
const maxScaleBatch = 8

// PrepareImages is PrepareImage for several images, answered in order. The
// large JPEGs that go through ffmpeg's scaler share one ffmpeg run per
// maxScaleBatch: ffmpeg's start-up (about 120 ms of CPU, most of it loading
// its libraries) costs more than decoding and scaling a 12 MP photo. If a
// shared run fails, its images are prepared one by one, so one bad file
// never fails the others.
func PrepareImages(ctx context.Context, jobs []ImageJob, o EncodeOptions) []ImageResult {
	out := make([]ImageResult, len(jobs))
	var batch []int
	for i, j := range jobs {
		if scalerEligible(j.Info, j.Plan, o) {
			batch = append(batch, i)
		}
	}
	scaled := map[int]*image.YCbCr{}
	if len(batch) > 1 && runtime.GOOS != "windows" { // ExtraFiles needs Unix
		for lo := 0; lo < len(batch); lo += maxScaleBatch {
			part := batch[lo:min(lo+maxScaleBatch, len(batch))]
			group := make([]ImageJob, len(part))
			for k, i := range part {
				group[k] = jobs[i]
			}
			if imgs, err := scaleManyWithFFmpeg(ctx, group); err == nil {
				for k, i := range part {
					scaled[i] = imgs[k]
				}
			}
		}
	}
	for i, j := range jobs {
		img, ok := scaled[i]
		if !ok {
			out[i].Prepared, out[i].Err = PrepareImage(ctx, j.Path, j.Info, j.Plan, o)
			continue
		}
		p, err := encodeFit(img, o)
		if err != nil {
			out[i].Err = fmt.Errorf("prepare %s: %w", j.Path, err)
			continue
		}
		p.Width, p.Height, p.Reencoded = j.Plan.ResizedWidth, j.Plan.ResizedHeight, true
		out[i].Prepared = p
	}
	return out
}

// scalerEligible reports whether PrepareImage hands the image to ffmpeg's
// scaler under o.
func scalerEligible(info Info, plan tokens.ImagePlan, o EncodeOptions) bool {
	return !o.NoFFmpeg && useFFmpegScaler(info, plan) && info.CodedWidth*info.CodedHeight <= maxPixelsOr(o.MaxPixels)
}

// scaleManyArgs is the ffmpeg command line that scales every job as
// scaleArgs does one: input k goes through its own chain to the raw 4:2:0
// output on file descriptor 3+k. -xerror makes the run exit non-zero when
// one input fails to decode (ffmpeg would otherwise leave that output
// empty and exit 0), so the batch falls back to one image at a time.
func scaleManyArgs(jobs []ImageJob) ([]string, error) {
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-xerror", "-filter_threads", "1"}
	chains := make([]string, len(jobs))
	for k, j := range jobs {
		url, err := fileURL(j.Path)
		if err != nil {
			return nil, err
		}
		sw, sh := storedSize(j.Info, j.Plan)
		args = append(args, "-threads", "1")
		args = append(args, jpegInputArgs(url)...)
		chains[k] = fmt.Sprintf("[%d:v:0]scale=%d:%d:flags=bicubic%s[o%d]", k, sw, sh, orientFilters[j.Info.Orientation], k)
	}
	args = append(args, "-filter_complex", strings.Join(chains, ";"))
	for k := range jobs {
		args = append(args, "-map", "[o"+strconv.Itoa(k)+"]", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuvj420p", "pipe:"+strconv.Itoa(3+k))
	}
	return args, nil
}

// storedSize is the size to scale the stored pixels to: the upright plan,
// sides swapped for orientations 5–8 (the turn comes after the scale).
func storedSize(info Info, plan tokens.ImagePlan) (w, h int) {
	if info.Orientation >= 5 {
		return plan.ResizedHeight, plan.ResizedWidth
	}
	return plan.ResizedWidth, plan.ResizedHeight
}

// scaleManyWithFFmpeg returns the upright, planned-size images of several
// JPEG files, decoded and scaled by one ffmpeg run, in order.
func scaleManyWithFFmpeg(ctx context.Context, jobs []ImageJob) ([]*image.YCbCr, error) {
	args, err := scaleManyArgs(jobs)
	if err != nil {
		return nil, err
	}
	cmd, err := toolCommand(ctx, "ffmpeg", args)
	if err != nil {
		return nil, err
	}
	readers := make([]*os.File, len(jobs))
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	defer closeAll(readers)
	for k := range jobs {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(cmd.ExtraFiles)
			return nil, fmt.Errorf("ffmpeg scale: %w", err)
		}
		readers[k] = r
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	}
	tail := newTail(stderrTailLines)
	cmd.Stderr = tail
	startErr := cmd.Start()
	closeAll(cmd.ExtraFiles) // the child has its copies
	if startErr != nil {
		return nil, fmt.Errorf("ffmpeg: %w", startErr)
	}
	imgs := make([]*image.YCbCr, len(jobs))
	readErrs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for k, j := range jobs {
		wg.Go(func() {
			img := image.NewYCbCr(image.Rect(0, 0, j.Plan.ResizedWidth, j.Plan.ResizedHeight), image.YCbCrSubsampleRatio420)
			readErrs[k] = readPlanes(readers[k], img)
			io.Copy(io.Discard, readers[k])
			imgs[k] = img
		})
	}
	wg.Wait()
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, err := range append([]error{waitErr}, readErrs...) {
		if err != nil {
			return nil, fmt.Errorf("ffmpeg scale: %w: %s", err, strings.TrimSpace(tail.String()))
		}
	}
	return imgs, nil
}

// readPlanes fills img from yuvj420p raw video: the Y plane, then Cb and
// Cr, each tightly packed, as image.YCbCr lays them out.
func readPlanes(r io.Reader, img *image.YCbCr) error {
	for _, plane := range [][]byte{img.Y, img.Cb, img.Cr} {
		if _, err := io.ReadFull(r, plane); err != nil {
			return err
		}
	}
	return nil
}
