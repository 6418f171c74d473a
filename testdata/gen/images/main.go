// Command images writes the image fixtures in testdata/images (see the
// README there). Run it from the module root:
//
//	go run ./testdata/gen/images
//
// Everything is drawn in Go and encoded with the standard library and
// golang.org/x/image, except WEBP, HEIC, AVIF, CMYK JPEG and an oriented
// TIFF, which need ImageMagick's `convert` (skipped with a message when it
// is missing; the committed files stay). Output is deterministic.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

var (
	out      = flag.String("o", "testdata/images", "output directory")
	heifOnly = flag.Bool("ffmpeg-only", false, "write only the fixtures made with ffmpeg (heif.go: HEIC, animated WEBP)")
)

var (
	bg    = color.RGBA{220, 220, 220, 255}
	red   = color.RGBA{255, 0, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
	green = color.RGBA{0, 160, 0, 255}
)

// pattern is the upright test picture: 64×48, a red block top-left, blue
// top-right, green bottom-left, so every orientation mistake shows.
func pattern() *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(m, m.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(0, 0, 16, 12), image.NewUniform(red), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(48, 0, 64, 12), image.NewUniform(blue), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(0, 36, 16, 48), image.NewUniform(green), image.Point{}, draw.Src)
	return m
}

// stored returns the pixels a camera stores for EXIF orientation o so that
// applying o shows pattern() upright (the inverse transformation).
func stored(m image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(m)
	case 3:
		return imaging.Rotate180(m)
	case 4:
		return imaging.FlipV(m)
	case 5:
		return imaging.Transpose(m)
	case 6:
		return imaging.Rotate90(m)
	case 7:
		return imaging.Transverse(m)
	case 8:
		return imaging.Rotate270(m)
	}
	return m
}

func main() {
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	p := pattern()
	if *heifOnly {
		tmp, err := os.MkdirTemp("", "imagegen")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		writeHEIFFixtures(tmp)
		return
	}

	write("jpeg.jpg", encJPEG(p, 95))
	write("photo é 1.jpg", encJPEG(p, 95))
	for o := 1; o <= 8; o++ {
		write(fmt.Sprintf("orient%d.jpg", o), withExifAPP1(encJPEG(stored(p, o), 95), o, o%2 == 1))
	}
	write("png.png", encPNG(p))
	write("-dash.png", encPNG(p))
	write("png_named.jpg", encPNG(p))
	write("png_exif6.png", withPNGeXIf(encPNG(stored(p, 6)), 6))
	write("alpha.png", encPNG(alphaPattern()))
	write("paletted.png", encPNG(palettedPattern()))
	write("gray.png", encPNG(grayPattern()))
	write("gray.jpg", encJPEG(grayPattern(), 95))
	write("png16.png", encPNG(pattern16()))
	write("gif.gif", encGIF(palettedPattern()))
	write("gif_offset.gif", offsetGIF())
	write("animated.gif", animatedGIF())
	write("bmp.bmp", encBMP(p))
	write("tiff.tif", encTIFF(p))

	write("tiny_10x10.png", encPNG(solidGray(10, 10)))
	write("small_11x11.png", encPNG(solidGray(11, 11)))
	write("ratio_200.png", encPNG(solidGray(2200, 11)))
	write("ratio_201.png", encPNG(solidGray(2201, 11)))
	write("tall_100x20000.png", encPNG(solidGray(100, 20000)))
	write("bomb_100000x100000.png", pngHeaderOnly(100000, 100000))
	write("over8k_8000x4500.png", pngHeaderOnly(8000, 4500))
	write("bmp_5000x3000.bmp", bmpHeaderOnly(5000, 3000))
	write("irot.heic", heifHeader(64, 48, 1))

	jp := encJPEG(p, 95)
	write("truncated.jpg", jp[:100])
	write("truncated.png", encPNG(p)[:20])
	write("garbage.jpg", append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{0x5a}, 64)...))
	write("empty.jpg", nil)
	write("text.png", []byte("this is not an image\n"))

	// Formats Go cannot write: ImageMagick, from PNGs drawn here.
	tmp, err := os.MkdirTemp("", "imagegen")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "p.png")
	src6 := filepath.Join(tmp, "p6.png")
	os.WriteFile(src, encPNG(p), 0o644)
	os.WriteFile(src6, encPNG(stored(p, 6)), 0o644)
	magick("webp.webp", src, "-define", "webp:lossless=true")
	if b := magick("", src6, "-define", "webp:lossless=true", "webp:-"); b != nil {
		write("webp_exif6.webp", webpWithExif(b, 48, 64, 6))
	}
	magick("heic.heic", src, "-quality", "50")
	magick("avif.avif", src, "-quality", "50")
	magick("cmyk.jpg", src, "-colorspace", "CMYK", "-quality", "95")
	magick("tiff_orient6.tif", src6, "-orient", "RightTop", "-compress", "zip")
	// Variants Go's decoders refuse: estimated from their headers; the
	// RLE BMP is decoded by ffmpeg, the TIFFs are sent as they are.
	magick("tiff_cmyk.tif", src, "-colorspace", "CMYK", "-compress", "zip")
	magick("tiff_jpeg.tif", src, "-compress", "JPEG", "-quality", "90")
	if b := magick("", src, "-type", "Palette", "-colors", "200", "-compress", "RLE", "bmp3:-"); b != nil {
		write("bmp_rle8.bmp", b)
	}
	writeHEIFFixtures(tmp)
}

func write(name string, b []byte) {
	if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
		log.Fatal(err)
	}
}

// magick runs `convert SRC -strip ARGS… OUT`; with name "" the last
// argument is the output spec and the bytes are returned.
func magick(name, src string, args ...string) []byte {
	if _, err := exec.LookPath("convert"); err != nil {
		log.Printf("skip %s: ImageMagick convert not found", name)
		return nil
	}
	argv := append([]string{src, "-strip"}, args...)
	if name != "" {
		argv = append(argv, filepath.Join(*out, name))
	}
	cmd := exec.Command("convert", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		log.Printf("skip %s: convert: %v: %s", name, err, stderr.String())
		return nil
	}
	return stdout.Bytes()
}

func encJPEG(m image.Image, q int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(m image.Image) []byte {
	var b bytes.Buffer
	e := png.Encoder{CompressionLevel: png.BestCompression}
	if err := e.Encode(&b, m); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(m *image.Paletted) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func encBMP(m image.Image) []byte {
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func encTIFF(m image.Image) []byte {
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// exifTIFF is a TIFF-structured EXIF block holding only IFD0 Orientation.
func exifTIFF(o int, little bool) []byte {
	var bo binary.AppendByteOrder = binary.BigEndian
	b := []byte("MM\x00*")
	if little {
		bo, b = binary.LittleEndian, []byte("II*\x00")
	}
	b = bo.AppendUint32(b, 8)         // IFD0 offset
	b = bo.AppendUint16(b, 1)         // one entry
	b = bo.AppendUint16(b, 0x0112)    // Orientation
	b = bo.AppendUint16(b, 3)         // SHORT
	b = bo.AppendUint32(b, 1)         // count
	b = bo.AppendUint16(b, uint16(o)) // value, left-justified
	b = append(b, 0, 0)               // padding
	return bo.AppendUint32(b, 0)      // no next IFD
}

// withExifAPP1 inserts an APP1 Exif segment after the SOI marker.
func withExifAPP1(jp []byte, o int, little bool) []byte {
	seg := append([]byte("Exif\x00\x00"), exifTIFF(o, little)...)
	app1 := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jp[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jp[2:]...)
}

func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// withPNGeXIf inserts an eXIf chunk after IHDR (8 + 25 bytes in).
func withPNGeXIf(p []byte, o int) []byte {
	out := append([]byte{}, p[:33]...)
	out = append(out, pngChunk("eXIf", exifTIFF(o, false))...)
	return append(out, p[33:]...)
}

// pngHeaderOnly is a PNG of just IHDR and IEND: a header claiming w×h.
func pngHeaderOnly(w, h int) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	return append(b, pngChunk("IEND", nil)...)
}

// bmpHeaderOnly is a 24-bit BMP file and info header claiming w×h.
func bmpHeaderOnly(w, h int) []byte {
	le := binary.LittleEndian
	b := []byte("BM")
	b = le.AppendUint32(b, uint32(54+w*h*3))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 54)
	b = le.AppendUint32(b, 40)
	b = le.AppendUint32(b, uint32(w))
	b = le.AppendUint32(b, uint32(h))
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 24)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(w*h*3))
	return append(b, make([]byte, 16)...)
}

func box(typ string, payload ...[]byte) []byte {
	var body []byte
	for _, p := range payload {
		body = append(body, p...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = append(b, typ...)
	return append(b, body...)
}

func fullBox(typ string, version byte, payload ...[]byte) []byte {
	return box(typ, append([][]byte{{version, 0, 0, 0}}, payload...)...)
}

// heifHeader is a HEIF file without coded data: ftyp and a meta box whose
// primary item (hvc1) has ispe w×h and irot angle×90° anticlockwise.
func heifHeader(w, h int, angle byte) []byte {
	be := binary.BigEndian
	ftyp := box("ftyp", []byte("heic"), be.AppendUint32(nil, 0), []byte("mif1heic"))
	hdlr := fullBox("hdlr", 0, be.AppendUint32(nil, 0), []byte("pict"), make([]byte, 13))
	pitm := fullBox("pitm", 0, be.AppendUint16(nil, 1))
	infe := fullBox("infe", 2, be.AppendUint16(nil, 1), be.AppendUint16(nil, 0), []byte("hvc1"), []byte{0})
	iinf := fullBox("iinf", 0, be.AppendUint16(nil, 1), infe)
	ispe := fullBox("ispe", 0, be.AppendUint32(nil, uint32(w)), be.AppendUint32(nil, uint32(h)))
	irot := box("irot", []byte{angle})
	ipco := box("ipco", ispe, irot)
	ipma := fullBox("ipma", 0, be.AppendUint32(nil, 1), be.AppendUint16(nil, 1), []byte{2, 0x81, 0x82})
	meta := fullBox("meta", 0, hdlr, pitm, iinf, box("iprp", ipco, ipma))
	return append(ftyp, meta...)
}

// webpWithExif rewraps a simple (VP8/VP8L) WEBP as VP8X with an EXIF chunk.
func webpWithExif(simple []byte, w, h, o int) []byte {
	if len(simple) < 20 || string(simple[8:12]) != "WEBP" {
		log.Fatal("webpWithExif: not a WEBP")
	}
	le := binary.LittleEndian
	img := simple[12:]
	vp8x := []byte{0x08, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	chunk := func(typ string, d []byte) []byte {
		b := append([]byte(typ), le.AppendUint32(nil, uint32(len(d)))...)
		b = append(b, d...)
		if len(d)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	body := append([]byte("WEBP"), chunk("VP8X", vp8x)...)
	body = append(body, img...)
	body = append(body, chunk("EXIF", exifTIFF(o, true))...)
	return append(append([]byte("RIFF"), le.AppendUint32(nil, uint32(len(body)))...), body...)
}

func solidGray(w, h int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 128
	}
	return m
}

func grayPattern() *image.Gray {
	m := image.NewGray(image.Rect(0, 0, 64, 48))
	draw.Draw(m, m.Rect, pattern(), image.Point{}, draw.Src)
	return m
}

func pattern16() *image.NRGBA64 {
	m := image.NewNRGBA64(image.Rect(0, 0, 64, 48))
	draw.Draw(m, m.Rect, pattern(), image.Point{}, draw.Src)
	return m
}

// alphaPattern is the pattern with its bottom-right quadrant fully
// transparent black (flattened: white) and a half-transparent black band.
func alphaPattern() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(m, m.Rect, pattern(), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(32, 24, 64, 48), image.NewUniform(color.NRGBA{0, 0, 0, 0}), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(16, 0, 32, 12), image.NewUniform(color.NRGBA{0, 0, 0, 128}), image.Point{}, draw.Src)
	return m
}

func palettedPattern() *image.Paletted {
	m := image.NewPaletted(image.Rect(0, 0, 64, 48), palette.Plan9)
	draw.Draw(m, m.Rect, pattern(), image.Point{}, draw.Src)
	return m
}

// offsetGIF has a 64×48 screen whose only frame is 32×24 at (8, 8).
func offsetGIF() []byte {
	fr := image.NewPaletted(image.Rect(8, 8, 40, 32), palette.Plan9)
	draw.Draw(fr, fr.Rect, image.NewUniform(red), image.Point{}, draw.Src)
	g := &gif.GIF{Image: []*image.Paletted{fr}, Delay: []int{0},
		Config: image.Config{ColorModel: color.Palette(palette.Plan9), Width: 64, Height: 48}}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// animatedGIF has three frames: the pattern, then the red block moving.
func animatedGIF() []byte {
	g := &gif.GIF{Config: image.Config{ColorModel: color.Palette(palette.Plan9), Width: 64, Height: 48}}
	for i := range 3 {
		m := palettedPattern()
		if i > 0 {
			draw.Draw(m, image.Rect(16*i, 16, 16*i+16, 28), image.NewUniform(red), image.Point{}, draw.Src)
		}
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}
