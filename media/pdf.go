package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// PDFs are rendered page by page with poppler-utils: pdfinfo for the page
// sizes, pdftoppm for one PNG per page. Both run without a shell and get
// the input as an absolute path, so no file name is read as an option.

// ErrPopplerNotFound means pdfinfo or pdftoppm is not on PATH. It wraps
// ErrToolMissing, so one check covers every missing external tool.
var ErrPopplerNotFound = fmt.Errorf("%w (poppler-utils)", ErrToolMissing)

// PDFDefaultDPI is the resolution used when no pixel cap applies; it is
// pdftoppm's own default.
const PDFDefaultDPI = 150

// maxPDFImage caps one rendered page, against a resolution far too high
// for the page.
const maxPDFImage = 256 << 20

// PDFPages returns the number of pages of a PDF and each page's size in
// points (1/72 inch) as shown: the crop box, with width and height swapped
// for pages rotated by 90° or 270°. A PDF without pages has 0; one poppler
// cannot read (corrupt, truncated, not a PDF) is ErrCorrupt.
func PDFPages(ctx context.Context, path string) (pages int, pageSizesPt [][2]float64, err error) {
	out, err := runPoppler(ctx, "pdfinfo", path, maxPDFImage, "-f", "1", "-l", strconv.Itoa(math.MaxInt32))
	var pe *popplerError
	switch {
	case errors.As(err, &pe) && pe.noPages():
		return 0, nil, nil
	case errors.As(err, &pe) && pe.encrypted():
		return 0, nil, fmt.Errorf("%s is password-protected: %s", path, pe.firstLine())
	case errors.As(err, &pe) && pe.code() == 1 && !strings.Contains(pe.stderr, "Couldn't open file"):
		return 0, nil, &corruptPDFError{fmt.Sprintf("%s is not a readable PDF (corrupt or truncated): %s", path, pe.firstLine())}
	case err != nil:
		return 0, nil, err
	}
	pages, sizes, err := parsePDFInfo(out)
	if err != nil {
		return 0, nil, fmt.Errorf("pdfinfo %s: %w", path, err)
	}
	return pages, sizes, nil
}

var (
	pdfPagesRe = regexp.MustCompile(`^Pages:\s+(\d+)\s*$`)
	pdfSizeRe  = regexp.MustCompile(`^Page\s+(\d+)\s+size:\s+([0-9.]+)\s+x\s+([0-9.]+)\s+pts`)
	pdfRotRe   = regexp.MustCompile(`^Page\s+(\d+)\s+rot:\s+(-?\d+)`)
)

// parsePDFInfo reads pdfinfo's "Pages:", "Page N size: W x H pts" and
// "Page N rot: R" lines.
func parsePDFInfo(out []byte) (int, [][2]float64, error) {
	pages := -1
	sizes := map[int][2]float64{}
	rots := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := pdfPagesRe.FindStringSubmatch(line); m != nil {
			pages, _ = strconv.Atoi(m[1])
		} else if m := pdfSizeRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			w, err1 := strconv.ParseFloat(m[2], 64)
			h, err2 := strconv.ParseFloat(m[3], 64)
			if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
				return 0, nil, fmt.Errorf("page %d: bad size in %q", n, line)
			}
			sizes[n] = [2]float64{w, h}
		} else if m := pdfRotRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			rots[n], _ = strconv.Atoi(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		return 0, nil, err
	}
	if pages < 0 {
		return 0, nil, errors.New("no page count in its output")
	}
	out2 := make([][2]float64, pages)
	for i := range out2 {
		s, ok := sizes[i+1]
		if !ok {
			return 0, nil, fmt.Errorf("no size for page %d of %d", i+1, pages)
		}
		if r := ((rots[i+1] % 360) + 360) % 360; r == 90 || r == 270 {
			s[0], s[1] = s[1], s[0]
		}
		out2[i] = s
	}
	return pages, out2, nil
}

// RenderPDFPage renders one page (numbered from 1) of a PDF at dpi and
// returns it as PNG, lossless for text. The image is
// PDFPagePixels(w, h, dpi) for the page's size from PDFPages.
func RenderPDFPage(ctx context.Context, path string, page int, dpi float64) ([]byte, error) {
	if page < 1 {
		return nil, fmt.Errorf("render %s: page %d: pages are numbered from 1", path, page)
	}
	if !(dpi > 0) || math.IsInf(dpi, 0) {
		return nil, fmt.Errorf("render %s page %d: resolution %v dpi is not positive", path, page, dpi)
	}
	p := strconv.Itoa(page)
	out, err := runPoppler(ctx, "pdftoppm", path, maxPDFImage,
		"-f", p, "-l", p, "-r", strconv.FormatFloat(dpi, 'f', -1, 64), "-cropbox", "-png")
	if err != nil {
		return nil, fmt.Errorf("render page %d: %w", page, err)
	}
	if !bytes.HasPrefix(out, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, fmt.Errorf("render %s page %d: pdftoppm wrote no PNG", path, page)
	}
	return out, nil
}

// PDFPagePixels is the size pdftoppm renders a page of wPt×hPt points at
// dpi: each side ⌈side·dpi/72⌉, computed in the same order as pdftoppm.
func PDFPagePixels(wPt, hPt, dpi float64) (w, h int) {
	return int(math.Ceil(wPt * (dpi / 72))), int(math.Ceil(hPt * (dpi / 72)))
}

// DPIForPixels chooses the resolution for rendering a page of wPt×hPt
// points so that the image lands in [minPixels, maxPixels] pixels: the
// highest that stays within maxPixels (documents read best with the most
// pixels the request allows), found as the root of
// (w·d/72 + 1)·(h·d/72 + 1) = maxPixels so pdftoppm's rounding up of each
// side cannot push the image over. With maxPixels ≤ 0 (no cap) it is
// PDFDefaultDPI, or the resolution reaching minPixels if that is higher.
// If minPixels > maxPixels, maxPixels wins. It returns 0 for a page
// without area.
func DPIForPixels(wPt, hPt float64, minPixels, maxPixels int) float64 {
	if !(wPt > 0 && hPt > 0) || math.IsInf(wPt*hPt, 0) {
		return 0
	}
	a, b := wPt/72, hPt/72 // pixels per dpi along each side
	if maxPixels <= 0 {
		return math.Max(PDFDefaultDPI, math.Sqrt(float64(max(minPixels, 0))/(a*b)))
	}
	// ab·d² + (a+b)·d + 1 − max = 0
	c := 1 - float64(maxPixels)
	return (-(a + b) + math.Sqrt((a+b)*(a+b)-4*a*b*c)) / (2 * a * b)
}

// runPoppler runs a poppler-utils tool on path with args and returns its
// standard output (at most limit bytes).
func runPoppler(ctx context.Context, tool, path string, limit int64, args ...string) ([]byte, error) {
	bin, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("%w: %s not found in PATH (install it: apt-get install poppler-utils)", ErrPopplerNotFound, tool)
	}
	abs, err := filepath.Abs(path) // never starts with '-'
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tool, path, err)
	}
	var stdout limitedBuffer
	stdout.limit = limit
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, abs)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "LC_ALL=C") // "595.276", not "595,276"
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s %s: %w", tool, path, ctx.Err())
	case stdout.over:
		return nil, fmt.Errorf("%s %s: output larger than %d MiB", tool, path, limit>>20)
	case err != nil:
		return nil, &popplerError{tool: tool, path: path, err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// popplerError is a poppler tool that failed: its exit and what it said.
// Its message is one line: poppler repeats itself over several.
type popplerError struct {
	tool, path string
	err        error // usually *exec.ExitError
	stderr     string
}

func (e *popplerError) Error() string {
	if l := e.firstLine(); l != "" {
		return fmt.Sprintf("%s %s: %s (%v)", e.tool, e.path, l, e.err)
	}
	return fmt.Sprintf("%s %s: %v", e.tool, e.path, e.err)
}

func (e *popplerError) Unwrap() error { return e.err }

// firstLine is the first line of stderr, at most 160 bytes.
func (e *popplerError) firstLine() string {
	for _, l := range strings.Split(e.stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 160 {
				l = l[:160] + "…"
			}
			return l
		}
	}
	return ""
}

// code is the tool's exit status (-1 when it did not exit).
func (e *popplerError) code() int {
	var ee *exec.ExitError
	if errors.As(e.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// noPages: pdfinfo asked for pages 1… of a PDF without any ("Invalid page
// count 0", then "Wrong page range given", exit 99).
func (e *popplerError) noPages() bool {
	return e.code() == 99 && (strings.Contains(e.stderr, "Invalid page count 0") || strings.Contains(e.stderr, "Wrong page range given"))
}

// encrypted: the PDF needs a password to open.
func (e *popplerError) encrypted() bool { return strings.Contains(e.stderr, "Incorrect password") }

// corruptPDFError is a PDF poppler cannot read; it is ErrCorrupt, with a
// message of its own.
type corruptPDFError struct{ msg string }

func (e *corruptPDFError) Error() string { return e.msg }
func (e *corruptPDFError) Unwrap() error { return ErrCorrupt }

// limitedBuffer keeps up to limit bytes and fails the write beyond, which
// makes the child's next write fail and the tool exit.
type limitedBuffer struct {
	bytes.Buffer
	limit int64
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.limit {
		b.over = true
		return 0, io.ErrShortWrite
	}
	return b.Buffer.Write(p)
}
