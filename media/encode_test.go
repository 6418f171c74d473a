package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/qwen-vision/vision/tokens"
)

func probeT(t testing.TB, p string) Info {
	t.Helper()
	info, err := Probe(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func planT(t testing.TB, info Info, spec tokens.Spec) tokens.ImagePlan {
	t.Helper()
	plan, err := tokens.PlanImage(info.Width, info.Height, spec, tokens.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func decodeBytes(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPrepareOrientations resizes every oriented JPEG to the planned size
// (64×48 → 320×224 on qwen3-vl-plus) and checks it comes out upright.
func TestPrepareOrientations(t *testing.T) {
	spec := qwen3VLPlus(t)
	for o := 1; o <= 8; o++ {
		p := filepath.Join(imagesDir, "orient"+string(rune('0'+o))+".jpg")
		info := probeT(t, p)
		plan := planT(t, info, spec)
		got, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := decodeBytes(t, got.Data)
		if b := img.Bounds(); b.Dx() != plan.ResizedWidth || b.Dy() != plan.ResizedHeight || got.Width != b.Dx() || got.Height != b.Dy() {
			t.Fatalf("orientation %d: got %v (%dx%d), want %dx%d", o, b, got.Width, got.Height, plan.ResizedWidth, plan.ResizedHeight)
		}
		if !got.Reencoded || got.MIME != "image/jpeg" || got.Quality != DefaultQuality {
			t.Errorf("orientation %d: %+v", o, got)
		}
		checkPattern(t, img, 40)
	}
}

// TestPrepareKeepsOriginal: at its smart size already, upright, in an
// accepted format, the file is sent as it is.
func TestPrepareKeepsOriginal(t *testing.T) {
	spec := tokens.CustomSpec(16) // 64×48 is a multiple of 16 within bounds
	for _, name := range []string{"png.png", "jpeg.jpg", "webp.webp", "bmp.bmp", "tiff.tif"} {
		p := filepath.Join(imagesDir, name)
		info := probeT(t, p)
		plan := planT(t, info, spec)
		got, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(p)
		if got.Reencoded || !bytes.Equal(got.Data, orig) || got.MIME != info.MIME {
			t.Errorf("%s: reencoded=%v mime=%s, want the original bytes", name, got.Reencoded, got.MIME)
		}
	}
	for _, name := range []string{"orient6.jpg", "gif.gif", "cmyk.jpg", "orient2.jpg"} {
		p := filepath.Join(imagesDir, name)
		info := probeT(t, p)
		got, err := PrepareImage(context.Background(), p, info, planT(t, info, spec), EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Reencoded {
			t.Errorf("%s: kept the original; want a re-encode", name)
		}
		checkPattern(t, decodeBytes(t, got.Data), 40)
	}
	// Asking for PNG re-encodes a JPEG even at its size.
	p := filepath.Join(imagesDir, "jpeg.jpg")
	info := probeT(t, p)
	got, err := PrepareImage(context.Background(), p, info, planT(t, info, spec), EncodeOptions{Format: "png"})
	if err != nil || got.MIME != "image/png" || !got.Reencoded {
		t.Fatalf("png: %v %+v", err, got.MIME)
	}
}

// noisyPNG writes a w×h image of random pixels (incompressible for JPEG).
func noisyPNG(t *testing.T, w, h int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.Uint32())
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	p := filepath.Join(t.TempDir(), "noise.png")
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrepareFitsLimit(t *testing.T) {
	p := noisyPNG(t, 512, 512)
	info := probeT(t, p)
	spec := tokens.CustomSpec(16)
	plan := planT(t, info, spec)
	img, err := DecodeUpright(context.Background(), p, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := func(q int) int {
		d, err := encodeJPEG(img, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(d)
	}
	// A base64 limit between the sizes at quality 70 and 80: 70 is chosen.
	spec.ImageBase64MaxBytes = (Base64Len(at(70), "image/jpeg") + Base64Len(at(80), "image/jpeg")) / 2
	got, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{}.WithLimits(spec, TransportBase64))
	if err != nil {
		t.Fatal(err)
	}
	if got.Quality != 70 || !strings.Contains(strings.Join(got.Notes, "\n"), "from 90 to 70") {
		t.Errorf("quality %d, notes %q", got.Quality, got.Notes)
	}
	if n := Base64Len(len(got.Data), got.MIME); n > spec.ImageBase64MaxBytes {
		t.Errorf("data URL %d over %d", n, spec.ImageBase64MaxBytes)
	}
	if ps := ValidatePrepared(p, got, spec, TransportBase64); len(ps) != 0 {
		t.Errorf("ValidatePrepared: %v", ps)
	}
	// PNG over the limit falls back to JPEG.
	got, err = PrepareImage(context.Background(), p, info, plan, EncodeOptions{Format: "png"}.WithLimits(spec, TransportBase64))
	if err != nil || got.MIME != "image/jpeg" || !strings.Contains(strings.Join(got.Notes, "\n"), "sent as JPEG") {
		t.Errorf("png fallback: %v %s %q", err, got.MIME, got.Notes)
	}
	// Below the size at quality 50: an error.
	spec.ImageBase64MaxBytes = Base64Len(at(50), "image/jpeg") - 1
	_, err = PrepareImage(context.Background(), p, info, plan, EncodeOptions{}.WithLimits(spec, TransportBase64))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// With an upload limit between the sizes at quality 80 and 90, the same
	// encodes give quality 80 for upload: no second ladder.
	enc := EncodeOptions{UploadMaxBytes: int64((at(80) + at(90)) / 2)}.WithLimits(spec, TransportBase64)
	got, err = PrepareImage(context.Background(), p, info, plan, enc)
	if err != nil || !got.Upload || got.Quality != 80 || int64(len(got.Data)) > enc.UploadMaxBytes {
		t.Fatalf("upload fall-back: %v upload=%v quality %d, %d bytes", err, got.Upload, got.Quality, len(got.Data))
	}
	if notes := strings.Join(got.Notes, "\n"); !strings.Contains(notes, "temporary upload") || !strings.Contains(notes, "from 90 to 80") {
		t.Errorf("notes %q", got.Notes)
	}
	// Nothing fits the upload limit either: ErrTooLarge.
	enc.UploadMaxBytes = int64(at(50) - 1)
	if _, err = PrepareImage(context.Background(), p, info, plan, enc); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// A kept original over the file limit is re-encoded instead.
	spec.ImagePathMaxBytes = info.Bytes - 1
	got, err = PrepareImage(context.Background(), p, info, plan, EncodeOptions{}.WithLimits(spec, TransportPath))
	if err != nil || !got.Reencoded {
		t.Fatalf("path limit: %v reencoded=%v", err, got.Reencoded)
	}
	if ps := ValidatePrepared(p, Prepared{Data: make([]byte, 11), MIME: "image/jpeg"}, tokens.Spec{ImageURLMaxBytes: 10}, TransportURL); len(ps) != 1 || ps[0].Code != "image.too_large_url" {
		t.Errorf("ValidatePrepared = %v", ps)
	}
}

func TestPrepareCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := filepath.Join(imagesDir, "png.png")
	info := probeT(t, p)
	if _, err := PrepareImage(ctx, p, info, planT(t, info, qwen3VLPlus(t)), EncodeOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// photo draws a smooth, photo-like w×h image with fine texture.
func photo(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			n := int(r.Uint32()%24) - 12
			m.Pix[i] = clamp8(x*255/w + n)
			m.Pix[i+1] = clamp8(y*255/h + n)
			m.Pix[i+2] = clamp8(128 + (x/37+y/29)%2*60 - 30 + n)
			m.Pix[i+3] = 255
		}
	}
	return m
}

func clamp8(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// TestResizeExactAndClose: Resize gives exactly the requested size, and
// the box pre-shrink stays within about one level of a direct Catmull-Rom.
func TestResizeExactAndClose(t *testing.T) {
	src := photo(1000, 750, 3)
	var jb bytes.Buffer
	jpeg.Encode(&jb, src, &jpeg.Options{Quality: 95})
	ycc, _ := jpeg.Decode(&jb) // *image.YCbCr 4:2:0
	for _, in := range []image.Image{src, ycc, imaging.Grayscale(src)} {
		for _, sz := range [][2]int{{448, 320}, {224, 160}, {96, 64}, {1024, 768}, {1000, 750}, {32, 2000}} {
			got := Resize(in, sz[0], sz[1])
			if b := got.Bounds(); b.Dx() != sz[0] || b.Dy() != sz[1] {
				t.Fatalf("%T → %v, want %v", in, b, sz)
			}
		}
		a := imaging.Resize(in, 224, 160, imaging.CatmullRom)
		b := Resize(in, 224, 160)
		if d := meanAbsDiff(a, b); d > 2 {
			t.Errorf("%T: pre-shrunk resize differs from direct by %.2f levels on average", in, d)
		}
	}
}

func meanAbsDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c1 := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA)
			c2 := color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			sum += float64(abs(int(c1.R)-int(c2.R)) + abs(int(c1.G)-int(c2.G)) + abs(int(c1.B)-int(c2.B)))
			n += 3
		}
	}
	return sum / n
}

func TestDataURL(t *testing.T) {
	for n := range 10 {
		data := bytes.Repeat([]byte{0xfb}, n)
		u := DataURL("image/jpeg", data)
		if int64(len(u)) != Base64Len(n, "image/jpeg") {
			t.Errorf("n=%d: len %d, Base64Len %d", n, len(u), Base64Len(n, "image/jpeg"))
		}
		if !strings.HasPrefix(u, "data:image/jpeg;base64,") {
			t.Errorf("prefix: %s", u)
		}
	}
	if got := DataURL("image/png", []byte("hi?")); got != "data:image/png;base64,aGk/" {
		t.Errorf("got %s", got)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out é.jpg")
	for _, s := range []string{"first", "second"} {
		if err := WriteFileAtomic(p, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Fatalf("read %q", b)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("perm %v", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o644); err == nil {
		t.Error("no error for a missing directory")
	}
	link := filepath.Join(dir, "link")
	os.Symlink(p, link)
	if !SameFile(p, link) || SameFile(p, filepath.Join(dir, "nope")) || SameFile(p, filepath.Join(imagesDir, "png.png")) {
		t.Error("SameFile")
	}
}

func TestCountProblems(t *testing.T) {
	spec := qwen3VLPlus(t)
	for _, c := range []struct {
		n    int
		t    Transport
		want int
	}{{250, TransportBase64, 0}, {251, TransportBase64, 1}, {256, TransportURL, 0}, {257, TransportPath, 1}} {
		if got := CountProblems(c.n, spec, c.t); len(got) != c.want {
			t.Errorf("%d %s: %v", c.n, c.t, got)
		}
	}
	s37, _ := tokens.FamilySpec(tokens.FamilyQwen37, false)
	if got := CountProblems(2048, s37, TransportURL); len(got) != 0 {
		t.Errorf("qwen3.7 2048 by URL: %v", got)
	}
	if got := CountProblems(2049, s37, TransportURL); len(got) != 1 || got[0].Code != "image.too_many" || got[0].Severity != SeverityError || !strings.Contains(got[0].Fix, "2048") {
		t.Errorf("qwen3.7 2049 by URL: %v", got)
	}
	if got := CountProblems(251, s37, TransportBase64); len(got) != 1 || !strings.Contains(got[0].Message, "at most 250 as base64") {
		t.Errorf("qwen3.7 251 as base64: %v", got)
	}
}

func TestValidateSizes(t *testing.T) {
	spec := qwen3VLPlus(t)
	info := Info{Path: "big.jpg", Kind: KindImage, Format: "jpeg", MIME: "image/jpeg", Width: 4000, Height: 3000,
		CodedWidth: 4000, CodedHeight: 3000, Bytes: 8 * tokens.MB}
	codes := func(t Transport) []string {
		var c []string
		for _, p := range ValidateImage(info, spec, tokens.ImageOptions{}, t) {
			c = append(c, p.Code+"/"+string(p.Severity))
		}
		return c
	}
	// 8 MB → 10.67 MB of base64: over; fine as a path or URL.
	if got := codes(TransportBase64); len(got) != 1 || got[0] != "image.too_large_base64/warning" {
		t.Errorf("base64: %v", got)
	}
	if got := codes(TransportPath); len(got) != 0 {
		t.Errorf("path: %v", got)
	}
	info.Format, info.MIME = "webp", "image/webp"
	if got := codes(TransportURL); len(got) != 1 || got[0] != "image.format_4k/warning" {
		t.Errorf("webp 4000x3000: %v", got)
	}
	// A tiny max_pixels gives a zero side.
	info = Info{Path: "strip.png", Kind: KindImage, Format: "png", Width: 500, Height: 11, CodedWidth: 500, CodedHeight: 11}
	s25, _ := tokens.FamilySpec(tokens.FamilyQwen25VL, false)
	ps := ValidateImage(info, tokens.CustomSpec(28), tokens.ImageOptions{MaxPixels: 3136, MinPixels: 100}, TransportURL)
	if len(ps) != 1 || ps[0].Code != "image.resize_zero_side" {
		t.Errorf("zero side: %v", ps)
	}
	ps = ValidateImage(info, s25, tokens.ImageOptions{MaxPixels: 1}, TransportURL)
	if len(ps) != 1 || ps[0].Code != "image.options" {
		t.Errorf("options: %v", ps)
	}
}

// pngDepth reads a PNG's IHDR bit depth and colour type.
func pngDepth(t *testing.T, data []byte) (depth, colorType byte) {
	t.Helper()
	if len(data) < 26 || string(data[:8]) != "\x89PNG\r\n\x1a\n" || string(data[12:16]) != "IHDR" {
		t.Fatalf("not a PNG: % x", data[:min(len(data), 26)])
	}
	return data[24], data[25]
}

// TestEncodePNG8Bit: every image type vision can hold is written as an
// 8-bit PNG (image/png alone writes YCbCr, CMYK and 16-bit images with 16
// bits a sample): gray stays gray, opaque colour is RGB, alpha RGBA.
func TestEncodePNG8Bit(t *testing.T) {
	r := image.Rect(0, 0, 8, 6)
	nrgba := image.NewNRGBA(r)
	nrgba.Pix[3] = 10 // one translucent pixel
	for _, c := range []struct {
		name      string
		img       image.Image
		colorType byte // 0 gray, 2 RGB, 3 paletted, 6 RGBA
	}{
		{"ycbcr", image.NewYCbCr(r, image.YCbCrSubsampleRatio420), 2},
		{"cmyk", image.NewCMYK(r), 2},
		{"gray", image.NewGray(r), 0},
		{"gray16", image.NewGray16(r), 0},
		{"rgba64", opaque64(r), 2},
		{"nrgba translucent", nrgba, 6},
		{"opaque nrgba", imaging.New(8, 6, color.White), 2},
	} {
		data, err := encodePNG(c.img)
		if err != nil {
			t.Fatal(err)
		}
		if d, ct := pngDepth(t, data); d != 8 || ct != c.colorType {
			t.Errorf("%s: bit depth %d colour type %d, want 8 and %d", c.name, d, ct, c.colorType)
		}
	}
	// Through PrepareImage: a JPEG already at its size, asked for as PNG,
	// reaches the encoder as YCbCr.
	p := filepath.Join(imagesDir, "jpeg.jpg")
	info := probeT(t, p)
	got, err := PrepareImage(context.Background(), p, info, planT(t, info, tokens.CustomSpec(16)), EncodeOptions{Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	if d, ct := pngDepth(t, got.Data); d != 8 || ct != 2 {
		t.Errorf("jpeg.jpg as PNG: bit depth %d colour type %d, want 8-bit RGB", d, ct)
	}
}

func opaque64(r image.Rectangle) *image.RGBA64 {
	m := image.NewRGBA64(r)
	for i := 6; i < len(m.Pix); i += 8 {
		m.Pix[i], m.Pix[i+1] = 0xff, 0xff
	}
	return m
}
