package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// psnr is the peak signal-to-noise ratio of b against a over RGB, in dB.
func psnr(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v and %v", a.Bounds(), b.Bounds())
	}
	var se float64
	ab, bb := a.Bounds(), b.Bounds()
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
			}
		}
	}
	mse := se / float64(3*ab.Dx()*ab.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func readImage(t *testing.T, p string) image.Image {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return decodeBytes(t, data)
}

// TestDecodeHEIFMatchesHeifConvert decodes real HEIC files (one image, a
// grid of 2×2 tiles cropped to 120×100, an irot-rotated one, two mirrored
// by imir on either axis, one turned and mirrored, ImageMagick's)
// and an AVIF through ffmpeg and compares them with libheif's heif-convert
// decode of the same files (testdata/golden/heif, written by the fixture
// generator), which applies irot itself: the same pixels, upright. Without
// the irot turn, heic_irot would not even have the reference's size.
func TestDecodeHEIFMatchesHeifConvert(t *testing.T) {
	needFFmpeg(t)
	for _, name := range []string{"heic.heic", "heic_single.heic", "heic_irot.heic", "heic_imir0.heic", "heic_imir1.heic",
		"heic_irot_imir.heic", "heic_grid.heic", "avif.avif"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(imagesDir, name)
			info := probeT(t, p)
			img, err := DecodeUpright(context.Background(), p, info, 0)
			if err != nil {
				t.Fatal(err)
			}
			ref := readImage(t, filepath.Join("..", "testdata", "golden", "heif", strings.TrimSuffix(name, filepath.Ext(name))+".png"))
			// ~33 dB: libheif upsamples chroma by repeating samples,
			// ffmpeg bicubically, which differs at the saturated block
			// edges; a misplaced tile, a wrong matrix or range or a
			// missing rotation costs far more.
			if db := psnr(t, img, ref); db < 30 {
				t.Errorf("PSNR against heif-convert %.1f dB, want ≥ 30", db)
			}
		})
	}
}

// TestDecodeHEIFGrid: the 2×2 grid's tiles land in place and the output is
// cropped to 120×100 (the last column is the ramp's 239, not padding).
func TestDecodeHEIFGrid(t *testing.T) {
	needFFmpeg(t)
	p := filepath.Join(imagesDir, "heic_grid.heic")
	img, err := DecodeUpright(context.Background(), p, probeT(t, p), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 120, 100) {
		t.Fatalf("bounds %v, want 120x100", b)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{5, 5, cRed}, {115, 5, cBlue}, {5, 95, cGreen},
		{60, 50, color.RGBA{180, 180, 180, 255}},  // ramp 120+x, across the tile seams
		{119, 99, color.RGBA{239, 239, 239, 255}}, // last pixel of the crop
		{70, 70, color.RGBA{190, 190, 190, 255}},  // bottom-right tile
	} {
		if got := img.At(c.x, c.y); !near(got, c.want, 12) {
			t.Errorf("(%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

// TestDecodeHEIFRefusesLargeTiles: tiles whose ispe claims more pixels than
// the decode limit allows are refused from the header, before ffmpeg runs
// (PATH is empty, so reaching ffmpeg would give another error).
func TestDecodeHEIFRefusesLargeTiles(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(imagesDir, "heic_grid.heic"))
	if err != nil {
		t.Fatal(err)
	}
	// The tiles' ispe (64×64) claims 60000×60000; the grid still says 120×100.
	old := []byte("ispe\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x40")
	if bytes.Count(data, old) != 1 {
		t.Fatal("tile ispe not found")
	}
	p := filepath.Join(t.TempDir(), "tiles.heic")
	os.WriteFile(p, bytes.Replace(data, old, []byte("ispe\x00\x00\x00\x00\x00\x00\xea\x60\x00\x00\xea\x60"), 1), 0o644)
	t.Setenv("PATH", "")
	info := probeT(t, p)
	if info.Width != 120 || info.Height != 100 {
		t.Fatalf("probe %dx%d", info.Width, info.Height)
	}
	if _, err := DecodeUpright(context.Background(), p, info, 0); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	// The grid's own output size counts too.
	if _, err := DecodeUpright(context.Background(), filepath.Join(imagesDir, "heic_grid.heic"), info, 11000); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
}

// TestDecodeHEIFBitstreamLargerThanISPE: the container's ispe claims a
// smaller image (32x24) than its HEVC bitstream codes (64x48): the size
// checks on the ispe must still bind, so ffmpeg's decoder is capped
// (-max_pixels) and a larger PPM frame is refused before its pixels are
// allocated. Either way the decode fails; it never returns the bitstream's
// size.
func TestDecodeHEIFBitstreamLargerThanISPE(t *testing.T) {
	needFFmpeg(t)
	data, err := os.ReadFile(filepath.Join(imagesDir, "heic_single.heic"))
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("ispe\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x30")
	if bytes.Count(data, old) != 1 {
		t.Fatal("ispe not found")
	}
	p := filepath.Join(t.TempDir(), "small_ispe.heic")
	os.WriteFile(p, bytes.Replace(data, old, []byte("ispe\x00\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00\x18"), 1), 0o644)
	info := probeT(t, p)
	if img, err := DecodeUpright(context.Background(), p, info, 0); err == nil {
		t.Fatalf("decoded %v from a 32x24 ispe", img.Bounds())
	}
}

// TestReadPPMRefusesBeforeAllocating: a PPM header claiming 60000x60000
// (10.8 GB of RGB) with a limit of 64x48 is refused from the header.
func TestReadPPMRefusesBeforeAllocating(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("P6\n60000 60000\n255\n\x00\x00\x00"))
	if _, _, _, err := readPPM(br, 64*48); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	br = bufio.NewReader(strings.NewReader("P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06"))
	if w, h, rgb, err := readPPM(br, 2); err != nil || w != 2 || h != 1 || len(rgb) != 6 {
		t.Fatalf("readPPM = %d %d %v %v", w, h, rgb, err)
	}
}

// TestPrepareHEICResized: a HEIC goes through the normal resize and encode
// path: a JPEG at exactly the planned size, upright.
func TestPrepareHEICResized(t *testing.T) {
	needFFmpeg(t)
	spec := qwen3VLPlus(t)
	for _, name := range []string{"heic_irot.heic", "heic_single.heic", "heic_grid.heic"} {
		p := filepath.Join(imagesDir, name)
		info := probeT(t, p)
		plan := planT(t, info, spec)
		got, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{ExactSize: true})
		if err != nil {
			t.Fatal(err)
		}
		img := decodeBytes(t, got.Data)
		if b := img.Bounds(); got.MIME != "image/jpeg" || b.Dx() != plan.ResizedWidth || b.Dy() != plan.ResizedHeight {
			t.Fatalf("%s: %s %v, planned %dx%d", name, got.MIME, b, plan.ResizedWidth, plan.ResizedHeight)
		}
		if name != "heic_grid.heic" {
			checkPattern(t, img, 40)
		}
	}
}

// TestUndecodableFallback: without ffmpeg a HEIC below 4K is sent as its
// original bytes (image/heic) with a note and a warning, since the API
// accepts HEIC there; AVIF, which the API does not accept, is an error, as
// is an animated WEBP above 4K; `resize` (ExactSize) never falls back.
func TestUndecodableFallback(t *testing.T) {
	spec := qwen3VLPlus(t)
	anim := filepath.Join(imagesDir, "webp_animated.webp")
	animInfo := probeT(t, anim)
	t.Setenv("PATH", "")
	heic := filepath.Join(imagesDir, "heic_single.heic")
	info := probeT(t, heic)
	plan := planT(t, info, spec)

	got, err := PrepareImage(context.Background(), heic, info, plan, EncodeOptions{}.WithLimits(spec, TransportBase64))
	orig, _ := os.ReadFile(heic)
	if err != nil || got.MIME != "image/heic" || !bytes.Equal(got.Data, orig) || got.Reencoded || len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "original HEIC file is sent") {
		t.Fatalf("fallback: %v %s reencoded=%v notes=%q", err, got.MIME, got.Reencoded, got.Notes)
	}
	if _, err := PrepareImage(context.Background(), heic, info, plan, EncodeOptions{ExactSize: true}); !errors.Is(err, ErrCannotDecode) || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Fatalf("ExactSize: %v", err)
	}
	small := spec
	small.ImageBase64MaxBytes = 100
	if _, err := PrepareImage(context.Background(), heic, info, plan, EncodeOptions{}.WithLimits(small, TransportBase64)); !errors.Is(err, ErrCannotDecode) || !strings.Contains(err.Error(), "cannot be sent instead") {
		t.Fatalf("over the limit: %v", err)
	}
	codes := func(i Info) string {
		var c []string
		for _, p := range ValidateImage(i, spec, tokens.ImageOptions{}, TransportBase64) {
			c = append(c, p.Code+"/"+string(p.Severity))
		}
		return strings.Join(c, " ")
	}
	if got := codes(info); got != "image.sent_original/warning" {
		t.Errorf("heic without ffmpeg: %s", got)
	}
	big := info
	big.Width, big.Height, big.CodedWidth, big.CodedHeight = 4032, 3024, 4032, 3024
	if got := codes(big); got != "image.decode_unsupported/error" {
		t.Errorf("4032x3024 heic without ffmpeg: %s", got)
	}
	avif := filepath.Join(imagesDir, "avif.avif")
	avifInfo := probeT(t, avif)
	if got := codes(avifInfo); got != "image.decode_unsupported/error" {
		t.Errorf("avif without ffmpeg: %s", got)
	}
	if _, err := PrepareImage(context.Background(), avif, avifInfo, planT(t, avifInfo, spec), EncodeOptions{}); !errors.Is(err, ErrCannotDecode) {
		t.Errorf("avif without ffmpeg: %v", err)
	}
	// Animated WEBP (no decoder at all): the original, as image/webp.
	got, err = PrepareImage(context.Background(), anim, animInfo, planT(t, animInfo, spec), EncodeOptions{})
	if err != nil || got.MIME != "image/webp" || got.Reencoded {
		t.Fatalf("animated webp: %v %s", err, got.MIME)
	}
	if _, err := PrepareImage(context.Background(), anim, animInfo, planT(t, animInfo, spec), EncodeOptions{ExactSize: true}); !errors.Is(err, ErrCannotDecode) ||
		errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "webpmux") {
		t.Fatalf("animated webp, exact size: %v", err)
	}
}

// TestProbeHEIFTruncatedData: a HEIC or AVIF cut short keeps its meta box
// (which comes first) but loses coded data; the probe sees it from the
// item locations alone and reports ErrCorrupt instead of a size.
func TestProbeHEIFTruncatedData(t *testing.T) {
	for _, name := range []string{"heic_single.heic", "heic_grid.heic", "avif.avif"} {
		data, err := os.ReadFile(filepath.Join(imagesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, data[:len(data)*9/10], 0o644)
		if info, err := Probe(context.Background(), p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s cut to 90%%: %dx%d, err %v; want ErrCorrupt", name, info.Width, info.Height, err)
		}
	}
}
