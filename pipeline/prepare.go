package pipeline

import (
	"context"
	"errors"
	"fmt"

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
}

// Prepare turns an estimated item into request content at exactly the
// planned size: images upright and smart-resized, as base64 when they fit
// the data-URL limit and uploaded otherwise; videos as the list of their
// planned frames with the sampling fps they really have, uploaded frame by
// frame when the list is longer than the API takes as base64.
func Prepare(ctx context.Context, cfg Config, e Estimate, up Uploader) (Prepared, error) {
	switch {
	case e.Image != nil:
		return prepareImage(ctx, cfg, e, up)
	case e.Video != nil:
		return prepareVideo(ctx, cfg, e, up)
	}
	return Prepared{}, fmt.Errorf("prepare %s: nothing planned to send", e.Path)
}

func prepareImage(ctx context.Context, cfg Config, e Estimate, up Uploader) (Prepared, error) {
	p, err := media.PrepareImage(ctx, e.Path, e.Info, *e.Image, cfg.encodeOptions("", 0, media.TransportBase64))
	if err == nil {
		c := dashscope.Image(dashscope.MediaBytes(p.MIME, p.Data))
		setPixels(&c, cfg)
		return Prepared{Content: c, Transport: SendBase64, Notes: p.Notes, Bytes: int64(len(p.Data))}, nil
	}
	if !errors.Is(err, media.ErrTooLarge) {
		return Prepared{}, err
	}
	// Too large as a data URL even at the lowest quality: upload instead.
	p, err = media.PrepareImage(ctx, e.Path, e.Info, *e.Image, cfg.encodeOptions("", 0, media.TransportURL))
	if err != nil {
		return Prepared{}, err
	}
	notes := append(p.Notes, "too large for a base64 data URL: sent by temporary upload")
	url, transport := pendingUpload, SendDryRun
	if up != nil {
		if url, err = up.Upload(ctx, cfg.Model, dashscope.MediaBytes(p.MIME, p.Data)); err != nil {
			return Prepared{}, fmt.Errorf("upload %s: %w", e.Path, err)
		}
		transport = SendUpload
	}
	c := dashscope.Image(dashscope.MediaURL(url))
	setPixels(&c, cfg)
	return Prepared{Content: c, Transport: transport, Notes: notes, Bytes: int64(len(p.Data))}, nil
}

func prepareVideo(ctx context.Context, cfg Config, e Estimate, up Uploader) (Prepared, error) {
	frames, err := media.ExtractFrames(ctx, e.Path, e.Info, *e.Video, media.ExtractOptions{Mode: cfg.ExtractMode})
	if err != nil {
		return Prepared{}, err
	}
	upload := len(frames) > cfg.Spec.ImagesPerRequestBase64
	out := Prepared{Transport: SendBase64}
	if upload {
		out.Transport = SendDryRun
		if up != nil {
			out.Transport = SendUpload
		}
		out.Notes = append(out.Notes, fmt.Sprintf("%d frames is more than the %d images the API takes as base64: frames sent by temporary upload", len(frames), cfg.Spec.ImagesPerRequestBase64))
	}
	list := make([]dashscope.Media, len(frames))
	for i, f := range frames {
		out.Bytes += int64(len(f.Data))
		m := dashscope.MediaBytes("image/jpeg", f.Data)
		if upload {
			url := pendingUpload
			if up != nil {
				if url, err = up.Upload(ctx, cfg.Model, m); err != nil {
					return Prepared{}, fmt.Errorf("upload frame %d of %s: %w", f.Index, e.Path, err)
				}
			}
			m = dashscope.MediaURL(url)
		}
		list[i] = m
		frames[i].Data = nil
	}
	out.Frames = frames
	out.Content = dashscope.Frames(e.Video.SampleFPS, list...)
	setPixels(&out.Content, cfg)
	if cfg.Video.TotalPixels != 0 {
		out.Content.TotalPixels = int(cfg.Video.TotalPixels)
	}
	return out, nil
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
