package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

const imagesDir = "../testdata/images"

// imageCase is one fixture of testdata/images and what probing and
// validating it (qwen3-vl-plus defaults, base64) must give.
type imageCase struct {
	name          string
	format        string
	w, h          int // upright
	cw, ch        int // coded
	orientation   int
	color         string
	animated      bool
	mislabelled   bool
	err           error // sentinel the probe error wraps
	codes         []string
	decodeErr     error // sentinel DecodeUpright wraps (nil: decodes)
	skipDecodeChk bool  // header-only fixture: decoding is not attempted
}

var imageCases = []imageCase{
	{name: "jpeg.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, color: "ycbcr"},
	{name: "photo é 1.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, color: "ycbcr"},
	{name: "orient1.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, orientation: 1, color: "ycbcr"},
	{name: "orient2.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, orientation: 2, color: "ycbcr"},
	{name: "orient3.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, orientation: 3, color: "ycbcr"},
	{name: "orient4.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, orientation: 4, color: "ycbcr"},
	{name: "orient5.jpg", format: "jpeg", w: 64, h: 48, cw: 48, ch: 64, orientation: 5, color: "ycbcr"},
	{name: "orient6.jpg", format: "jpeg", w: 64, h: 48, cw: 48, ch: 64, orientation: 6, color: "ycbcr"},
	{name: "orient7.jpg", format: "jpeg", w: 64, h: 48, cw: 48, ch: 64, orientation: 7, color: "ycbcr"},
	{name: "orient8.jpg", format: "jpeg", w: 64, h: 48, cw: 48, ch: 64, orientation: 8, color: "ycbcr"},
	{name: "cmyk.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, color: "cmyk"},
	{name: "gray.jpg", format: "jpeg", w: 64, h: 48, cw: 64, ch: 48, color: "gray"},
	{name: "png.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "rgba"},
	{name: "-dash.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "rgba"},
	{name: "png_exif6.png", format: "png", w: 64, h: 48, cw: 48, ch: 64, orientation: 6, color: "rgba"},
	{name: "png_named.jpg", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "rgba", mislabelled: true, codes: []string{"image.mislabelled"}},
	{name: "alpha.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "nrgba"},
	{name: "paletted.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "paletted"},
	{name: "gray.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "gray"},
	{name: "png16.png", format: "png", w: 64, h: 48, cw: 64, ch: 48, color: "rgba64"},
	{name: "gif.gif", format: "gif", w: 64, h: 48, cw: 64, ch: 48, color: "paletted", codes: []string{"image.format_unsupported"}},
	{name: "gif_offset.gif", format: "gif", w: 64, h: 48, cw: 64, ch: 48, color: "paletted", codes: []string{"image.format_unsupported"}},
	{name: "animated.gif", format: "gif", w: 64, h: 48, cw: 64, ch: 48, color: "paletted", animated: true, codes: []string{"image.animated", "image.format_unsupported"}},
	{name: "bmp.bmp", format: "bmp", w: 64, h: 48, cw: 64, ch: 48, color: "rgba"},
	{name: "bmp_rle8.bmp", format: "bmp", w: 64, h: 48, cw: 64, ch: 48},
	{name: "tiff.tif", format: "tiff", w: 64, h: 48, cw: 64, ch: 48, color: "rgba"},
	{name: "tiff_cmyk.tif", format: "tiff", w: 64, h: 48, cw: 64, ch: 48, orientation: 1, codes: []string{"image.sent_original"}, decodeErr: ErrCannotDecode},
	{name: "tiff_jpeg.tif", format: "tiff", w: 64, h: 48, cw: 64, ch: 48, orientation: 1, color: "rgba", codes: []string{"image.sent_original"}, decodeErr: ErrCannotDecode},
	{name: "tiff_orient6.tif", format: "tiff", w: 64, h: 48, cw: 48, ch: 64, orientation: 6, color: "rgba"},
	{name: "webp.webp", format: "webp", w: 64, h: 48, cw: 64, ch: 48, color: "nrgba"},
	{name: "webp_exif6.webp", format: "webp", w: 64, h: 48, cw: 48, ch: 64, orientation: 6, color: "ycbcr"},
	{name: "webp_animated.webp", format: "webp", w: 64, h: 48, cw: 64, ch: 48, color: "ycbcr", animated: true, codes: []string{"image.sent_original"}, decodeErr: ErrCannotDecode},
	{name: "webp_animated_5000x3000.webp", format: "webp", w: 5000, h: 3000, cw: 5000, ch: 3000, color: "ycbcr", animated: true, codes: []string{"image.decode_unsupported"}, decodeErr: ErrCannotDecode},
	{name: "heic.heic", format: "heic", w: 64, h: 48, cw: 64, ch: 48},
	{name: "heic_single.heic", format: "heic", w: 64, h: 48, cw: 64, ch: 48},
	{name: "heic_irot.heic", format: "heic", w: 64, h: 48, cw: 48, ch: 64, orientation: 8},
	{name: "heic_imir0.heic", format: "heic", w: 64, h: 48, cw: 64, ch: 48, orientation: 4},
	{name: "heic_imir1.heic", format: "heic", w: 64, h: 48, cw: 64, ch: 48, orientation: 2},
	{name: "heic_irot_imir.heic", format: "heic", w: 64, h: 48, cw: 48, ch: 64, orientation: 5},
	{name: "heic_grid.heic", format: "heic", w: 120, h: 100, cw: 120, ch: 100},
	{name: "irot.heic", format: "heic", w: 48, h: 64, cw: 64, ch: 48, orientation: 8, decodeErr: ErrCorrupt}, // header only
	{name: "avif.avif", format: "avif", w: 64, h: 48, cw: 64, ch: 48, codes: []string{"image.format_unsupported"}},
	{name: "tiny_10x10.png", format: "png", w: 10, h: 10, cw: 10, ch: 10, color: "gray", codes: []string{"image.too_small"}},
	{name: "small_11x11.png", format: "png", w: 11, h: 11, cw: 11, ch: 11, color: "gray"},
	{name: "ratio_200.png", format: "png", w: 2200, h: 11, cw: 2200, ch: 11, color: "gray"},
	{name: "ratio_201.png", format: "png", w: 2201, h: 11, cw: 2201, ch: 11, color: "gray", codes: []string{"image.aspect_ratio"}},
	{name: "tall_100x20000.png", format: "png", w: 100, h: 20000, cw: 100, ch: 20000, color: "gray", codes: []string{"image.aspect_ratio_resized", "image.over_8k"}},
	{name: "bomb_100000x100000.png", format: "png", w: 100000, h: 100000, cw: 100000, ch: 100000, color: "rgba", codes: []string{"image.decode_limit", "image.over_8k"}, decodeErr: ErrTooManyPixels},
	{name: "over8k_8000x4500.png", format: "png", w: 8000, h: 4500, cw: 8000, ch: 4500, color: "rgba", codes: []string{"image.over_8k"}, skipDecodeChk: true},
	{name: "bmp_5000x3000.bmp", format: "bmp", w: 5000, h: 3000, cw: 5000, ch: 3000, color: "rgba", codes: []string{"image.format_4k"}, skipDecodeChk: true},
	{name: "truncated.jpg", format: "jpeg", err: ErrCorrupt},
	{name: "truncated.png", format: "png", err: ErrCorrupt},
	{name: "garbage.jpg", format: "jpeg", err: ErrCorrupt},
	{name: "empty.jpg", err: ErrEmpty},
	{name: "text.png", err: ErrNotMedia},
}

func qwen3VLPlus(t testing.TB) tokens.Spec {
	t.Helper()
	s, err := tokens.FamilySpec(tokens.FamilyQwen3VLPlus, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProbeImageFixtures(t *testing.T) {
	spec := qwen3VLPlus(t)
	seen := map[string]bool{}
	for _, c := range imageCases {
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			info, err := Probe(context.Background(), filepath.Join(imagesDir, c.name))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Probe error = %v, want %v", err, c.err)
				}
				if c.format != "" && info.Format != c.format {
					t.Errorf("Format = %q, want %q", info.Format, c.format)
				}
				return
			}
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			got := [...]any{info.Kind, info.Format, info.Width, info.Height, info.CodedWidth, info.CodedHeight,
				info.Orientation, info.ColorModel, info.Animated, info.Mislabelled}
			want := [...]any{KindImage, c.format, c.w, c.h, c.cw, c.ch, c.orientation, c.color, c.animated, c.mislabelled}
			if got != want {
				t.Errorf("kind format w h cw ch orientation color animated mislabelled\n got %v\nwant %v", got, want)
			}
			if info.MIME != imageMIME[c.format] {
				t.Errorf("MIME = %q", info.MIME)
			}
			var codes []string
			for _, p := range ValidateImage(info, spec, tokens.ImageOptions{}, TransportBase64) {
				codes = append(codes, p.Code)
				if p.Path != info.Path || p.Message == "" || p.Fix == "" {
					t.Errorf("problem without path, message or fix: %+v", p)
				}
			}
			slices.Sort(codes)
			want2 := slices.Sorted(slices.Values(c.codes))
			if !slices.Equal(codes, want2) {
				t.Errorf("codes = %v, want %v", codes, want2)
			}
		})
	}
	ents, err := os.ReadDir(imagesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); n != "README.md" && !seen[n] {
			t.Errorf("fixture %s has no test case", n)
		}
	}
}

// FuzzProbeImage checks that any bytes give an Info or an error, never a
// panic, and that a successful probe reports a positive upright size.
func FuzzProbeImage(f *testing.F) {
	ents, err := os.ReadDir(imagesDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join(imagesDir, e.Name())); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, _ := Sniff(data); k == KindVideo {
			return // ffprobe's side, fuzzed with the video code
		}
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := Probe(context.Background(), p)
		if err != nil {
			return
		}
		if info.Kind == KindImage && (info.Width <= 0 || info.Height <= 0 || info.Orientation < 0 || info.Orientation > 8) {
			t.Fatalf("bad info without error: %+v", info)
		}
		if info.Kind == KindImage && info.CodedWidth*info.CodedHeight <= 1<<16 {
			img, err := DecodeUpright(context.Background(), p, info, 1<<16)
			if err == nil && (img.Bounds().Dx() != info.Width || img.Bounds().Dy() != info.Height) {
				t.Fatalf("decoded %v, probed %dx%d", img.Bounds(), info.Width, info.Height)
			}
		}
	})
}

func TestProbeHEIFOrientations(t *testing.T) {
	// irot angle (×90° anticlockwise) → EXIF orientation.
	for angle, want := range map[int]int{0: 1, 1: 8, 2: 3, 3: 6} {
		if got := orientMatrix(exifMatrices[1]).rotN(angle).exif(); got != want {
			t.Errorf("irot %d → orientation %d, want %d", angle, got, want)
		}
	}
	// ISO/IEC 23008-12:2022 §6.5.12: imir axis 0 exchanges top and bottom
	// (EXIF 4), axis 1 left and right (EXIF 2); irot and imir apply in
	// ipma order.
	for _, c := range []struct {
		props []heifProp
		want  int
	}{
		{[]heifProp{{"imir", []byte{0}}}, 4},
		{[]heifProp{{"imir", []byte{1}}}, 2},
		{[]heifProp{{"irot", []byte{1}}, {"imir", []byte{0}}}, 5},
		{[]heifProp{{"imir", []byte{0}}, {"irot", []byte{1}}}, 7},
		{[]heifProp{{"irot", []byte{1}}, {"imir", []byte{1}}}, 7},
		{[]heifProp{{"imir", []byte{1}}, {"irot", []byte{1}}}, 5},
		{[]heifProp{{"irot", []byte{3}}, {"imir", []byte{0}}}, 7},
		{[]heifProp{{"irot", []byte{2}}, {"imir", []byte{0}}}, 2},
	} {
		if got := heifTransformOrientation(c.props); got != c.want {
			t.Errorf("%v → orientation %d, want %d", c.props, got, c.want)
		}
	}
}

// heifTransformOrientation builds a HEIF meta box whose primary item has
// ispe and props, in that ipma order, and returns the probed orientation.
func heifTransformOrientation(props []heifProp) int {
	box := func(typ string, payload []byte) []byte {
		b := []byte{0, 0, 0, byte(8 + len(payload))}
		return append(append(b, typ...), payload...)
	}
	ipco := box("ispe", []byte{0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 48})
	ipma := []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, byte(1 + len(props)), 0x01}
	for i, p := range props {
		ipco = append(ipco, box(p.typ, p.data)...)
		ipma = append(ipma, 0x80|byte(i+2))
	}
	meta := append(box("pitm", []byte{0, 0, 0, 0, 0, 1}), box("iprp", append(box("ipco", ipco), box("ipma", ipma)...))...)
	hi, err := parseHEIFMeta(meta, heifInfo{})
	if err != nil {
		return -1
	}
	return hi.orientation
}

func (a orientMatrix) rotN(n int) orientMatrix {
	for range n {
		a = rotCCW.mul(a)
	}
	return a
}

// TestNotMediaProblem: a file whose extension names an image or video
// format but holds something else is a file.not_media error saying what it
// holds; other extensions get only a skip reason.
func TestNotMediaProblem(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, data, holds string
		problem           bool
	}{
		{"a.jpg", "<!doctype html><html>", "HTML", true},
		{"b.png", "%PDF-1.7\n", "PDF", true},
		{"c.mp4", "just text\n", "text", true},
		{"d.heic", "PK\x03\x04rest", "a ZIP archive", true},
		{"e.webp", "\x00\x01\x02\x03binary", "unrecognised binary data", true},
		{"notes.txt", "just text\n", "text", false},
		{"doc.pdf", "%PDF-1.7\n", "PDF", false},
	} {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, []byte(c.data), 0o644)
		_, err := Probe(context.Background(), p)
		if !errors.Is(err, ErrNotMedia) {
			t.Fatalf("%s: %v", c.name, err)
		}
		pr, ok := NotMediaProblem(p, err)
		if ok != c.problem {
			t.Errorf("%s: problem %v, want %v", c.name, ok, c.problem)
		}
		if ok && (pr.Code != "file.not_media" || pr.Severity != SeverityError || !strings.Contains(pr.Message, "holds "+c.holds) || pr.Fix == "") {
			t.Errorf("%s: %+v", c.name, pr)
		}
		if r := SkipReason(err); !strings.Contains(r, "holds "+c.holds) {
			t.Errorf("%s: skip reason %q", c.name, r)
		}
	}
}

// TestValidateMessages: sizes either side of a limit print as exact bytes;
// a decode refused by the limit is not claimed as a resize; the limit is the
// caller's.
func TestValidateMessages(t *testing.T) {
	spec := qwen3VLPlus(t)
	p := sizeProblems("x.png", 7_499_990, "image/png", spec, TransportBase64, SeverityWarning, "fix")
	if len(p) != 1 || !strings.Contains(p[0].Message, "10000010 bytes (10.00 MB)") || !strings.Contains(p[0].Message, "limit of 10000000 bytes (10.00 MB)") {
		t.Errorf("boundary message: %v", p)
	}
	bomb := Info{Path: "b.png", Kind: KindImage, Format: "png", MIME: "image/png", Width: 100000, Height: 100000, CodedWidth: 100000, CodedHeight: 100000, Bytes: 100}
	for _, pr := range ValidateImage(bomb, spec, tokens.ImageOptions{}, TransportBase64) {
		if pr.Code == "image.over_8k" && strings.Contains(pr.Fix, "vision sends") {
			t.Errorf("over_8k claims a resize the decode limit refuses: %q", pr.Fix)
		}
		if pr.Code == "image.decode_limit" && !strings.Contains(pr.Fix, "--max-decode-pixels 10000000000") {
			t.Errorf("decode_limit fix %q", pr.Fix)
		}
	}
	if ps := ValidateImageLimit(bomb, spec, tokens.ImageOptions{}, TransportBase64, 20_000_000_000); len(ps) != 1 || ps[0].Code != "image.over_8k" || !ps[0].Fixable() {
		t.Errorf("raised limit: %v", ps)
	}
}

// TestProbeAnimatedWEBPWithoutFlag: an ANIM chunk marks a WEBP animated
// even when the VP8X flag was left unset.
func TestProbeAnimatedWEBPWithoutFlag(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(imagesDir, "webp_animated.webp"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data[12:16]) != "VP8X" || string(data[30:34]) != "ANIM" {
		t.Fatalf("fixture layout: % x", data[:40])
	}
	data[20] &^= 0x02
	p := filepath.Join(t.TempDir(), "noflag.webp")
	os.WriteFile(p, data, 0o644)
	if info := probeT(t, p); !info.Animated {
		t.Errorf("not detected as animated: %+v", info)
	}
}
