package media

import (
	"image"
	"image/color"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// Resize scales an opaque image to exactly w×h pixels.
//
// The filter is Catmull-Rom (imaging.CatmullRom), the bicubic kernel
// (a = −0.5) that Pillow's BICUBIC uses in qwen-vl-utils, applied with the
// support widened by the scale as Pillow does, so downscales are
// antialiased. When the image is at least twice the target on both axes it
// is first reduced by the integer factor k = ⌊min(srcW/w, srcH/h)⌋ with a
// k×k box average computed directly on the decoded planes (YCbCr, RGBA or
// gray), like Pillow's reduce() with reducing_gap; Catmull-Rom then covers
// the remaining factor, which is below 2. On a 12 MP photo this halves the
// time of a plain Catmull-Rom/Lanczos resize, for a mean difference from
// the direct resize of about 1.6 8-bit levels on a noisy test image
// (TestResizeExactAndClose).
func Resize(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	if b.Dx() == w && b.Dy() == h {
		return img
	}
	if k := min(b.Dx()/max(w, 1), b.Dy()/max(h, 1)); k >= 2 {
		img = boxShrink(img, k)
		if b := img.Bounds(); b.Dx() == w && b.Dy() == h {
			return img
		}
	}
	return imaging.Resize(img, w, h, imaging.CatmullRom)
}

// boxShrink averages k×k blocks (partial blocks at the right and bottom
// edges average the pixels they have), giving ⌈W/k⌉×⌈H/k⌉ pixels.
func boxShrink(img image.Image, k int) image.Image {
	if img.Bounds().Min != (image.Point{}) {
		return img
	}
	switch m := img.(type) {
	case *image.YCbCr:
		return shrinkYCbCr(m, k)
	case *image.RGBA:
		return shrinkInterleaved(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 4, k, func(r image.Rectangle) ([]uint8, int, image.Image) {
			d := image.NewNRGBA(r) // opaque: the same bytes, read by imaging without conversion
			return d.Pix, d.Stride, d
		})
	case *image.NRGBA: // opaque: same layout as RGBA
		return shrinkInterleaved(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 4, k, func(r image.Rectangle) ([]uint8, int, image.Image) {
			d := image.NewNRGBA(r)
			return d.Pix, d.Stride, d
		})
	case *image.Gray:
		return shrinkInterleaved(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 1, k, func(r image.Rectangle) ([]uint8, int, image.Image) {
			d := image.NewGray(r)
			return d.Pix, d.Stride, d
		})
	}
	return img
}

// shrinkInterleaved box-averages an interleaved 8-bit image of c channels.
func shrinkInterleaved(pix []uint8, stride, W, H, c, k int, alloc func(image.Rectangle) ([]uint8, int, image.Image)) image.Image {
	ow, oh := (W+k-1)/k, (H+k-1)/k
	dpix, dstride, dst := alloc(image.Rect(0, 0, ow, oh))
	parallelRows(oh, func(y0, y1 int) {
		acc := make([]uint32, W*c)
		for oy := y0; oy < y1; oy++ {
			sy0, sy1 := oy*k, min(oy*k+k, H)
			clear(acc)
			for y := sy0; y < sy1; y++ {
				row := pix[y*stride : y*stride+W*c]
				for i, v := range row {
					acc[i] += uint32(v)
				}
			}
			d := dpix[oy*dstride : oy*dstride+ow*c]
			for ox := range ow {
				sx0, sx1 := ox*k, min(ox*k+k, W)
				inv := 1 / float32((sx1-sx0)*(sy1-sy0))
				for ch := range c {
					var s uint32
					for x := sx0; x < sx1; x++ {
						s += acc[x*c+ch]
					}
					d[ox*c+ch] = uint8(float32(s)*inv + 0.5)
				}
			}
		}
	})
	return dst
}

// chromaShift returns log2 of the horizontal and vertical chroma subsampling.
func chromaShift(r image.YCbCrSubsampleRatio) (sx, sy int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

// shrinkYCbCr box-averages luma and chroma planes separately and converts
// each averaged pixel to RGB once (the conversion is affine, so averaging
// before converting gives the same result up to clamping). The result is
// an opaque *image.NRGBA, the layout imaging reads without conversion.
func shrinkYCbCr(m *image.YCbCr, k int) *image.NRGBA {
	W, H := m.Rect.Dx(), m.Rect.Dy()
	sx, sy := chromaShift(m.SubsampleRatio)
	if k == 2 && sx == 1 && sy == 1 {
		return shrinkYCbCr420By2(m)
	}
	CW := (W + (1 << sx) - 1) >> sx
	ow, oh := (W+k-1)/k, (H+k-1)/k
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	parallelRows(oh, func(y0, y1 int) {
		ya := make([]uint32, W)
		ba := make([]uint32, CW)
		ra := make([]uint32, CW)
		for oy := y0; oy < y1; oy++ {
			ly0, ly1 := oy*k, min(oy*k+k, H)
			cy0, cy1 := ly0>>sy, (ly1-1)>>sy+1
			clear(ya)
			clear(ba)
			clear(ra)
			for y := ly0; y < ly1; y++ {
				for i, v := range m.Y[y*m.YStride : y*m.YStride+W] {
					ya[i] += uint32(v)
				}
			}
			for y := cy0; y < cy1; y++ {
				cb := m.Cb[y*m.CStride : y*m.CStride+CW]
				cr := m.Cr[y*m.CStride : y*m.CStride+CW]
				for i := range cb {
					ba[i] += uint32(cb[i])
					ra[i] += uint32(cr[i])
				}
			}
			d := dst.Pix[oy*dst.Stride : oy*dst.Stride+4*ow]
			for ox := range ow {
				lx0, lx1 := ox*k, min(ox*k+k, W)
				cx0, cx1 := lx0>>sx, (lx1-1)>>sx+1
				var ys, bs, rs uint32
				for _, v := range ya[lx0:lx1] {
					ys += v
				}
				for x := cx0; x < cx1; x++ {
					bs += ba[x]
					rs += ra[x]
				}
				yi := 1 / float32((lx1-lx0)*(ly1-ly0))
				ci := 1 / float32((cx1-cx0)*(cy1-cy0))
				r, g, b := color.YCbCrToRGB(uint8(float32(ys)*yi+0.5), uint8(float32(bs)*ci+0.5), uint8(float32(rs)*ci+0.5))
				d[4*ox], d[4*ox+1], d[4*ox+2], d[4*ox+3] = r, g, b, 0xff
			}
		}
	})
	return dst
}

// shrinkYCbCr420By2 is the common case (a 4:2:0 JPEG halved): each output
// pixel averages a 2×2 luma block and takes the one chroma sample that
// covers it.
func shrinkYCbCr420By2(m *image.YCbCr) *image.NRGBA {
	W, H := m.Rect.Dx(), m.Rect.Dy()
	ow, oh := (W+1)/2, (H+1)/2
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	parallelRows(oh, func(y0, y1 int) {
		for oy := y0; oy < y1; oy++ {
			r0 := m.Y[2*oy*m.YStride:]
			r1 := r0
			if 2*oy+1 < H {
				r1 = m.Y[(2*oy+1)*m.YStride:]
			}
			cb := m.Cb[oy*m.CStride : oy*m.CStride+ow]
			cr := m.Cr[oy*m.CStride : oy*m.CStride+ow]
			d := dst.Pix[oy*dst.Stride : oy*dst.Stride+4*ow]
			for ox := range ow {
				x0, x1 := 2*ox, min(2*ox+1, W-1)
				yv := (uint32(r0[x0]) + uint32(r0[x1]) + uint32(r1[x0]) + uint32(r1[x1]) + 2) >> 2
				r, g, b := color.YCbCrToRGB(uint8(yv), cb[ox], cr[ox])
				d[4*ox], d[4*ox+1], d[4*ox+2], d[4*ox+3] = r, g, b, 0xff
			}
		}
	})
	return dst
}

// parallelRows splits [0, n) into contiguous bands, one per CPU.
func parallelRows(n int, fn func(y0, y1 int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	if procs <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + procs - 1) / procs
	for y := 0; y < n; y += step {
		wg.Go(func() { fn(y, min(y+step, n)) })
	}
	wg.Wait()
}
