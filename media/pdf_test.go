package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const pdfFixture = "../testdata/pdf/two-pages.pdf" // go run ./testdata/gen/pdf

// needPoppler skips the test when the poppler tools are not installed, the
// way Go's testenv.MustHaveExecPath does.
func needPoppler(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pdfinfo", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install poppler-utils)", tool)
		}
	}
}

func TestPDFPages(t *testing.T) {
	needPoppler(t)
	n, sizes, err := PDFPages(t.Context(), pdfFixture)
	if err != nil {
		t.Fatal(err)
	}
	// Page 2: MediaBox 100×150 cropped to 100×120, rotated 90° → 120×100.
	want := [][2]float64{{200, 100}, {120, 100}}
	if n != 2 || len(sizes) != 2 || sizes[0] != want[0] || sizes[1] != want[1] {
		t.Errorf("PDFPages = %d, %v; want 2, %v", n, sizes, want)
	}
}

func TestPDFRenderMatchesDPIMath(t *testing.T) {
	needPoppler(t)
	_, sizes, err := PDFPages(t.Context(), pdfFixture)
	if err != nil {
		t.Fatal(err)
	}
	for page, sz := range sizes {
		for _, dpi := range []float64{72, 100, 101.3, 33.7} {
			b, err := RenderPDFPage(t.Context(), pdfFixture, page+1, dpi)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("page %d at %v dpi: %v", page+1, dpi, err)
			}
			w, h := PDFPagePixels(sz[0], sz[1], dpi)
			if got := img.Bounds().Size(); got != image.Pt(w, h) {
				t.Errorf("page %d at %v dpi: %v, want %dx%d", page+1, dpi, got, w, h)
			}
			if page == 0 { // left half black, right half white
				dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x4000 }
				if !dark(w/4, h/2) || dark(w*3/4, h/8) {
					t.Errorf("page 1 at %v dpi: left not black or right not white", dpi)
				}
			}
		}
	}
}

func TestPDFDPIForPixels(t *testing.T) {
	const lo, hi = 512 * 32 * 32, 2048 * 32 * 32 // the ocr preset's bounds
	for _, sz := range [][2]float64{{595.276, 841.89}, {612, 792}, {200, 100}, {120, 100}, {10, 14400}, {1, 1}} {
		dpi := DPIForPixels(sz[0], sz[1], lo, hi)
		w, h := PDFPagePixels(sz[0], sz[1], dpi)
		if px := w * h; px > hi || px < lo {
			t.Errorf("%v pt at %.3f dpi: %d×%d = %d px, want within [%d, %d]", sz, dpi, w, h, px, lo, hi)
		}
		// The highest such resolution: 1% more would leave the bounds.
		if w2, h2 := PDFPagePixels(sz[0], sz[1], dpi*1.01); w2*h2 <= hi {
			t.Errorf("%v pt: %.3f dpi is not the highest within %d px", sz, dpi, hi)
		}
	}
	// A4 lands near 147 dpi for 2,097,152 px.
	if dpi := DPIForPixels(595.276, 841.89, lo, hi); dpi < 146 || dpi > 148 {
		t.Errorf("A4 dpi = %v, want about 147", dpi)
	}
	if dpi := DPIForPixels(612, 792, 0, 0); dpi != PDFDefaultDPI {
		t.Errorf("no bounds: %v dpi, want the default %d", dpi, PDFDefaultDPI)
	}
	if dpi := DPIForPixels(10, 10, 1_000_000, 0); dpi <= PDFDefaultDPI {
		t.Errorf("min only, tiny page: %v dpi, want above the default", dpi)
	} else if w, h := PDFPagePixels(10, 10, dpi); w*h < 1_000_000 {
		t.Errorf("min only: %d px, want ≥ 1,000,000", w*h)
	}
	for _, bad := range [][2]float64{{0, 100}, {100, -1}} {
		if dpi := DPIForPixels(bad[0], bad[1], lo, hi); dpi != 0 {
			t.Errorf("DPIForPixels(%v) = %v, want 0", bad, dpi)
		}
	}
}

func TestPDFRenderErrors(t *testing.T) {
	needPoppler(t)
	ctx := t.Context()
	if _, err := RenderPDFPage(ctx, pdfFixture, 3, 72); err == nil || !strings.Contains(err.Error(), "page 3") {
		t.Errorf("page 3 of 2: err = %v", err)
	}
	for _, dpi := range []float64{0, -72} {
		if _, err := RenderPDFPage(ctx, pdfFixture, 1, dpi); err == nil {
			t.Errorf("dpi %v accepted", dpi)
		}
	}
	if _, err := RenderPDFPage(ctx, pdfFixture, 0, 72); err == nil {
		t.Error("page 0 accepted")
	}
	notPDF := filepath.Join(t.TempDir(), "x.pdf")
	os.WriteFile(notPDF, []byte("not a pdf"), 0o644)
	if _, _, err := PDFPages(ctx, notPDF); err == nil || !strings.Contains(err.Error(), "x.pdf") {
		t.Errorf("not a PDF: err = %v", err)
	}
	os.WriteFile(notPDF, []byte("%PDF-1.4\ngarbage\n"), 0o644) // poppler repeats itself over three lines
	if _, _, err := PDFPages(ctx, notPDF); !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "x.pdf is not a readable PDF") {
		t.Errorf("garbage PDF: err = %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := RenderPDFPage(canceled, pdfFixture, 1, 72); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}
}

// A file named like an option is still read as a file.
func TestPDFDashName(t *testing.T) {
	needPoppler(t)
	dir := t.TempDir()
	b, err := os.ReadFile(pdfFixture)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "-v.pdf"), b, 0o644)
	t.Chdir(dir)
	if n, _, err := PDFPages(t.Context(), "-v.pdf"); err != nil || n != 2 {
		t.Errorf("PDFPages(-v.pdf) = %d, %v", n, err)
	}
	if _, err := RenderPDFPage(t.Context(), "-v.pdf", 1, 36); err != nil {
		t.Error(err)
	}
}

func TestPDFMissingPoppler(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, err := PDFPages(t.Context(), pdfFixture)
	if !errors.Is(err, ErrPopplerNotFound) || !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "apt-get install poppler-utils") {
		t.Errorf("PDFPages without poppler: %v", err)
	}
	_, err = RenderPDFPage(t.Context(), pdfFixture, 1, 72)
	if !errors.Is(err, ErrPopplerNotFound) || !strings.Contains(err.Error(), "pdftoppm") {
		t.Errorf("RenderPDFPage without poppler: %v", err)
	}
}

func TestPDFParseInfo(t *testing.T) {
	out := "Title:          x\nPages:          3\nPage    1 size: 595.276 x 841.89 pts (A4)\nPage    1 rot:  0\n" +
		"Page    2 size: 612 x 792 pts (letter)\nPage    2 rot:  270\nPage    3 size: 100 x 50 pts\nPage    3 rot:  -90\n"
	n, sizes, err := parsePDFInfo([]byte(out))
	want := [][2]float64{{595.276, 841.89}, {792, 612}, {50, 100}}
	if err != nil || n != 3 || len(sizes) != 3 || sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Errorf("parsePDFInfo = %d, %v, %v; want 3, %v", n, sizes, err, want)
	}
	if _, _, err := parsePDFInfo([]byte("Pages: 2\nPage 1 size: 10 x 10 pts\n")); err == nil {
		t.Error("a missing page size was accepted")
	}
	if _, _, err := parsePDFInfo([]byte("garbage")); err == nil {
		t.Error("output without a page count was accepted")
	}
}
