package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"
)

// Fixtures made with ffmpeg: real HEIC files, written here around libx265 output (ffmpeg 5.1's
// libx265 encoder): HEIF's container is simple enough to write by hand,
// and heif-enc (libheif 1.15) writes neither grids nor irot. Each file is
// checked against heif-convert (Debian libheif-examples) when it is
// installed, whose decode is written to testdata/golden/heif/NAME.png for
// media's decode test.
//
//	heic_single.heic  one hvc1 image, 64×48
//	heic_grid.heic    a 2×2 grid of 64×64 tiles, output 120×100 (cropped)
//	heic_irot.heic    one hvc1 image stored 48×64 with irot 1 (90°
//	                  anticlockwise): upright 64×48
//	heic_imir0.heic   stored upside down with imir axis 0 (top and bottom
//	                  exchanged, EXIF orientation 4)
//	heic_imir1.heic   stored mirrored with imir axis 1 (left and right
//	                  exchanged, EXIF 2)
//	heic_irot_imir.heic stored 48×64 with irot 1 then imir 0, in that ipma
//	                  order (EXIF 5; applied the other way round, or with
//	                  the mirror axes swapped, it would be 7)
//
// and animated WEBP (libwebp_anim): webp_animated.webp (3 frames, 64×48)
// and webp_animated_5000x3000.webp (its header only, above 4K).

// gridPicture is the 120×100 upright picture of the grid fixture: the
// pattern's colour blocks (red top-left, blue top-right, green bottom-left)
// on a horizontal gray ramp, so a misplaced tile or a wrong crop shows.
func gridPicture() *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, 120, 100))
	for y := range 100 {
		for x := range 120 {
			v := uint8(120 + x)
			m.Set(x, y, color.RGBA{v, v, v, 255})
		}
	}
	draw.Draw(m, image.Rect(0, 0, 30, 25), image.NewUniform(red), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(90, 0, 120, 25), image.NewUniform(blue), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(0, 75, 30, 100), image.NewUniform(green), image.Point{}, draw.Src)
	return m
}

func writeHEIFFixtures(tmp string) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		log.Printf("skip HEIC fixtures: ffmpeg not found")
		return
	}
	p := pattern()
	write("heic_single.heic", heifImage(tmp, p))
	write("heic_irot.heic", heifImage(tmp, imaging.Rotate270(p), heifProp{"irot", 1})) // stored turned clockwise; irot turns it back
	write("heic_imir0.heic", heifImage(tmp, imaging.FlipV(p), heifProp{"imir", 0}))
	write("heic_imir1.heic", heifImage(tmp, imaging.FlipH(p), heifProp{"imir", 1}))
	// Shown: turned anticlockwise, then flipped top to bottom; so stored
	// flipped, then turned clockwise.
	write("heic_irot_imir.heic", heifImage(tmp, imaging.Rotate270(imaging.FlipV(p)), heifProp{"irot", 1}, heifProp{"imir", 0}))
	write("heic_grid.heic", heifGridImage(tmp, gridPicture(), 64))
	for _, name := range []string{"heic_single.heic", "heic_irot.heic", "heic_imir0.heic", "heic_imir1.heic", "heic_irot_imir.heic",
		"heic_grid.heic", "heic.heic", "avif.avif"} {
		heifConvertReference(name)
	}
	write("webp_animated.webp", animatedWEBP(tmp))
	write("webp_animated_5000x3000.webp", animatedWEBPHeader(5000, 3000))
}

// animatedWEBP is a 3-frame animated WEBP of the pattern (libwebp_anim),
// the red block moving as in animated.gif.
func animatedWEBP(tmp string) []byte {
	for i := range 3 {
		m := pattern()
		if i > 0 {
			draw.Draw(m, image.Rect(16*i, 16, 16*i+16, 28), image.NewUniform(red), image.Point{}, draw.Src)
		}
		if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("frame%d.png", i)), encPNG(m), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-framerate", "5",
		"-i", filepath.Join(tmp, "frame%d.png"), "-c:v", "libwebp_anim", "-lossless", "1", "-loop", "0", "-f", "webp", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("libwebp_anim: %v: %s", err, stderr.String())
	}
	return stdout.Bytes()
}

// animatedWEBPHeader is the head of an animated WEBP claiming a w×h canvas:
// VP8X with the animation flag and an ANIM chunk, no frames.
func animatedWEBPHeader(w, h int) []byte {
	le := binary.LittleEndian
	vp8x := []byte{0x02, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	body := append([]byte("WEBPVP8X"), le.AppendUint32(nil, uint32(len(vp8x)))...)
	body = append(body, vp8x...)
	body = append(body, "ANIM"...)
	body = append(body, le.AppendUint32(nil, 6)...)
	body = append(body, 0xff, 0xff, 0xff, 0xff, 0, 0)
	return append(append([]byte("RIFF"), le.AppendUint32(nil, uint32(len(body)))...), body...)
}

// heifConvertReference decodes a fixture with heif-convert into the golden
// folder (skipped when heif-convert is missing; the committed files stay).
func heifConvertReference(name string) {
	if _, err := exec.LookPath("heif-convert"); err != nil {
		log.Printf("skip %s reference: heif-convert not found (apt-get install libheif-examples)", name)
		return
	}
	dir := filepath.Join(*out, "..", "golden", "heif")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	png := strings.TrimSuffix(name, filepath.Ext(name)) + ".png"
	cmd := exec.Command("heif-convert", filepath.Join(*out, name), filepath.Join(dir, png))
	if b, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("heif-convert %s: %v: %s", name, err, b)
	}
}

// hevcTile is one image coded by libx265: its parameter sets and the NAL
// units of the picture, each with a 4-byte length prefix.
type hevcTile struct {
	vps, sps, pps []byte
	data          []byte
}

// encodeHEVC codes m as one intra picture with libx265 (4:2:0, 8 bits,
// BT.601 limited range, as ffmpeg converts RGB by default; no x265 info SEI).
func encodeHEVC(tmp string, m image.Image) hevcTile {
	src := filepath.Join(tmp, "tile.png")
	if err := os.WriteFile(src, encPNG(m), 0o644); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", src,
		"-c:v", "libx265", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
		"-x265-params", "info=0:log-level=error:keyint=1:annexb=1", "-frames:v", "1", "-f", "hevc", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("libx265: %v: %s", err, stderr.String())
	}
	var t hevcTile
	for _, nal := range splitAnnexB(stdout.Bytes()) {
		switch typ := nal[0] >> 1 & 0x3f; typ {
		case 32:
			t.vps = nal
		case 33:
			t.sps = nal
		case 34:
			t.pps = nal
		case 35, 39, 40: // access unit delimiter, SEI: not needed
		default:
			t.data = binary.BigEndian.AppendUint32(t.data, uint32(len(nal)))
			t.data = append(t.data, nal...)
		}
	}
	if t.vps == nil || t.sps == nil || t.pps == nil || t.data == nil {
		log.Fatal("libx265 output without parameter sets or picture")
	}
	return t
}

// splitAnnexB splits a byte stream at its 3- and 4-byte start codes.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+3 <= len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nals = append(nals, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		nals = append(nals, b[start:])
	}
	return nals
}

// hvcC is the HEVCDecoderConfigurationRecord of t: profile, tier and level
// copied from the SPS, 4-byte NAL lengths, the three parameter sets.
func hvcC(t hevcTile) []byte {
	rbsp := unescape(t.sps[2:min(len(t.sps), 40)])
	ptl := rbsp[1:13] // after sps_video_parameter_set_id, max_sub_layers, nesting flag
	b := []byte{1}
	b = append(b, ptl...)     // profile_space … general_level_idc (12 bytes)
	b = append(b, 0xf0, 0x00) // min_spatial_segmentation_idc 0
	b = append(b, 0xfc)       // parallelismType 0
	b = append(b, 0xfd)       // chroma_format_idc 1 (4:2:0)
	b = append(b, 0xf8, 0xf8) // 8-bit luma and chroma
	b = append(b, 0, 0)       // avgFrameRate
	b = append(b, 0x0f)       // constantFrameRate 0, 1 temporal layer, nested, lengthSizeMinusOne 3
	b = append(b, 3)          // numOfArrays
	for _, ps := range [][]byte{t.vps, t.sps, t.pps} {
		b = append(b, 0x80|ps[0]>>1&0x3f) // array_completeness, NAL unit type
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ps)))
		b = append(b, ps...)
	}
	return b
}

// unescape removes emulation-prevention bytes (00 00 03 → 00 00).
func unescape(b []byte) []byte {
	var out []byte
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// heifItemSpec is one item written by heifFile.
type heifItemSpec struct {
	typ   string
	data  []byte   // stored in mdat
	props []int    // 1-based ipco indices; essential for hvcC
	refs  []uint16 // dimg references (a grid's tiles)
}

// heifFile writes a HEIF file whose primary item is item 1: ftyp, meta
// (hdlr, pitm, iloc, iinf, iref, iprp) and mdat with every item's data.
func heifFile(items []heifItemSpec, ipco [][]byte) []byte {
	be := binary.BigEndian
	ftyp := box("ftyp", []byte("heic"), be.AppendUint32(nil, 0), []byte("mif1heicmiaf"))
	build := func(mdatStart int) []byte {
		hdlr := fullBox("hdlr", 0, be.AppendUint32(nil, 0), []byte("pict"), make([]byte, 13))
		pitm := fullBox("pitm", 0, be.AppendUint16(nil, 1))
		iloc := []byte{0x44, 0x00} // 4-byte offsets and lengths, no base offset
		iloc = be.AppendUint16(iloc, uint16(len(items)))
		iinf := be.AppendUint16(nil, uint16(len(items)))
		var iref, ipma []byte
		nref := 0
		ipma = be.AppendUint32(ipma, uint32(len(items)))
		off := mdatStart
		for i, it := range items {
			id := uint16(i + 1)
			iloc = be.AppendUint16(iloc, id)
			iloc = be.AppendUint16(iloc, 0) // data_reference_index
			iloc = be.AppendUint16(iloc, 1) // one extent
			iloc = be.AppendUint32(iloc, uint32(off))
			iloc = be.AppendUint32(iloc, uint32(len(it.data)))
			off += len(it.data)
			flags := byte(0)
			if i > 0 && items[0].typ == "grid" {
				flags = 1 // hidden: a tile is not an image of its own
			}
			iinf = append(iinf, box("infe", []byte{2, 0, 0, flags}, be.AppendUint16(nil, id), be.AppendUint16(nil, 0), []byte(it.typ), []byte{0})...)
			if len(it.refs) > 0 {
				r := be.AppendUint16(nil, id)
				r = be.AppendUint16(r, uint16(len(it.refs)))
				for _, to := range it.refs {
					r = be.AppendUint16(r, to)
				}
				iref = append(iref, box("dimg", r)...)
				nref++
			}
			ipma = be.AppendUint16(ipma, id)
			ipma = append(ipma, byte(len(it.props)))
			for _, p := range it.props {
				essential := byte(0)
				if t := string(ipco[p-1][4:8]); t == "hvcC" || t == "irot" || t == "imir" {
					essential = 0x80
				}
				ipma = append(ipma, essential|byte(p))
			}
		}
		parts := [][]byte{hdlr, pitm, fullBox("iloc", 0, iloc), fullBox("iinf", 0, iinf)}
		if nref > 0 {
			parts = append(parts, fullBox("iref", 0, iref))
		}
		parts = append(parts, box("iprp", box("ipco", ipco...), fullBox("ipma", 0, ipma)))
		return fullBox("meta", 0, parts...)
	}
	meta := build(0)
	meta = build(len(ftyp) + len(meta) + 8)
	var data []byte
	for _, it := range items {
		data = append(data, it.data...)
	}
	return append(append(ftyp, meta...), box("mdat", data)...)
}

func ispeBox(w, h int) []byte {
	return fullBox("ispe", 0, binary.BigEndian.AppendUint32(nil, uint32(w)), binary.BigEndian.AppendUint32(nil, uint32(h)))
}

// nclxBox states BT.709 primaries, sRGB transfer, the BT.601 matrix and
// limited range: what libx265 was given.
func nclxBox() []byte {
	return box("colr", []byte("nclx"), []byte{0, 1, 0, 13, 0, 6, 0x00})
}

// heifProp is a one-byte transformative property: irot (angle×90°
// anticlockwise) or imir (axis).
type heifProp struct {
	typ string
	v   byte
}

// heifImage is a single-image HEIC of m with the transformative properties
// transforms, associated in that order.
func heifImage(tmp string, m image.Image, transforms ...heifProp) []byte {
	t := encodeHEVC(tmp, m)
	b := m.Bounds()
	ipco := [][]byte{box("hvcC", hvcC(t)), ispeBox(b.Dx(), b.Dy()), nclxBox()}
	props := []int{1, 2, 3}
	for _, tr := range transforms {
		ipco = append(ipco, box(tr.typ, []byte{tr.v}))
		props = append(props, len(ipco))
	}
	return heifFile([]heifItemSpec{{typ: "hvc1", data: t.data, props: props}}, ipco)
}

// heifGridImage is a HEIC of m as a grid of tile×tile tiles (the last row
// and column padded with gray), with the grid's output size m's.
func heifGridImage(tmp string, m image.Image, tile int) []byte {
	b := m.Bounds()
	cols, rows := (b.Dx()+tile-1)/tile, (b.Dy()+tile-1)/tile
	canvas := image.NewRGBA(image.Rect(0, 0, cols*tile, rows*tile))
	draw.Draw(canvas, canvas.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	draw.Draw(canvas, b, m, b.Min, draw.Src)
	grid := []byte{0, 0, byte(rows - 1), byte(cols - 1)}
	grid = binary.BigEndian.AppendUint16(grid, uint16(b.Dx()))
	grid = binary.BigEndian.AppendUint16(grid, uint16(b.Dy()))
	items := []heifItemSpec{{typ: "grid", data: grid, props: []int{3, 4}}}
	var ipco [][]byte
	for r := range rows {
		for c := range cols {
			t := encodeHEVC(tmp, canvas.SubImage(image.Rect(c*tile, r*tile, (c+1)*tile, (r+1)*tile)))
			if ipco == nil {
				ipco = [][]byte{box("hvcC", hvcC(t)), ispeBox(tile, tile), ispeBox(b.Dx(), b.Dy()), nclxBox()}
			} else if !bytes.Equal(ipco[0], box("hvcC", hvcC(t))) {
				log.Fatal("libx265 wrote different parameter sets for two tiles")
			}
			items[0].refs = append(items[0].refs, uint16(len(items)+1))
			items = append(items, heifItemSpec{typ: "hvc1", data: t.data, props: []int{1, 2}})
		}
	}
	if len(items) > 255 {
		panic(fmt.Sprint(len(items), " tiles"))
	}
	return heifFile(items, ipco)
}
