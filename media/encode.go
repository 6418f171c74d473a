package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strings"

	"github.com/qwen-vision/vision/tokens"
	"golang.org/x/image/tiff"
)

// DefaultQuality is the JPEG quality of re-encoded images. 90 keeps small
// print and screenshots legible after 4:2:0 chroma subsampling (OCR is a
// main use) while a 16.7 MP high-resolution image still encodes to a few
// MB, well inside the 10 MB base64 limit; fit-to-limit steps down from it.
const DefaultQuality = 90

// fitQualities are the qualities tried, in order, after the requested one
// when the encoded image is over the transport's limit.
var fitQualities = []int{80, 70, 60, 50}

// ErrTooLarge reports an image that does not fit the transport's size limit
// even at the lowest quality tried.
var ErrTooLarge = errors.New("media: encoded image over the size limit")

// EncodeOptions says how PrepareImage encodes. The zero value re-encodes
// as JPEG at DefaultQuality, with no size limit, keeping the original bytes
// when they can be sent as they are.
type EncodeOptions struct {
	Format    string // "jpeg" (default) or "png"; a set format is always produced
	Quality   int    // JPEG quality 1–100; 0 means DefaultQuality
	MaxPixels int    // decode limit (0: DefaultMaxPixels)
	Reencode  bool   // never send the original bytes
	NoFFmpeg  bool   // never hand large JPEGs to ffmpeg's scaler (see fastShrinkFactor)
	// ExactSize refuses to fall back to the original bytes of an image
	// vision cannot decode (see PrepareImage): for outputs that must have
	// the planned size, like `vision resize`.
	ExactSize bool

	// The size limit of the transport: MaxBytes bounds the encoded file,
	// MaxDataURL the length of its data URL. 0 means no limit.
	MaxBytes   int64
	MaxDataURL int64
	// UploadMaxBytes, when set, is the file limit of a temporary upload:
	// an image no quality fits within the limits above is then returned at
	// the highest quality whose file fits UploadMaxBytes, with
	// Prepared.Upload set, from the same encodes (no second decode or
	// ladder). 0: no such fall-back, ErrTooLarge.
	UploadMaxBytes int64
}

// WithLimits sets the size limit of transport t from spec.
func (o EncodeOptions) WithLimits(spec tokens.Spec, t Transport) EncodeOptions {
	switch t {
	case TransportBase64:
		o.MaxDataURL = spec.ImageBase64MaxBytes
	case TransportPath:
		o.MaxBytes = spec.ImagePathMaxBytes
	case TransportURL:
		o.MaxBytes = spec.ImageURLMaxBytes
	}
	return o
}

// fits reports whether n bytes of mime are within the limits.
func (o EncodeOptions) fits(n int, mime string) bool {
	return (o.MaxBytes <= 0 || int64(n) <= o.MaxBytes) && (o.MaxDataURL <= 0 || Base64Len(n, mime) <= o.MaxDataURL)
}

func (o EncodeOptions) limitText() string {
	if o.MaxDataURL > 0 {
		return fmt.Sprintf("the %s base64 limit", fmtBytes(o.MaxDataURL))
	}
	return fmt.Sprintf("the %s file limit", fmtBytes(o.MaxBytes))
}

// Prepared is an image ready to send.
type Prepared struct {
	Data      []byte
	MIME      string
	Width     int // upright, as sent
	Height    int
	Reencoded bool     // false: Data is the original file
	Quality   int      // JPEG quality used (0 for PNG or original bytes)
	Notes     []string // what was done and why, for the user
	// Upload reports that Data fits only EncodeOptions.UploadMaxBytes, not
	// the transport's own limit: it must go by temporary upload.
	Upload bool
}

// PrepareImage turns the probed image at path into the bytes to send at the
// plan's resized size: decoded once (header-checked against the decode
// limit), resized once from the coded pixels, turned upright, encoded once.
// The original bytes are kept when the file already is at the planned size,
// upright, in a format the API accepts at that size, and within the limit.
func PrepareImage(ctx context.Context, path string, info Info, plan tokens.ImagePlan, o EncodeOptions) (Prepared, error) {
	if err := ctx.Err(); err != nil {
		return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
	}
	if plan.ResizedWidth <= 0 || plan.ResizedHeight <= 0 {
		return Prepared{}, fmt.Errorf("prepare %s: no resized size in the plan", path)
	}
	var notes []string
	if keepOriginal(info, plan, o) {
		data, err := readRegular(path)
		if err != nil {
			return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
		}
		if _, format := Sniff(data); format == info.Format && int64(len(data)) == info.Bytes {
			// The header was fine; the pixel data may still be cut short
			// or damaged, and these bytes go out as they are.
			if err := checkDecodes(data, info); err != nil {
				return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
			}
			if o.fits(len(data), info.MIME) {
				return Prepared{Data: data, MIME: info.MIME, Width: info.Width, Height: info.Height,
					Notes: []string{fmt.Sprintf("original bytes sent: already %dx%d", info.Width, info.Height)}}, nil
			}
			notes = append(notes, "original file is over "+o.limitText()+"; re-encoded")
		}
	}
	if scalerEligible(info, plan, o) {
		if img, err := scaleWithFFmpeg(ctx, path, info, plan); err == nil {
			p, err := encodeFit(img, o)
			if err != nil {
				return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
			}
			p.Width, p.Height, p.Reencoded = plan.ResizedWidth, plan.ResizedHeight, true
			p.Notes = append(notes, p.Notes...)
			return p, nil
		} else if ctx.Err() != nil {
			return Prepared{}, fmt.Errorf("prepare %s: %w", path, ctx.Err())
		}
		// ffmpeg could not read it: the Go decoder below says why, or copes.
	}
	var img image.Image
	var fresh Info
	var err error
	if Decodable(info) {
		img, fresh, err = decodeCoded(ctx, path, info, o.MaxPixels)
	} else {
		why, convert := undecodable(info)
		err = fmt.Errorf("decode %s: %s; %s: %w", path, why, convert, ErrCannotDecode)
	}
	if errors.Is(err, ErrCannotDecode) && ctx.Err() == nil {
		return sendOriginal(path, info, o, err)
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("prepare: %w", err)
	}
	if plan.Width != 0 && (plan.Width != fresh.Width || plan.Height != fresh.Height) {
		return Prepared{}, fmt.Errorf("prepare %s: planned for %dx%d but the file is %dx%d (changed since probing?)",
			path, plan.Width, plan.Height, fresh.Width, fresh.Height)
	}
	if err := ctx.Err(); err != nil {
		return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
	}
	// Resize the stored pixels, then turn the small result upright.
	tw, th := plan.ResizedWidth, plan.ResizedHeight
	if fresh.Orientation >= 5 {
		tw, th = th, tw
	}
	out := orient(Resize(img, tw, th), fresh.Orientation)
	p, err := encodeFit(out, o)
	if err != nil {
		return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
	}
	p.Width, p.Height, p.Reencoded = plan.ResizedWidth, plan.ResizedHeight, true
	p.Notes = append(notes, p.Notes...)
	return p, nil
}

// sendOriginal is PrepareImage's answer for an image vision cannot decode
// (decodeErr says why): the original bytes when the API accepts the file
// as it is (OriginalFallback: format, resolution, size) and o allows it,
// with a note, since the server applies the same smart_resize; else
// decodeErr.
func sendOriginal(path string, info Info, o EncodeOptions, decodeErr error) (Prepared, error) {
	if o.ExactSize {
		return Prepared{}, fmt.Errorf("prepare: %w", decodeErr)
	}
	if ok, why := originalAccepted(info); !ok {
		return Prepared{}, fmt.Errorf("prepare: %w; the original cannot be sent instead: %s", decodeErr, why)
	}
	data, err := readRegular(path)
	if err != nil {
		return Prepared{}, fmt.Errorf("prepare %s: %w", path, err)
	}
	if !o.fits(len(data), info.MIME) {
		return Prepared{}, fmt.Errorf("prepare: %w; the original cannot be sent instead: it is over %s", decodeErr, o.limitText())
	}
	return Prepared{Data: data, MIME: info.MIME, Width: info.Width, Height: info.Height,
		Notes: []string{fmt.Sprintf("vision cannot decode it (%v): the original %s file is sent; the API resizes it the same way",
			trimDecodeErr(path, decodeErr), strings.ToUpper(info.Format))}}, nil
}

// trimDecodeErr is a decode error's text without its "decode PATH:" prefix
// and sentinel suffix, for a note.
func trimDecodeErr(path string, err error) string {
	s := strings.TrimPrefix(err.Error(), "decode "+path+": ")
	return strings.TrimSuffix(s, ": "+ErrCannotDecode.Error())
}

// keepOriginal reports whether the file can be sent as it is.
func keepOriginal(info Info, plan tokens.ImagePlan, o EncodeOptions) bool {
	if o.Reencode || (o.Format != "" && o.Format != info.Format) {
		return false
	}
	if info.Width != plan.ResizedWidth || info.Height != plan.ResizedHeight || info.Orientation > 1 || info.Animated {
		return false
	}
	switch info.Format {
	case "jpeg", "png":
	case "webp", "bmp", "tiff":
		if over(info.Width, info.Height, res4KLong, res4KShort) {
			return false
		}
	default:
		return false
	}
	return info.ColorModel != "cmyk" // CMYK JPEGs render wrongly in many decoders
}

// checkDecodes decodes data, an image about to be sent byte for byte, to
// prove its pixel data is whole: a file truncated after its header, or
// with damaged compressed data, wraps ErrCorrupt. Formats the Go decoders
// do not read (RLE BMP, CMYK or JPEG-compressed TIFF) are not checked.
func checkDecodes(data []byte, info Info) error {
	if info.ffmpegDecode || info.goUnsupported != "" {
		return nil
	}
	var err error
	if info.Format == "tiff" {
		_, err = tiff.Decode(bytes.NewReader(data))
	} else {
		_, _, err = image.Decode(bytes.NewReader(data))
	}
	if err == nil {
		return nil
	}
	if errors.Is(headerErr(info.Format, err), ErrUnsupported) {
		return nil // a variant the Go decoder lacks, not damage
	}
	return fmt.Errorf("its header is whole but its image data is not (%v): %w", err, ErrCorrupt)
}

// encodeFit encodes img as o.Format, stepping JPEG quality down (and
// falling back from PNG to JPEG) until it fits the limit.
func encodeFit(img image.Image, o EncodeOptions) (Prepared, error) {
	q := o.Quality
	if q <= 0 || q > 100 {
		q = DefaultQuality
	}
	var notes []string
	if o.Format == "png" {
		data, err := encodePNG(img)
		if err != nil {
			return Prepared{}, err
		}
		if o.fits(len(data), "image/png") {
			return Prepared{Data: data, MIME: "image/png"}, nil
		}
		notes = append(notes, fmt.Sprintf("PNG of %s is over %s; sent as JPEG", fmtBytes(int64(len(data))), o.limitText()))
	} else if o.Format != "" && o.Format != "jpeg" {
		return Prepared{}, fmt.Errorf("encode: format %q: want jpeg or png: %w", o.Format, ErrUnsupported)
	}
	ladder := []int{q}
	for _, fq := range fitQualities {
		if fq < q {
			ladder = append(ladder, fq)
		}
	}
	var n int
	var upload *Prepared // the best encode that fits only an upload
	for _, lq := range ladder {
		data, err := encodeJPEG(img, lq)
		if err != nil {
			return Prepared{}, err
		}
		n = len(data)
		if o.fits(n, "image/jpeg") {
			if lq != q {
				notes = append(notes, fmt.Sprintf("JPEG quality lowered from %d to %d to fit %s", q, lq, o.limitText()))
			}
			return Prepared{Data: data, MIME: "image/jpeg", Quality: lq, Notes: notes}, nil
		}
		if upload == nil && o.UploadMaxBytes > 0 && int64(n) <= o.UploadMaxBytes {
			upload = &Prepared{Data: data, MIME: "image/jpeg", Quality: lq, Upload: true}
		}
	}
	if upload != nil {
		if upload.Quality != q {
			notes = append(notes, fmt.Sprintf("JPEG quality lowered from %d to %d to fit the %s upload limit", q, upload.Quality, fmtBytes(o.UploadMaxBytes)))
		}
		upload.Notes = append(notes, fmt.Sprintf("over %s even at quality %d: sent by temporary upload", o.limitText(), ladder[len(ladder)-1]))
		return *upload, nil
	}
	b := img.Bounds()
	return Prepared{}, fmt.Errorf("%dx%d JPEG is %s at quality %d, still over %s: %w",
		b.Dx(), b.Dy(), fmtBytes(int64(n)), ladder[len(ladder)-1], o.limitText(), ErrTooLarge)
}

// encodeJPEG encodes an opaque image. imaging's opaque *image.NRGBA has the
// same bytes as an *image.RGBA, which image/jpeg converts on a fast path.
func encodeJPEG(img image.Image, q int) ([]byte, error) {
	if m, ok := img.(*image.NRGBA); ok {
		img = &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
	}
	var buf bytes.Buffer
	b := img.Bounds()
	buf.Grow(b.Dx() * b.Dy() / 4)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// encodePNG writes an 8-bit PNG: gray for gray images, RGB for opaque
// ones, RGBA otherwise. image/png writes 16 bits a sample for every image
// type it does not know (YCbCr, CMYK, Gray16, RGBA64…), doubling the size
// for no gain, so those are converted to 8-bit first.
func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, png8(img)); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// png8 returns img as a type image/png encodes with 8 bits a sample.
func png8(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.Gray, *image.Paletted, *image.RGBA:
		return m
	case *image.NRGBA:
		if m.Opaque() { // the same bytes as RGBA; lets the encoder write RGB
			return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
		}
		return m
	case *image.Gray16:
		g := image.NewGray(m.Bounds())
		draw.Draw(g, g.Rect, m, m.Rect.Min, draw.Src)
		return g
	}
	b := img.Bounds()
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		d := image.NewRGBA(b)
		draw.Draw(d, b, img, b.Min, draw.Src)
		return d
	}
	d := image.NewNRGBA(b)
	draw.Draw(d, b, img, b.Min, draw.Src)
	return d
}

func maxPixelsOr(n int) int {
	if n > 0 {
		return n
	}
	return DefaultMaxPixels
}
