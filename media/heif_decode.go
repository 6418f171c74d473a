package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"
)

// HEIC/HEIF and AVIF decoding through ffmpeg. ffmpeg 5.1 cannot read the
// HEIF container (its demuxer came in 7.1) but decodes HEVC and AV1
// bitstreams, so vision reads the container itself (heif_items.go): the
// primary item, a single coded image or a grid of tiles. Each tile's coded
// data, prefixed with the decoder configuration from its hvcC (HEVC: VPS,
// SPS, PPS) or av1C (AV1: the sequence header), is turned into the raw
// stream ffmpeg's hevc (Annex B start codes instead of length prefixes) or
// obu demuxer reads, and all tiles go through one ffmpeg run from a pipe.
// ffmpeg writes each decoded tile as a PPM frame, whose header says its size,
// so a stream that decodes to another size than its ispe claims is caught.
// The tiles are placed on the grid and cropped to its output size; irot and
// imir are left to the caller (Info.Orientation, as for EXIF). Not handled:
// alpha planes (auxl items; the colour is decoded as if opaque), overlays
// (iovl) and clean-aperture crops (clap), which phone cameras do not write.

// ErrCannotDecode is wrapped when vision cannot decode an image that may
// still be valid (HEIF without ffmpeg, an item structure it does not read,
// animated WEBP): callers may send the original bytes if the API accepts
// them.
var ErrCannotDecode = errors.New("media: vision cannot decode this image")

// decodeHEIF decodes the primary image of the open HEIF/AVIF file f of size
// bytes as stored (before irot/imir), refusing before any decoding when
// the output or the tiles together have more than maxPixels pixels.
func decodeHEIF(ctx context.Context, f io.ReaderAt, size int64, maxPixels int) (*image.RGBA, error) {
	meta, _, err := readHEIFMeta(f, size)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	m, err := parseHEIFItems(meta[4:])
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	prim := m.items[m.primary]
	if prim == nil {
		return nil, fmt.Errorf("%w: primary item %d is not described: %w", errHEIF, m.primary, ErrCorrupt)
	}
	var tiles []*heifItem
	var grid heifGrid
	switch prim.typ {
	case "hvc1", "av01":
		tiles = []*heifItem{prim}
		grid.rows, grid.cols = 1, 1
		grid.width, grid.height = prim.size()
	case "grid":
		data, err := m.itemData(f, size, prim)
		if err != nil {
			return nil, err
		}
		if grid, err = parseGrid(data); err != nil {
			return nil, err
		}
		ids := m.dimg[prim.id]
		if len(ids) != grid.rows*grid.cols {
			return nil, fmt.Errorf("%w: grid of %dx%d tiles has %d: %w", errHEIF, grid.cols, grid.rows, len(ids), ErrCorrupt)
		}
		for _, id := range ids {
			it := m.items[id]
			if it == nil {
				return nil, fmt.Errorf("%w: grid tile %d is not described: %w", errHEIF, id, ErrCorrupt)
			}
			tiles = append(tiles, it)
		}
	default:
		return nil, fmt.Errorf("%w: primary item of type %q: %w", errHEIF, prim.typ, ErrCannotDecode)
	}
	codec := tiles[0].typ
	tw, th := tiles[0].size()
	for _, t := range tiles {
		if w, h := t.size(); t.typ != codec || w != tw || h != th {
			return nil, fmt.Errorf("%w: tiles differ (%s %dx%d, %s %dx%d): %w", errHEIF, codec, tw, th, t.typ, w, h, ErrCannotDecode)
		}
	}
	if codec != "hvc1" && codec != "av01" {
		return nil, fmt.Errorf("%w: tiles of type %q: %w", errHEIF, codec, ErrCannotDecode)
	}
	if tw <= 0 || th <= 0 || grid.width <= 0 || grid.height <= 0 {
		return nil, fmt.Errorf("%w: no size (ispe) for the image or its tiles: %w", errHEIF, ErrCorrupt)
	}
	if grid.cols*tw < grid.width || grid.rows*th < grid.height {
		return nil, fmt.Errorf("%w: %dx%d tiles of %dx%d do not cover %dx%d: %w", errHEIF, grid.cols, grid.rows, tw, th, grid.width, grid.height, ErrCorrupt)
	}
	out, all := int64(grid.width)*int64(grid.height), int64(tw)*int64(th)*int64(len(tiles))
	if out > int64(maxPixels) || all > 2*int64(maxPixels) {
		return nil, fmt.Errorf("%dx%d from %d tiles of %dx%d (%d pixels) is over the decode limit of %d: %w",
			grid.width, grid.height, len(tiles), tw, th, max(out, all), maxPixels, ErrTooManyPixels)
	}
	var stream bytes.Buffer
	for _, t := range tiles {
		data, err := m.itemData(f, size, t)
		if err != nil {
			return nil, err
		}
		if err := appendTile(&stream, t, data); err != nil {
			return nil, err
		}
	}
	canvas := image.NewRGBA(image.Rect(0, 0, grid.width, grid.height))
	k := 0
	err = runHEIFDecoder(ctx, codec, heifColour(prim, tiles[0]), stream.Bytes(), len(tiles), tw*th, func(w, h int, rgb []byte) error {
		if w != tw || h != th {
			return fmt.Errorf("%w: tile %d decodes to %dx%d, its ispe says %dx%d: %w", errHEIF, k, w, h, tw, th, ErrCorrupt)
		}
		placeTile(canvas, rgb, w, h, (k%grid.cols)*tw, (k/grid.cols)*th)
		k++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if k != len(tiles) {
		return nil, fmt.Errorf("%w: ffmpeg decoded %d of %d tiles: %w", errHEIF, k, len(tiles), ErrCorrupt)
	}
	return canvas, nil
}

// appendTile appends one tile's coded image, with its decoder
// configuration, in the raw form ffmpeg's hevc or obu demuxer reads.
func appendTile(w *bytes.Buffer, t *heifItem, data []byte) error {
	switch t.typ {
	case "hvc1":
		cfg, ok := t.prop("hvcC")
		if !ok {
			return fmt.Errorf("%w: item %d has no hvcC: %w", errHEIF, t.id, ErrCorrupt)
		}
		lengthSize, err := appendHVCCNALs(w, cfg)
		if err != nil {
			return err
		}
		return appendLengthPrefixed(w, data, lengthSize, t.id)
	case "av01":
		w.Write([]byte{0x12, 0x00}) // temporal delimiter OBU: one temporal unit per tile
		if cfg, ok := t.prop("av1C"); ok && len(cfg) > 4 {
			w.Write(cfg[4:]) // configOBUs: the sequence header
		}
		w.Write(data)
		return nil
	}
	return fmt.Errorf("%w: item type %q: %w", errHEIF, t.typ, ErrCannotDecode)
}

var startCode = []byte{0, 0, 0, 1}

// appendHVCCNALs writes the parameter-set NAL units of an
// HEVCDecoderConfigurationRecord with start codes and returns the length
// size of the NAL units in the samples.
func appendHVCCNALs(w *bytes.Buffer, cfg []byte) (int, error) {
	if len(cfg) < 23 {
		return 0, fmt.Errorf("%w: hvcC of %d bytes: %w", errHEIF, len(cfg), ErrCorrupt)
	}
	lengthSize := int(cfg[21]&3) + 1
	r := byteReader{b: cfg, off: 22}
	arrays := int(r.u8())
	for range arrays {
		r.u8() // completeness and NAL unit type
		n := int(r.u16())
		for range n {
			nal := r.take(int(r.u16()))
			if r.err != nil {
				break
			}
			w.Write(startCode)
			w.Write(nal)
		}
	}
	if r.err != nil {
		return 0, fmt.Errorf("%w: hvcC: %v: %w", errHEIF, r.err, ErrCorrupt)
	}
	return lengthSize, nil
}

// appendLengthPrefixed turns NAL units with big-endian length prefixes of
// lengthSize bytes into Annex B (start codes).
func appendLengthPrefixed(w *bytes.Buffer, data []byte, lengthSize int, id uint32) error {
	for off := 0; off < len(data); {
		if off+lengthSize > len(data) {
			return fmt.Errorf("%w: item %d: truncated NAL length: %w", errHEIF, id, ErrCorrupt)
		}
		var n int
		for _, b := range data[off : off+lengthSize] {
			n = n<<8 | int(b)
		}
		off += lengthSize
		if n > len(data)-off {
			return fmt.Errorf("%w: item %d: NAL unit of %d bytes past the item's end: %w", errHEIF, id, n, ErrCorrupt)
		}
		w.Write(startCode)
		w.Write(data[off : off+n])
		off += n
	}
	return nil
}

// heifColour returns the scale filter options that make ffmpeg convert to
// RGB with the matrix and range the colr nclx box states (the HEVC stream's
// own VUI often leaves them out), or "" to let ffmpeg follow the stream.
func heifColour(items ...*heifItem) string {
	for _, it := range items {
		d, ok := it.prop("colr")
		if !ok || len(d) < 11 || string(d[:4]) != "nclx" {
			continue
		}
		matrix := map[uint16]string{1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020"}[binary.BigEndian.Uint16(d[8:])]
		rng := "tv"
		if d[10]&0x80 != 0 {
			rng = "pc"
		}
		opts := "in_range=" + rng
		if matrix != "" {
			opts += ":in_color_matrix=" + matrix
		}
		return opts
	}
	return ""
}

// heifDecodeArgs is the ffmpeg command line that decodes n coded images
// of codec (hvc1 or av01) from stdin to PPM frames on stdout. The decoder
// refuses frames over maxPixels (with room for the coded size's padding):
// a bitstream can claim a far larger size than the container's ispe.
func heifDecodeArgs(codec, colour string, n, maxPixels int) []string {
	demuxer := map[string]string{"hvc1": "hevc", "av01": "obu"}[codec]
	scale := "scale=w=iw:h=ih:flags=bicubic+accurate_rnd+full_chroma_int"
	if colour != "" {
		scale += ":" + colour
	}
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1",
		"-max_pixels", strconv.Itoa(maxPixels + maxPixels/4 + 64*64), "-f", demuxer, "-i", "pipe:0", "-vf", scale + ",format=rgb24", "-fps_mode", "passthrough",
		"-frames:v", strconv.Itoa(n), "-f", "image2pipe", "-c:v", "ppm", "pipe:1"}
}

// runHEIFDecoder feeds stream to ffmpeg and calls each for every decoded
// frame, in order; a frame of more than tilePixels pixels is refused before
// its pixels are read (ErrCorrupt). A missing ffmpeg or a stream ffmpeg
// refuses gives an error wrapping ErrCannotDecode.
func runHEIFDecoder(ctx context.Context, codec, colour string, stream []byte, n, tilePixels int, each func(w, h int, rgb []byte) error) error {
	return runPPMDecoder(ctx, heifDecodeArgs(codec, colour, n, tilePixels), bytes.NewReader(stream), n, tilePixels, each)
}

// runPPMDecoder runs ffmpeg with args (which write PPM frames to stdout)
// and calls each for up to n frames, in order; a frame of more than
// maxPixels pixels is refused from its header (ErrCorrupt). stdin, if not
// nil, feeds ffmpeg's input. A missing ffmpeg or an input ffmpeg refuses
// gives an error wrapping ErrCannotDecode.
func runPPMDecoder(ctx context.Context, args []string, stdin io.Reader, n, maxPixels int, each func(w, h int, rgb []byte) error) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := toolCommand(runCtx, "ffmpeg", args)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotDecode, err)
	}
	cmd.Stdin = stdin
	tail := newTail(stderrTailLines)
	cmd.Stderr = tail
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w: %w", err, ErrCannotDecode)
	}
	br := bufio.NewReaderSize(stdout, 64<<10)
	var loopErr error
	for range n {
		w, h, rgb, err := readPPM(br, maxPixels)
		if err == io.EOF {
			break
		}
		if err != nil {
			loopErr = fmt.Errorf("read ffmpeg output: %w", err)
			break
		}
		if loopErr = each(w, h, rgb); loopErr != nil {
			break
		}
	}
	if loopErr != nil {
		cancel()
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case loopErr != nil:
		return loopErr
	case waitErr != nil:
		return fmt.Errorf("%w: %w", &ToolError{Tool: "ffmpeg", Err: waitErr, Stderr: tail.String()}, ErrCannotDecode)
	}
	return nil
}

// maxPPMSide bounds a PPM frame's sides (HEVC and AV1 allow at most 16888
// and 65536 luma samples a side; tiles are far smaller).
const maxPPMSide = 65536

// readPPM reads one binary PPM (P6, maxval 255) frame.
func readPPM(br *bufio.Reader, maxPixels int) (w, h int, rgb []byte, err error) {
	var fields [4]string
	for i := range fields {
		tok, err := ppmToken(br)
		if err != nil {
			if i == 0 && err == io.EOF {
				return 0, 0, nil, io.EOF
			}
			return 0, 0, nil, fmt.Errorf("ppm header: %w", err)
		}
		fields[i] = tok
	}
	w, werr := strconv.Atoi(fields[1])
	h, herr := strconv.Atoi(fields[2])
	if fields[0] != "P6" || fields[3] != "255" || werr != nil || herr != nil || w <= 0 || h <= 0 || w > maxPPMSide || h > maxPPMSide {
		return 0, 0, nil, fmt.Errorf("ppm header %q", strings.Join(fields[:], " "))
	}
	if w*h > maxPixels { // before allocating: the sides are bounded, the product not
		return 0, 0, nil, fmt.Errorf("%w: a tile decodes to %dx%d, more than its ispe's %d pixels: %w", errHEIF, w, h, maxPixels, ErrCorrupt)
	}
	rgb = make([]byte, 3*w*h)
	if _, err := io.ReadFull(br, rgb); err != nil {
		return 0, 0, nil, fmt.Errorf("ppm pixels: %w", err)
	}
	return w, h, rgb, nil
}

// ppmToken reads a header token and the one white-space byte after it.
func ppmToken(br *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF && len(tok) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch {
		case c == '#' && len(tok) == 0:
			if _, err := br.ReadString('\n'); err != nil {
				return "", err
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			if len(tok) >= 16 {
				return "", fmt.Errorf("token too long")
			}
			tok = append(tok, c)
		}
	}
}

// placeTile copies a w×h RGB tile onto the canvas at (x0, y0), clipped.
func placeTile(dst *image.RGBA, rgb []byte, w, h, x0, y0 int) {
	b := dst.Rect
	for y := 0; y < h && y0+y < b.Max.Y; y++ {
		row := dst.Pix[(y0+y)*dst.Stride:]
		src := rgb[3*w*y : 3*w*(y+1)]
		for x := 0; x < w && x0+x < b.Max.X; x++ {
			d := row[4*(x0+x):]
			d[0], d[1], d[2], d[3] = src[3*x], src[3*x+1], src[3*x+2], 0xff
		}
	}
}
