package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
)

// BMPs the Go decoder refuses (RLE4, RLE8) are decoded by ffmpeg; their
// sizes come from their headers, read here, as do those of TIFFs it refuses
// (CMYK, JPEG compression), which are estimated but not decoded: ffmpeg 5.1
// decodes them to wrong colours (CMYK) or black (JPEG).

// decodeWithFFmpeg decodes the first frame of the image file at path to
// opaque RGB through ffmpeg, refusing frames over maxPixels (ffmpeg's own
// -max_pixels, and the PPM header before its pixels are read). A missing
// ffmpeg or a file it cannot read wraps ErrCannotDecode.
func decodeWithFFmpeg(ctx context.Context, path string, w, h, maxPixels int) (*image.RGBA, error) {
	url, err := fileURL(path)
	if err != nil {
		return nil, err
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
		"-max_pixels", strconv.Itoa(maxPixels), "-i", url, "-frames:v", "1",
		"-vf", "format=rgb24", "-f", "image2pipe", "-c:v", "ppm", "pipe:1"}
	var img *image.RGBA
	err = runPPMDecoder(ctx, args, nil, 1, maxPixels, func(pw, ph int, rgb []byte) error {
		if pw != w || ph != h {
			return fmt.Errorf("ffmpeg decodes %dx%d, the header says %dx%d: %w", pw, ph, w, h, ErrCorrupt)
		}
		img = image.NewRGBA(image.Rect(0, 0, w, h))
		placeTile(img, rgb, w, h, 0, 0)
		return nil
	})
	if err == nil && img == nil {
		err = fmt.Errorf("ffmpeg gave no frame: %w", ErrCannotDecode)
	}
	return img, err
}

// TIFF tags read by tiffIFD0.
const (
	tagImageWidth  = 256
	tagImageLength = 257
	tagCompression = 259
)

// tiffIFD0 reads ImageWidth, ImageLength and Compression from a TIFF file's
// IFD0 (SHORT or LONG values, as TIFF 6.0 allows).
func tiffIFD0(r io.ReaderAt) (w, h, compression int, err error) {
	var hd [8]byte
	if _, err := r.ReadAt(hd[:], 0); err != nil {
		return 0, 0, 0, err
	}
	bo, ok := tiffByteOrder(hd[:])
	if !ok {
		return 0, 0, 0, errors.New("no TIFF byte order")
	}
	off := int64(bo.Uint32(hd[4:]))
	var c [2]byte
	if _, err := r.ReadAt(c[:], off); err != nil {
		return 0, 0, 0, fmt.Errorf("IFD0 at %d: %w", off, err)
	}
	n := min(int(bo.Uint16(c[:])), 4096)
	entries := make([]byte, 12*n)
	if _, err := r.ReadAt(entries, off+2); err != nil {
		return 0, 0, 0, fmt.Errorf("IFD0 entries: %w", err)
	}
	for i := 0; i+12 <= len(entries); i += 12 {
		e := entries[i : i+12]
		var v int
		switch bo.Uint16(e[2:]) {
		case 3: // SHORT
			v = int(bo.Uint16(e[8:]))
		case 4: // LONG
			v = int(bo.Uint32(e[8:]) & 0x7fffffff)
		default:
			continue
		}
		switch bo.Uint16(e) {
		case tagImageWidth:
			w = v
		case tagImageLength:
			h = v
		case tagCompression:
			compression = v
		}
	}
	if w <= 0 || h <= 0 {
		return 0, 0, 0, fmt.Errorf("IFD0 gives no image size (%dx%d)", w, h)
	}
	return w, h, compression, nil
}

// bmpHeaderSize reads a BMP's size from its BITMAPINFOHEADER (or a later
// version; a negative height is a top-down bitmap), whatever its
// compression.
func bmpHeaderSize(r io.ReaderAt) (w, h int, err error) {
	var hd [26]byte
	if _, err := r.ReadAt(hd[:], 0); err != nil {
		return 0, 0, err
	}
	if string(hd[:2]) != "BM" || binary.LittleEndian.Uint32(hd[14:]) < 40 {
		return 0, 0, errors.New("no BITMAPINFOHEADER")
	}
	w = int(int32(binary.LittleEndian.Uint32(hd[18:])))
	h = int(int32(binary.LittleEndian.Uint32(hd[22:])))
	if h < 0 {
		h = -h
	}
	if w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("image size %dx%d", w, h)
	}
	return w, h, nil
}
