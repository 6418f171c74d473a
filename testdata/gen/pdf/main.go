// Command pdf writes testdata/pdf/two-pages.pdf, the tiny fixture of
// media/pdf_test.go, by hand with exact xref offsets (no PDF library, no
// ImageMagick): run `go run ./testdata/gen/pdf` from the repository root.
//
// Page 1 is 200×100 pt, black on its left half, white on its right, with
// the text "Page 1". Page 2 has a 100×150 pt MediaBox cropped to 100×120 pt
// and /Rotate 90, so it is shown (and rendered) as 120×100 pt; its text
// reads "Page 2".
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

func main() {
	out := filepath.Join("testdata", "pdf", "two-pages.pdf")
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, build(), 0o644); err != nil {
		log.Fatal(err)
	}
}

func build() []byte {
	page1 := "0 g 0 0 100 100 re f\nBT /F1 18 Tf 110 45 Td (Page 1) Tj ET\n"
	page2 := "BT /F1 18 Tf 20 70 Td (Page 2) Tj ET\n"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 150] /CropBox [0 0 100 120] /Rotate 90 /Resources << /Font << /F1 5 0 R >> >> /Contents 7 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		stream(page1),
		stream(page2),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off) // each entry is exactly 20 bytes
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func stream(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(s), s)
}
