package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// contactCellMax bounds the longer side of one cell of a contact sheet.
const contactCellMax = 320

// ContactSheet lays frames out in a grid of cols columns (0: about square)
// and returns it as a JPEG. Each cell is the frame, scaled so its longer
// side is at most 320 px, with its index and timestamp written beneath.
// Frames must carry their Data.
func ContactSheet(frames []Frame, cols int) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("contact sheet: no frames")
	}
	imgs := make([]image.Image, len(frames))
	cw, ch := 0, 0
	for i, f := range frames {
		if len(f.Data) == 0 {
			return nil, fmt.Errorf("contact sheet: frame %d has no data", f.Index)
		}
		img, err := jpeg.Decode(bytes.NewReader(f.Data))
		if err != nil {
			return nil, fmt.Errorf("contact sheet: frame %d: %w", f.Index, err)
		}
		imgs[i] = img
		cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
	}
	if long := max(cw, ch); long > contactCellMax {
		cw, ch = max(1, cw*contactCellMax/long), max(1, ch*contactCellMax/long)
	}
	if cols <= 0 {
		cols = 1
		for cols*cols < len(frames) {
			cols++
		}
	}
	cols = min(cols, len(frames))
	rows := (len(frames) + cols - 1) / cols
	const gap, label = 4, 16
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(cw+gap)+gap, rows*(ch+label+gap)+gap))
	xdraw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{24, 24, 24, 255}), image.Point{}, xdraw.Src)
	d := font.Drawer{Dst: sheet, Src: image.NewUniform(color.White), Face: basicfont.Face7x13}
	for i, img := range imgs {
		x, y := gap+(i%cols)*(cw+gap), gap+(i/cols)*(ch+label+gap)
		// Fit the frame in the cell, keeping its aspect ratio.
		b := img.Bounds()
		w, h := cw, cw*b.Dy()/b.Dx()
		if h > ch {
			w, h = ch*b.Dx()/b.Dy(), ch
		}
		dst := image.Rect(x+(cw-w)/2, y+(ch-h)/2, x+(cw-w)/2+w, y+(ch-h)/2+h)
		xdraw.ApproxBiLinear.Scale(sheet, dst, img, b, xdraw.Src, nil)
		d.Dot = fixed.P(x+2, y+ch+label-4)
		d.DrawString(fmt.Sprintf("#%d %.2fs", frames[i].Index, frames[i].TimeS))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sheet, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("contact sheet: %w", err)
	}
	return buf.Bytes(), nil
}
