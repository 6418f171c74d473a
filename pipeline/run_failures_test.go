package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writePNGHeader writes a PNG that is only its IHDR (and IEND), claiming
// w×h: enough for the probe, which reads headers only.
func writePNGHeader(t testing.TB, path string, w, h uint32) {
	t.Helper()
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(append(b, typ...), data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // 8-bit grey
	data := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	if err := os.WriteFile(path, append(data, chunk("IEND", nil)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeBMPHeader writes a 24-bit BMP header claiming w×h, without pixels.
func writeBMPHeader(t testing.TB, path string, w, h int32) {
	t.Helper()
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 54)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 54)
	b = binary.LittleEndian.AppendUint32(b, 40)
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 24)
	b = append(b, make([]byte, 24+64)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunErrorClassIsTheError: a failed item's error_class (and the
// summary's failures by class) is the code of the error that failed it,
// not of a warning listed with it (image.over_8k, image.format_4k).
func TestRunErrorClassIsTheError(t *testing.T) {
	f := newFixture(t, 0)
	if err := os.MkdirAll(f.in, 0o755); err != nil {
		t.Fatal(err)
	}
	bomb, bmp, strip, tall := filepath.Join(f.in, "bomb.png"), filepath.Join(f.in, "bomb.bmp"), filepath.Join(f.in, "strip.png"), filepath.Join(f.in, "tall.png")
	writePNGHeader(t, bomb, 100000, 100000)
	writeBMPHeader(t, bmp, 100000, 100000)
	writePNGHeader(t, strip, 1, 50000)
	copyFile(t, "../testdata/images/tall_100x20000.png", tall)
	want := map[string]string{
		bomb:  "image.decode_limit",
		bmp:   "image.decode_limit",
		strip: "image.too_small", // the first of its errors (image.aspect_ratio follows)
		tall:  "image.aspect_ratio_resized",
	}
	for _, dry := range []bool{false, true} {
		journal := f.journal
		if dry {
			journal += ".dry"
		}
		sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: journal, DryRun: dry},
			testClient(t, f.srv.URL), []string{f.in}, nil, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 4 || len(sum.FailuresByClass) != 3 || sum.FailuresByClass["image.decode_limit"] != 2 ||
			sum.FailuresByClass["image.too_small"] != 1 || sum.FailuresByClass["image.aspect_ratio_resized"] != 1 {
			t.Errorf("dry run %v: failures by class %v", dry, sum.FailuresByClass)
		}
		if dry {
			continue
		}
		fixes := map[string]string{bomb: "--max-decode-pixels", bmp: "--max-decode-pixels", strip: "at least 11 px", tall: "pad the short side"}
		for path, r := range onePerPath(t, loadRecords(t, journal), []string{bomb, bmp, strip, tall}) {
			if r.Status != StatusFailed || r.ErrorClass != want[path] {
				t.Errorf("%s: %s %s, want failed %s (%s)", filepath.Base(path), r.Status, r.ErrorClass, want[path], r.Error)
			}
			if !strings.Contains(r.Fix, fixes[path]) {
				t.Errorf("%s: fix %q, want its error's (%s)", filepath.Base(path), r.Fix, fixes[path])
			}
		}
	}
	if n := len(f.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestRunDryRunIndexListsWrittenBodies: an item that fails while it is
// prepared (a JPEG cut in its scan data: its header probes fine) has no
// body, and the index the dry run leaves lists exactly the bodies in the
// folder; when no body is written there is no index.
func TestRunDryRunIndexListsWrittenBodies(t *testing.T) {
	f := newFixture(t, 2)
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(f.in, "cut.jpg")
	if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "bodies")
	dry := func(in string) RunSummary {
		t.Helper()
		sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, DryRun: true, DryRunDir: out},
			testClient(t, f.srv.URL), []string{in}, nil, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := dry(f.in); sum.Requests != 2 || sum.Failed != 1 || sum.FailuresByClass["prepare"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	data, err := os.ReadFile(filepath.Join(out, dryIndexName))
	if err != nil {
		t.Fatal(err)
	}
	var ix dryIndex
	if err := json.Unmarshal(data, &ix); err != nil {
		t.Fatalf("index: %v\n%s", err, data)
	}
	var listed, present []string
	for _, e := range ix.Files {
		listed = append(listed, e.File)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != dryIndexName {
			present = append(present, e.Name())
		}
	}
	slices.Sort(listed)
	if len(present) != 2 || !slices.Equal(listed, present) {
		t.Errorf("index lists %v, the folder holds %v", listed, present)
	}
	// Only the cut JPEG: no body, no index.
	if sum := dry(cut); sum.Requests != 0 || sum.Failed != 1 {
		t.Fatalf("cut only: %+v", sum)
	}
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 0 {
		t.Errorf("folder after a dry run writing nothing: %v %v", ents, err)
	}
}

// noPagesPDF is a well-formed PDF whose page tree is empty.
func noPagesPDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	b.WriteString("xref\n0 3\n0000000000 65535 f \n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// TestRunUnreadablePDFs: a PDF poppler cannot read (garbage after the
// %PDF header, a truncated copy) fails as file.corrupt in one line naming
// the file, with the fix; one without pages says so.
func TestRunUnreadablePDFs(t *testing.T) {
	needTool(t, "pdfinfo")
	f := newFixture(t, 0)
	whole, err := os.ReadFile("../testdata/pdf/two-pages.pdf")
	if err != nil {
		t.Fatal(err)
	}
	garbage, cut, empty := filepath.Join(f.in, "garbage.pdf"), filepath.Join(f.in, "cut.pdf"), filepath.Join(f.in, "empty.pdf")
	for path, data := range map[string][]byte{garbage: []byte("%PDF-1.4\ngarbage, not a PDF\n"), cut: whole[:len(whole)*4/9], empty: noPagesPDF()} {
		if err := os.MkdirAll(f.in, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var plan Plan
	sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, Preset: "ocr"},
		testClient(t, f.srv.URL), []string{f.in}, nil, Hooks{Plan: func(p Plan) { plan = p }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 3 || sum.FailuresByClass["file.corrupt"] != 2 || sum.FailuresByClass["pdf.empty"] != 1 {
		t.Errorf("summary %+v", sum)
	}
	for _, it := range plan.Items {
		if it.Action != ActionFail || it.Fix == "" {
			t.Errorf("plan item %+v", it)
		}
	}
	for path, r := range onePerPath(t, loadRecords(t, f.journal), []string{garbage, cut, empty}) {
		wantErr, wantClass := path+" is not a readable PDF (corrupt or truncated): Syntax Error: ", "file.corrupt"
		if path == empty {
			wantErr, wantClass = path+" has no pages", "pdf.empty"
		}
		if r.Status != StatusFailed || r.ErrorClass != wantClass || !strings.HasPrefix(r.Error, wantErr) || strings.Contains(r.Error, "\n") || r.Fix == "" {
			t.Errorf("%s: %s %s %q (fix %q), want %s %q…", filepath.Base(path), r.Status, r.ErrorClass, r.Error, r.Fix, wantClass, wantErr)
		}
	}
}
