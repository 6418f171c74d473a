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

// Contact sheet layout: each cell is the frame scaled so its longer side is
// at most contactCellMax px, with its index and timestamp written beneath;
// one sheet holds at most ContactSheetFrames frames in an about square
// grid, so a sheet is at most about 3.3k px on a side (10×(320+4)+4) and
// 44 MB while it is drawn, whatever the number of frames.
const (
	contactCellMax = 320
	// ContactSheetFrames is the most frames one contact sheet holds (10
	// by 10); longer lists get several sheets, their frames spread evenly.
	ContactSheetFrames = 100
	contactGap         = 4
	contactLabel       = 16
)

// ContactSheets draws the contact sheets of a list of frames as the frames
// arrive, in list order: each frame is decoded straight into its cell of
// the sheet being drawn and then dropped, and each sheet is encoded as a
// JPEG and handed to write as soon as its last frame is in, so memory
// holds one sheet at a time, not the frames.
type ContactSheets struct {
	total, sheets int
	cw, ch        int // cell size
	write         func(sheet int, jpeg []byte) error
	added         int         // frames drawn
	sheet         int         // the sheet being drawn
	cur           *image.RGBA // its image (nil before its first frame)
	cols          int         // its columns
	first         int         // the list position of its first frame
}

// ContactSheetCount is the number of sheets a list of n frames takes.
func ContactSheetCount(n int) int { return (n + ContactSheetFrames - 1) / ContactSheetFrames }

// NewContactSheets prepares the sheets of total frames of width×height
// (all frames of a plan have one size); write receives sheet 0, 1, … in
// order.
func NewContactSheets(total, width, height int, write func(sheet int, jpeg []byte) error) (*ContactSheets, error) {
	if total <= 0 {
		return nil, errors.New("contact sheet: no frames")
	}
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("contact sheet: frame size %dx%d must be positive", width, height)
	}
	cw, ch := width, height
	if long := max(cw, ch); long > contactCellMax {
		cw, ch = max(1, cw*contactCellMax/long), max(1, ch*contactCellMax/long)
	}
	return &ContactSheets{total: total, sheets: ContactSheetCount(total), cw: cw, ch: ch, write: write}, nil
}

// bounds are the list positions [lo, hi) on sheet s: the frames are spread
// evenly over the sheets (250 frames: 84, 83, 83).
func (c *ContactSheets) bounds(s int) (lo, hi int) {
	return s * c.total / c.sheets, (s + 1) * c.total / c.sheets
}

// Add draws the next frame of the list (it must carry its JPEG Data) and
// writes the sheet it completes.
func (c *ContactSheets) Add(f Frame) error {
	if c.added >= c.total {
		return fmt.Errorf("contact sheet: frame %d is more than the %d planned", f.Index, c.total)
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("contact sheet: frame %d has no data", f.Index)
	}
	img, err := jpeg.Decode(bytes.NewReader(f.Data))
	if err != nil {
		return fmt.Errorf("contact sheet: frame %d: %w", f.Index, err)
	}
	s := c.sheet
	lo, hi := c.bounds(s)
	if c.cur == nil {
		c.start(hi - lo)
		c.first = lo
	}
	k := c.added - c.first
	x, y := contactGap+(k%c.cols)*(c.cw+contactGap), contactGap+(k/c.cols)*(c.ch+contactLabel+contactGap)
	// Fit the frame in the cell, keeping its aspect ratio.
	b := img.Bounds()
	w, h := c.cw, max(1, c.cw*b.Dy()/b.Dx())
	if h > c.ch {
		w, h = max(1, c.ch*b.Dx()/b.Dy()), c.ch
	}
	dst := image.Rect(x+(c.cw-w)/2, y+(c.ch-h)/2, x+(c.cw-w)/2+w, y+(c.ch-h)/2+h)
	xdraw.ApproxBiLinear.Scale(c.cur, dst, img, b, xdraw.Src, nil)
	d := font.Drawer{Dst: c.cur, Src: image.NewUniform(color.White), Face: basicfont.Face7x13, Dot: fixed.P(x+2, y+c.ch+contactLabel-4)}
	d.DrawString(fmt.Sprintf("#%d %.2fs", f.Index, f.TimeS))
	c.added++
	if c.added < hi {
		return nil
	}
	var buf bytes.Buffer
	err = jpeg.Encode(&buf, c.cur, &jpeg.Options{Quality: 85})
	c.cur, c.sheet = nil, s+1
	if err != nil {
		return fmt.Errorf("contact sheet %d: %w", s+1, err)
	}
	return c.write(s, buf.Bytes())
}

// start allocates a sheet for n frames in an about square grid.
func (c *ContactSheets) start(n int) {
	c.cols = 1
	for c.cols*c.cols < n {
		c.cols++
	}
	rows := (n + c.cols - 1) / c.cols
	c.cur = image.NewRGBA(image.Rect(0, 0, c.cols*(c.cw+contactGap)+contactGap, rows*(c.ch+contactLabel+contactGap)+contactGap))
	xdraw.Draw(c.cur, c.cur.Bounds(), image.NewUniform(color.RGBA{24, 24, 24, 255}), image.Point{}, xdraw.Src)
}

// Close reports a list that ended before every planned frame was drawn
// (its last sheet was never written).
func (c *ContactSheets) Close() error {
	if c.added != c.total {
		return fmt.Errorf("contact sheet: %d of the %d frames drawn", c.added, c.total)
	}
	return nil
}
