package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/media"
)

// Uploader puts media on DashScope's temporary storage and returns its
// oss:// URL; *dashscope.Client is one. Nil means uploads are not possible
// (a dry run), and media that must be uploaded is shown as pending.
type Uploader interface {
	Upload(ctx context.Context, model string, m dashscope.Media) (string, error)
}

// Transports an item can be sent by, as recorded in results.
const (
	SendBase64 = "base64"       // data URLs in the request body
	SendUpload = "upload"       // temporary upload, oss:// URLs
	SendDryRun = "upload (dry)" // would be uploaded; nothing sent in a dry run
)

// pendingUpload stands for an oss:// URL a dry run does not fetch.
const pendingUpload = "oss://pending-upload"

// Prepared is one item ready to put in a request.
type Prepared struct {
	Content   dashscope.Content
	Transport string
	Notes     []string
	Frames    []media.Frame // videos: the frames sent (without Data)
	Bytes     int64         // media bytes sent
	// Replanned is set when the frames sent were planned differently
	// from the estimate given (a video whose header count looked exact
	// but was not): the estimate of what was sent, to show and charge.
	Replanned *Estimate
}

// Prepare turns an estimated item into request content at exactly the
// planned size: images upright and smart-resized, as base64 when they fit
// the data-URL limit and uploaded otherwise; videos as the list of their
// planned frames with the sampling fps they really have, uploaded frame by
// frame when the list is longer than the API takes as base64. The media
// bytes stay in memory.
func Prepare(ctx context.Context, cfg Config, e Estimate, up Uploader) (Prepared, error) {
	return prepare(ctx, cfg, e, prepareOptions{up: up})
}

// prepareOptions say how prepare sends media.
type prepareOptions struct {
	up Uploader // nil: a dry run, uploads are shown as pending
	// sp, when set, receives the prepared bytes; the content then reads
	// them from its temporary file instead of memory.
	sp *spool
	// upload sends every image and frame by temporary upload: the request
	// holds more than the API takes as base64 (media.CountProblems).
	upload bool
}

func prepare(ctx context.Context, cfg Config, e Estimate, o prepareOptions) (Prepared, error) {
	switch {
	case e.Image != nil:
		return prepareImage(ctx, cfg, e, o)
	case e.Video != nil:
		return prepareVideo(ctx, cfg, e, o)
	}
	return Prepared{}, fmt.Errorf("prepare %s: nothing planned to send", e.Path)
}

func prepareImage(ctx context.Context, cfg Config, e Estimate, o prepareOptions) (Prepared, error) {
	// As base64 when it fits (lowering JPEG quality if it must), else by
	// temporary upload under the limits of a file by URL, from the same
	// decode and encodes; all by upload when the request holds more images
	// than the API takes as base64 (media.CountProblems).
	enc := cfg.encodeOptions("", 0, media.TransportURL)
	var notes []string
	if o.upload {
		notes = append(notes, fmt.Sprintf("more images than the %d the API takes as base64 in one request: sent by temporary upload", cfg.Spec.ImagesPerRequestBase64))
	} else {
		enc = cfg.encodeOptions("", 0, media.TransportBase64)
		enc.UploadMaxBytes = cfg.Spec.ImageURLMaxBytes
	}
	p, err := media.PrepareImage(ctx, e.Path, e.Info, *e.Image, enc)
	if err != nil {
		return Prepared{}, err
	}
	if !o.upload && !p.Upload {
		m, err := mediaFor(o.sp, p.MIME, p.Data)
		if err != nil {
			return Prepared{}, fmt.Errorf("prepare %s: %w", e.Path, err)
		}
		c := dashscope.Image(m)
		setPixels(&c, cfg)
		return Prepared{Content: c, Transport: SendBase64, Notes: p.Notes, Bytes: int64(len(p.Data))}, nil
	}
	url, transport, err := uploadOne(ctx, cfg, o, p.MIME, p.Data)
	if err != nil {
		return Prepared{}, fmt.Errorf("upload %s: %w", e.Path, err)
	}
	c := dashscope.Image(dashscope.MediaURL(url))
	setPixels(&c, cfg)
	return Prepared{Content: c, Transport: transport, Notes: append(p.Notes, notes...), Bytes: int64(len(p.Data))}, nil
}

// uploadOne uploads data and returns its oss:// URL and the transport to
// record; a dry run returns a placeholder. The bytes are dropped once
// uploaded, so they need no spool.
func uploadOne(ctx context.Context, cfg Config, o prepareOptions, mime string, data []byte) (string, string, error) {
	if o.up == nil {
		return pendingUpload, SendDryRun, nil
	}
	url, err := o.up.Upload(ctx, cfg.Model, dashscope.MediaBytes(mime, data))
	return url, SendUpload, err
}

func prepareVideo(ctx context.Context, cfg Config, e Estimate, o prepareOptions) (Prepared, error) {
	// The header's frame count is an estimate in MKV, WEBM and MPEG files
	// and wrong in trimmed MP4s: plan from the packet scan, so the frames
	// sent are the ones qwen-vl-utils would pick (ExactVideo). Ask and Run
	// planned those from the scan already (PlanExact), which is reused
	// here; a plan that still changes is reported in Replanned.
	given := e
	if e = ExactVideo(ctx, cfg, e); e.Status != StatusOK {
		return Prepared{}, fmt.Errorf("prepare %s: %s", e.Path, e.Error)
	}
	out := Prepared{Transport: SendBase64}
	if e.HeaderFrames > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("planned from the exact count of %d frames (the header said %d)", e.Info.Frames, e.HeaderFrames))
	}
	if !samePlan(given, e) {
		r := e
		out.Replanned = &r
	}
	n := len(e.Video.Indices)
	upload := o.upload || n > cfg.Spec.ImagesPerRequestBase64
	switch {
	case n > cfg.Spec.ImagesPerRequestBase64:
		out.Notes = append(out.Notes, fmt.Sprintf("%d frames is more than the %d images the API takes as base64: frames sent by temporary upload", n, cfg.Spec.ImagesPerRequestBase64))
	case upload:
		out.Notes = append(out.Notes, fmt.Sprintf("the request holds more than the %d images the API takes as base64: frames sent by temporary upload", cfg.Spec.ImagesPerRequestBase64))
	}
	// Each frame is uploaded or spooled as soon as it is extracted (in plan
	// order), so a long frame list never sits in memory whole.
	list := make([]dashscope.Media, 0, n)
	onFrame := func(f media.Frame) error {
		out.Bytes += int64(len(f.Data))
		if upload {
			url, transport, err := uploadOne(ctx, cfg, o, "image/jpeg", f.Data)
			if err != nil {
				return fmt.Errorf("upload frame %d: %w", f.Index, err)
			}
			list, out.Transport = append(list, dashscope.MediaURL(url)), transport
			return nil
		}
		m, err := mediaFor(o.sp, "image/jpeg", f.Data)
		list = append(list, m)
		return err
	}
	frames, err := media.ExtractFrames(ctx, e.Path, e.Info, *e.Video, media.ExtractOptions{Mode: cfg.ExtractMode, OnFrame: onFrame})
	if err != nil {
		return Prepared{}, err // names the file
	}
	out.Frames = frames
	// Declared at the fps the API accepts: the sampled one clamped into
	// [0.1, 10] (video.sample_fps reports the clamp).
	out.Content = dashscope.Frames(cfg.Spec.ListFPS(e.Video.SampleFPS), list...)
	setPixels(&out.Content, cfg)
	if cfg.Video.TotalPixels != 0 {
		out.Content.TotalPixels = int(cfg.Video.TotalPixels)
	}
	return out, nil
}

// samePlan reports whether two estimates of a video send the same frames
// at the same size, rate and price.
func samePlan(a, b Estimate) bool {
	if a.Video == nil || b.Video == nil {
		return a.Video == b.Video
	}
	return slices.Equal(a.Video.Indices, b.Video.Indices) && a.Video.SampleFPS == b.Video.SampleFPS &&
		a.Video.ResizedWidth == b.Video.ResizedWidth && a.Video.ResizedHeight == b.Video.ResizedHeight &&
		a.InputTokens == b.InputTokens
}

// setPixels passes the pixel bounds the user chose, so the server plans the
// (already resized) media with the same bounds and keeps its size.
func setPixels(c *dashscope.Content, cfg Config) {
	if c.Image != nil {
		c.MinPixels, c.MaxPixels = cfg.Image.MinPixels, cfg.Image.MaxPixels
		return
	}
	c.MinPixels, c.MaxPixels = cfg.Video.MinPixels, cfg.Video.MaxPixels
}
