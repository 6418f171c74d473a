package media

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registered for image.DecodeConfig / image.Decode
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"sync"

	"golang.org/x/image/bmp" // the x/image codecs are registered here only
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// imageMIME maps an image format to the MIME type sent with it.
var imageMIME = map[string]string{
	"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "bmp": "image/bmp",
	"tiff": "image/tiff", "gif": "image/gif", "heic": "image/heic", "avif": "image/avif",
}

// recordMax bounds how much of a JPEG or WEBP head is kept for the metadata
// scan: an Exif APP1 segment is at most 64 KiB and comes first.
const recordMax = 128 << 10

// recorder passes reads through and keeps the first bytes read.
type recorder struct {
	r   io.Reader
	buf []byte
	max int
}

func (h *recorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if room := h.max - len(h.buf); room > 0 && n > 0 {
		h.buf = append(h.buf, p[:min(n, room)]...)
	}
	return n, err
}

var probePool = sync.Pool{New: func() any {
	rec := &recorder{}
	return &probeBufs{rec: rec, br: bufio.NewReaderSize(rec, 4096)}
}}

type probeBufs struct {
	rec *recorder
	br  *bufio.Reader
}

// probeImage fills info from the image's header; it never decodes pixels.
func probeImage(ctx context.Context, path string, info Info) (Info, error) {
	if err := ctx.Err(); err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	f, err := openRegular(path)
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	defer f.Close()
	return probeImageOpen(ctx, f, info)
}

// probeImageOpen is probeImage on a file Probe has open.
func probeImageOpen(ctx context.Context, f *os.File, info Info) (Info, error) {
	if err := ctx.Err(); err != nil {
		return info, fmt.Errorf("probe %s: %w", info.Path, err)
	}
	info, err := probeImageFile(f, info)
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", info.Path, err)
	}
	return info, nil
}

// probeImageFile reads the header of an open image file whose Format was
// sniffed; info.Bytes must be its size. It reads from the start of f.
func probeImageFile(f *os.File, info Info) (Info, error) {
	info.Kind = KindImage
	if m, ok := imageMIME[info.Format]; ok {
		info.MIME = m
	}
	switch info.Format {
	case "heic", "avif":
		hi, err := probeHEIF(f, info.Bytes)
		if err != nil {
			return info, headerErr(info.Format, err)
		}
		if hi.avif {
			info.Format, info.MIME = "avif", imageMIME["avif"]
		}
		info.CodedWidth, info.CodedHeight, info.Orientation = hi.width, hi.height, hi.orientation
		if hi.width <= 0 || hi.height <= 0 {
			return info, headerErr(info.Format, fmt.Errorf("image size %dx%d", hi.width, hi.height))
		}
	case "tiff":
		// tiff.DecodeConfig reads the whole file unless given an io.ReaderAt,
		// so it gets the file itself rather than image.DecodeConfig's reader.
		cfg, err := tiff.DecodeConfig(f)
		var unsupported tiff.UnsupportedError
		switch {
		case errors.As(err, &unsupported):
			// A colour model the Go decoder lacks (CMYK): the size from
			// IFD0, for the estimate; it cannot be decoded.
			w, h, _, ierr := tiffIFD0(f)
			if ierr != nil {
				return info, headerErr(info.Format, err)
			}
			info.CodedWidth, info.CodedHeight, info.goUnsupported = w, h, string(unsupported)
		case err != nil:
			return info, headerErr(info.Format, err)
		default:
			info.CodedWidth, info.CodedHeight, info.ColorModel = cfg.Width, cfg.Height, colorModelName(cfg.ColorModel)
			// DecodeConfig does not look at the compression; the decoder
			// refuses JPEG (6 old-style, 7).
			if _, _, c, err := tiffIFD0(f); err == nil && (c == 6 || c == 7) {
				info.goUnsupported = "JPEG compression"
			}
		}
		info.Orientation = tiffFileOrientation(f)
	case "bmp":
		var err error
		probed, err := probeStream(f, info)
		if errors.Is(err, ErrUnsupported) { // RLE4, RLE8, bit fields…: ffmpeg decodes them
			w, h, herr := bmpHeaderSize(f)
			if herr != nil {
				return info, err
			}
			probed = info
			probed.CodedWidth, probed.CodedHeight, probed.ffmpegDecode = w, h, true
		} else if err != nil {
			return info, err
		}
		info = probed
	default:
		var err error
		if info, err = probeStream(f, info); err != nil {
			return info, err
		}
	}
	if info.CodedWidth <= 0 || info.CodedHeight <= 0 {
		return info, headerErr(info.Format, fmt.Errorf("image size %dx%d", info.CodedWidth, info.CodedHeight))
	}
	info.Width, info.Height = info.CodedWidth, info.CodedHeight
	if info.Orientation >= 5 {
		info.Width, info.Height = info.CodedHeight, info.CodedWidth
	}
	return info, nil
}

// probeStream runs image.DecodeConfig on a buffered reader and then reads
// the metadata the config leaves out (orientation, animation).
func probeStream(f *os.File, info Info) (Info, error) {
	bufs := probePool.Get().(*probeBufs)
	defer probePool.Put(bufs)
	rec, br := bufs.rec, bufs.br
	rec.r, rec.buf, rec.max = f, rec.buf[:0], 0
	if info.Format == "jpeg" || info.Format == "webp" {
		rec.max = recordMax
	}
	br.Reset(rec)
	defer func() { rec.r = nil }()

	cfg, name, err := image.DecodeConfig(br)
	if err != nil {
		return info, headerErr(info.Format, err)
	}
	if name != info.Format {
		return info, headerErr(info.Format, fmt.Errorf("decoded as %s", name))
	}
	info.CodedWidth, info.CodedHeight, info.ColorModel = cfg.Width, cfg.Height, colorModelName(cfg.ColorModel)
	switch info.Format {
	case "jpeg":
		info.Orientation = scanJPEGMeta(rec.buf).orientation
	case "png":
		info.Orientation, info.Animated = scanPNGChunks(br)
	case "gif":
		info.Animated = gifFrames(br, 2) > 1
	case "webp":
		info.Orientation, info.Animated = webpMeta(f, rec.buf, info.Bytes)
	}
	return info, nil
}

// headerErr wraps a codec error with ErrUnsupported or ErrCorrupt.
func headerErr(format string, err error) error {
	var (
		jpegU jpeg.UnsupportedError
		pngU  png.UnsupportedError
		tiffU tiff.UnsupportedError
	)
	switch {
	case errors.Is(err, image.ErrFormat), errors.As(err, &jpegU), errors.As(err, &pngU), errors.As(err, &tiffU),
		errors.Is(err, bmp.ErrUnsupported):
		return fmt.Errorf("%s header: %v: %w", format, err, ErrUnsupported)
	case errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s header: %v: %w", format, err, ErrCorrupt)
}

// colorModelName names a color.Model for Info.ColorModel.
func colorModelName(m color.Model) string {
	switch m {
	case color.YCbCrModel:
		return "ycbcr"
	case color.NYCbCrAModel:
		return "nycbcra"
	case color.CMYKModel:
		return "cmyk"
	case color.GrayModel:
		return "gray"
	case color.Gray16Model:
		return "gray16"
	case color.RGBAModel:
		return "rgba"
	case color.RGBA64Model:
		return "rgba64"
	case color.NRGBAModel:
		return "nrgba"
	case color.NRGBA64Model:
		return "nrgba64"
	case color.AlphaModel, color.Alpha16Model:
		return "alpha"
	}
	if _, ok := m.(color.Palette); ok {
		return "paletted"
	}
	return ""
}

// scanPNGChunks reads the chunks after those png.DecodeConfig consumed, up
// to the first IDAT, for eXIf (orientation) and acTL (APNG frame count).
func scanPNGChunks(br *bufio.Reader) (orientation int, animated bool) {
	var h [8]byte
	for range 64 {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(h[:4]))
		switch string(h[4:8]) {
		case "IDAT", "IEND":
			return
		case "eXIf":
			if n > 1<<20 {
				return
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(br, b); err != nil {
				return
			}
			if len(b) >= 6 && string(b[:6]) == "Exif\x00\x00" {
				b = b[6:]
			}
			orientation = exifOrientation(b)
			n = 0
		case "acTL":
			if n >= 4 {
				var fr [4]byte
				if _, err := io.ReadFull(br, fr[:]); err != nil {
					return
				}
				animated = binary.BigEndian.Uint32(fr[:]) > 1
				n -= 4
			}
		}
		if _, err := br.Discard(n + 4); err != nil { // data and CRC
			return
		}
	}
	return
}

// gifFrames counts image descriptors after the screen descriptor and
// global colour table gif.DecodeConfig consumed, stopping at limit. It skips
// sub-blocks without decompressing them.
func gifFrames(br *bufio.Reader, limit int) int {
	frames := 0
	skipSubBlocks := func() bool {
		for {
			n, err := br.ReadByte()
			if err != nil {
				return false
			}
			if n == 0 {
				return true
			}
			if _, err := br.Discard(int(n)); err != nil {
				return false
			}
		}
	}
	for frames < limit {
		c, err := br.ReadByte()
		if err != nil {
			return frames
		}
		switch c {
		case 0x21: // extension: label, then sub-blocks
			if _, err := br.ReadByte(); err != nil || !skipSubBlocks() {
				return frames
			}
		case 0x2c: // image descriptor
			var d [9]byte
			if _, err := io.ReadFull(br, d[:]); err != nil {
				return frames
			}
			frames++
			if d[8]&0x80 != 0 {
				if _, err := br.Discard(3 << (int(d[8]&7) + 1)); err != nil {
					return frames
				}
			}
			if _, err := br.ReadByte(); err != nil || !skipSubBlocks() { // LZW minimum code size
				return frames
			}
		default: // trailer (0x3b) or garbage
			return frames
		}
	}
	return frames
}

// webpMeta reads the VP8X flags (and the ANIM chunk) from the recorded
// head and, when the EXIF flag is set, the orientation from the EXIF chunk
// (usually at the end).
func webpMeta(r io.ReaderAt, head []byte, size int64) (orientation int, animated bool) {
	if len(head) < 21 || string(head[12:16]) != "VP8X" {
		return 0, false
	}
	flags := head[20]
	// The animation flag, or an ANIM chunk right after VP8X (writers that
	// forget the flag still put the chunk there).
	animated = flags&0x02 != 0 || len(head) >= 34 && string(head[30:34]) == "ANIM"
	if flags&0x08 == 0 {
		return 0, animated
	}
	var h [8]byte
	for off, n := int64(12), 0; off+8 <= size && n < 1024; n++ {
		if _, err := r.ReadAt(h[:], off); err != nil {
			return 0, animated
		}
		l := int64(binary.LittleEndian.Uint32(h[4:]))
		if string(h[:4]) == "EXIF" {
			if l > 1<<20 || off+8+l > size {
				return 0, animated
			}
			b := make([]byte, l)
			if _, err := r.ReadAt(b, off+8); err != nil {
				return 0, animated
			}
			if len(b) >= 6 && string(b[:6]) == "Exif\x00\x00" {
				b = b[6:]
			}
			return exifOrientation(b), animated
		}
		off += 8 + l + l&1
	}
	return 0, animated
}

// tiffFileOrientation reads the Orientation tag of a TIFF file's IFD0.
func tiffFileOrientation(r io.ReaderAt) int {
	var h [8]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return 0
	}
	bo, ok := tiffByteOrder(h[:])
	if !ok {
		return 0
	}
	off := int64(bo.Uint32(h[4:]))
	var c [2]byte
	if _, err := r.ReadAt(c[:], off); err != nil {
		return 0
	}
	n := min(int(bo.Uint16(c[:])), 4096)
	entries := make([]byte, 12*n)
	if _, err := r.ReadAt(entries, off+2); err != nil && !errors.Is(err, io.EOF) {
		return 0
	}
	for i := 0; i+12 <= len(entries); i += 12 {
		if bo.Uint16(entries[i:]) == tagOrientation {
			return orientationValue(bo, entries[i:i+12])
		}
	}
	return 0
}

// decodeTIFF decodes a TIFF reading the file in place (tiff.Decode copies
// any reader that is not an io.ReaderAt into memory first).
func decodeTIFF(f *os.File) (image.Image, error) { return tiff.Decode(f) }
