package media

import (
	"context"
	"errors"
	"image"
	"image/color"
	"path/filepath"
	"testing"
)

// near reports whether c is within tol of want on every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, a := c.RGBA()
	d := func(x uint32, y uint8) bool { return abs(int(x>>8)-int(y)) <= tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B) && a == 0xffff
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

var (
	cRed   = color.RGBA{255, 0, 0, 255}
	cBlue  = color.RGBA{0, 0, 255, 255}
	cGreen = color.RGBA{0, 160, 0, 255}
	cBg    = color.RGBA{220, 220, 220, 255}
	cWhite = color.RGBA{255, 255, 255, 255}
)

// checkPattern checks the fixture pattern (64×48 upright, red top-left,
// blue top-right, green bottom-left) scaled to img's size.
func checkPattern(t *testing.T, img image.Image, tol int) {
	t.Helper()
	b := img.Bounds()
	at := func(x, y int) color.Color { return img.At(b.Min.X+x*b.Dx()/64, b.Min.Y+y*b.Dy()/48) }
	for _, c := range []struct {
		x, y int
		want color.RGBA
		name string
	}{{8, 6, cRed, "red top-left"}, {56, 6, cBlue, "blue top-right"}, {8, 42, cGreen, "green bottom-left"}, {32, 24, cBg, "background"}} {
		if got := at(c.x, c.y); !near(got, c.want, tol) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

var patternFixtures = []string{
	"jpeg.jpg", "photo é 1.jpg", "-dash.png", "png.png", "png_named.jpg", "png_exif6.png", "paletted.png", "png16.png",
	"gif.gif", "animated.gif", "bmp.bmp", "bmp_rle8.bmp", "tiff.tif", "tiff_orient6.tif", "webp.webp", "webp_exif6.webp", "cmyk.jpg",
	"orient1.jpg", "orient2.jpg", "orient3.jpg", "orient4.jpg", "orient5.jpg", "orient6.jpg", "orient7.jpg", "orient8.jpg",
	"heic.heic", "heic_single.heic", "heic_irot.heic", "heic_imir0.heic", "heic_imir1.heic", "heic_irot_imir.heic", "avif.avif",
}

func TestDecodeUprightPattern(t *testing.T) {
	for _, name := range patternFixtures {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(imagesDir, name)
			info, err := Probe(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeUpright(context.Background(), p, info, 0)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
				t.Fatalf("upright size %v, want 64x48", b)
			}
			checkPattern(t, img, 40)
		})
	}
}

func TestDecodeFixtures(t *testing.T) {
	for _, c := range imageCases {
		if c.err != nil || c.skipDecodeChk {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(imagesDir, c.name)
			info, err := Probe(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeUpright(context.Background(), p, info, 0)
			if c.decodeErr != nil {
				if !errors.Is(err, c.decodeErr) {
					t.Fatalf("DecodeUpright error = %v, want %v", err, c.decodeErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
				t.Fatalf("decoded %v, want %dx%d", b, c.w, c.h)
			}
			if o, ok := img.(interface{ Opaque() bool }); !ok || !o.Opaque() {
				t.Errorf("decoded %T is not opaque", img)
			}
		})
	}
}

func TestDecodeAlphaOntoWhite(t *testing.T) {
	p := filepath.Join(imagesDir, "alpha.png")
	img, err := DecodeUpright(context.Background(), p, Info{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.At(48, 36); !near(got, cWhite, 0) {
		t.Errorf("transparent quadrant = %v, want white", got)
	}
	if got := img.At(24, 6); !near(got, color.RGBA{127, 127, 127, 255}, 1) { // 50% black over white
		t.Errorf("half-transparent black = %v, want mid gray", got)
	}
	if !near(img.At(8, 6), cRed, 0) || !near(img.At(56, 6), cBlue, 0) || !near(img.At(8, 42), cGreen, 0) {
		t.Errorf("opaque blocks changed: %v %v %v", img.At(8, 6), img.At(56, 6), img.At(8, 42))
	}
}

func TestDecodeGIFOffsetFrame(t *testing.T) {
	img, err := DecodeUpright(context.Background(), filepath.Join(imagesDir, "gif_offset.gif"), Info{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 64, 48) {
		t.Fatalf("bounds %v", b)
	}
	if !near(img.At(2, 2), cWhite, 0) || !near(img.At(20, 20), cRed, 0) {
		t.Errorf("outside frame %v, inside %v", img.At(2, 2), img.At(20, 20))
	}
}

func TestDecodeRefusesBomb(t *testing.T) {
	p := filepath.Join(imagesDir, "bomb_100000x100000.png")
	_, err := DecodeUpright(context.Background(), p, Info{}, 0)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	// The limit is the caller's: a 64×48 image is refused under 3000 pixels.
	if _, err := DecodeUpright(context.Background(), filepath.Join(imagesDir, "png.png"), Info{}, 3000); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
}

func TestCMYKColours(t *testing.T) {
	img, err := DecodeUpright(context.Background(), filepath.Join(imagesDir, "cmyk.jpg"), Info{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.RGBA); !ok {
		t.Errorf("CMYK decoded as %T, want *image.RGBA", img)
	}
	checkPattern(t, img, 40)
}
