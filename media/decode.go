package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"

	"github.com/disintegration/imaging"
	"golang.org/x/image/tiff"
)

// DefaultMaxPixels is the largest coded image (width × height from the
// header) decoded when no limit is given: Pillow's decompression-bomb error
// threshold (2 × MAX_IMAGE_PIXELS), so vision refuses no image the
// reference Python pipeline would open. At 4 bytes a pixel that is ~716 MB;
// pass a smaller limit where memory is tight.
const DefaultMaxPixels = 178956970

// ErrTooManyPixels reports an image whose header claims more pixels than
// the decode limit (a possible decompression bomb).
var ErrTooManyPixels = errors.New("media: image has more pixels than the decode limit")

// DecodeUpright decodes the image at path and returns it opaque (alpha
// flattened onto white, CMYK converted to RGB, 16-bit reduced to 8-bit, the
// first frame of an animation) and upright (EXIF orientation applied). The
// size is read from the file's own header before any pixel is decoded and
// the decode is refused, wrapping ErrTooManyPixels, when width × height
// exceeds maxPixels (0: DefaultMaxPixels). info gives the path's probe; the
// header is re-read from the opened file so the check holds for the bytes
// actually decoded.
//
// HEIC/HEIF and AVIF are decoded by ffmpeg (heif_decode.go), which ctx
// stops; an image vision cannot decode wraps ErrCannotDecode.
func DecodeUpright(ctx context.Context, path string, info Info, maxPixels int) (image.Image, error) {
	img, info, err := decodeCoded(ctx, path, info, maxPixels)
	if err != nil {
		return nil, err
	}
	return orient(img, info.Orientation), nil
}

// decodeCoded decodes the image as stored (no orientation applied), opaque,
// with bounds (0,0)-(CodedWidth,CodedHeight); it returns the fresh probe.
func decodeCoded(ctx context.Context, path string, info Info, maxPixels int) (image.Image, Info, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	f, err := openRegular(path)
	if err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil, info, fmt.Errorf("decode %s: %w", path, ErrEmpty)
	}
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	kind, format := Sniff(head[:n])
	if kind != KindImage {
		return nil, info, fmt.Errorf("decode %s: %w", path, ErrNotMedia)
	}
	info.Path, info.Format, info.Bytes = path, format, st.Size()
	if info, err = probeImageFile(f, info); err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", path, err)
	}
	if px := int64(info.CodedWidth) * int64(info.CodedHeight); px > int64(maxPixels) {
		return nil, info, fmt.Errorf("decode %s: %dx%d is %d pixels, limit %d: %w",
			path, info.CodedWidth, info.CodedHeight, px, maxPixels, ErrTooManyPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", path, err)
	}
	var img image.Image
	switch {
	case info.ffmpegDecode:
		img, err = decodeWithFFmpeg(ctx, path, info.CodedWidth, info.CodedHeight, maxPixels)
		if err != nil {
			return nil, info, fmt.Errorf("decode %s (%s, through ffmpeg): %w", path, info.Format, err)
		}
	case info.Format == "heic" || info.Format == "avif":
		img, err = decodeHEIF(ctx, f, info.Bytes, maxPixels)
		if err != nil {
			return nil, info, fmt.Errorf("decode %s: %w", path, err)
		}
	case info.Format == "webp":
		if info.Animated {
			why, convert := undecodable(info)
			return nil, info, fmt.Errorf("decode %s: %s; %s: %w", path, why, convert, ErrCannotDecode)
		}
		img, _, err = image.Decode(bufio.NewReaderSize(f, 64<<10))
	case info.Format == "tiff":
		var unsupported tiff.UnsupportedError
		if info.goUnsupported == "" {
			if img, err = decodeTIFF(f); errors.As(err, &unsupported) {
				info.goUnsupported = string(unsupported) // JPEG compression: the header read, the data does not
			}
		}
		if info.goUnsupported != "" {
			why, convert := undecodable(info)
			return nil, info, fmt.Errorf("decode %s: %s; %s: %w", path, why, convert, ErrCannotDecode)
		}
	case info.Format == "gif":
		img, err = gif.Decode(bufio.NewReaderSize(f, 32<<10)) // the first frame
	default:
		img, _, err = image.Decode(bufio.NewReaderSize(f, 64<<10))
	}
	if err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", path, headerErr(info.Format, err))
	}
	return flatten(img, info.CodedWidth, info.CodedHeight), info, nil
}

// flatten returns img as an opaque *image.YCbCr, *image.Gray or
// *image.RGBA with bounds (0,0)-(w,h): alpha composited over white, CMYK
// and 16-bit converted, a smaller first GIF frame placed on a white canvas.
func flatten(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	full := b == image.Rect(0, 0, w, h)
	switch m := img.(type) {
	case *image.YCbCr:
		if full {
			return m
		}
	case *image.Gray:
		if full {
			return m
		}
	case *image.CMYK:
		if full {
			return cmykToRGBA(m)
		}
	case *image.RGBA:
		if full && m.Opaque() {
			return m
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() && full {
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
		return dst
	}
	draw.Draw(dst, dst.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b.Intersect(dst.Rect), img, b.Intersect(dst.Rect).Min, draw.Over)
	return dst
}

// cmykToRGBA converts CMYK pixels with color.CMYKToRGB (no ICC profile:
// r = 255·(1−c)·(1−k)). image/jpeg has already undone the Adobe inversion
// of APP14-marked CMYK and YCCK files.
func cmykToRGBA(m *image.CMYK) *image.RGBA {
	b := m.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	parallelRows(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s := m.Pix[y*m.Stride : y*m.Stride+4*b.Dx()]
			d := dst.Pix[y*dst.Stride : y*dst.Stride+4*b.Dx()]
			for i := 0; i+4 <= len(s); i += 4 {
				d[i], d[i+1], d[i+2] = color.CMYKToRGB(s[i], s[i+1], s[i+2], s[i+3])
				d[i+3] = 0xff
			}
		}
	})
	return dst
}

// orient applies the display transformation of EXIF orientation o.
func orient(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // imaging rotates anticlockwise: 90° clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}
