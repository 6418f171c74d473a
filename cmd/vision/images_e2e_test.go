package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/media"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(images, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeFile decodes the image file at path.
func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func fnum(m map[string]any, k string) float64 { f, _ := m[k].(float64); return f }

// TestEstimateTotalsAddUp: over the whole testdata folder the rows of
// `estimate --json` add up to the summary, and rows that will not be sent
// (failed, skipped) carry no tokens and no cost.
func TestEstimateTotalsAddUp(t *testing.T) {
	_, out, errOut := runCLI(t, "estimate", "--json", "--prompt", "describe", "--output-tokens", "10", "../../testdata")
	objs := jsonLines(t, out)
	if len(objs) < 50 {
		t.Fatalf("%d lines: %s", len(objs), errOut)
	}
	sum := objs[len(objs)-1]["summary"].(map[string]any)
	var tokens, input, output int
	var cost float64
	failed := 0
	for _, o := range objs[:len(objs)-1] {
		tokens += num(o, "tokens")
		input += num(o, "input_tokens")
		output += num(o, "output_tokens")
		cost += fnum(o, "cost")
		if o["status"] != "ok" {
			failed++
			if num(o, "tokens") != 0 || num(o, "input_tokens") != 0 || o["cost"] != nil || o["frame_list"] != nil {
				t.Errorf("%s is %s but carries tokens %v, input %v, cost %v", o["path"], o["status"], o["tokens"], o["input_tokens"], o["cost"])
			}
		}
	}
	if failed < 10 {
		t.Errorf("only %d rows not ok", failed)
	}
	if num(sum, "tokens") != tokens || num(sum, "input_tokens") != input || num(sum, "output_tokens") != output || math.Abs(fnum(sum, "cost")-cost) > 1e-12 {
		t.Errorf("summary %v; rows add up to tokens %d, input %d, output %d, cost %g", sum, tokens, input, output, cost)
	}
}

// TestEstimateNamesResizedRatio: a 100x20000 image is refused because
// smart_resize makes it 96x20000 (as `vision tokens` says), and estimate
// says so instead of "0x0".
func TestEstimateNamesResizedRatio(t *testing.T) {
	p := filepath.Join(images, "tall_100x20000.png")
	_, out, _ := runCLI(t, "estimate", p)
	if !strings.Contains(out, "smart_resize makes it 96x20000") || strings.Contains(out, "0x0") {
		t.Errorf("estimate:\n%s", out)
	}
	_, tout, _ := runCLI(t, "tokens", "--json", "100x20000")
	if !strings.Contains(tout, "becomes 96x20000") {
		t.Fatalf("tokens: %s", tout)
	}
	_, jout, _ := runCLI(t, "estimate", "--json", p)
	if o := jsonLines(t, jout)[0]; num(o, "resized_width") != 96 || num(o, "resized_height") != 20000 || num(o, "tokens") != 0 {
		t.Errorf("json row %v", o)
	}
}

// TestMaxDecodePixels: the decode-bomb limit is a flag; the bomb's fix
// names it, and raising it lets a 100000x100000 header through.
func TestMaxDecodePixels(t *testing.T) {
	bomb := filepath.Join(images, "bomb_100000x100000.png")
	code, out, _ := runCLI(t, "check", bomb)
	if code != exitItemsFailed || !strings.Contains(out, "image.decode_limit") || !strings.Contains(out, "--max-decode-pixels 10000000000") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Refused, the decode is not claimed: no "vision sends a 1600x1600 resize".
	if strings.Contains(out, "none needed: vision sends") {
		t.Errorf("over_8k claims a resize the decode limit refuses:\n%s", out)
	}
	if code, out, _ := runCLI(t, "check", "--max-decode-pixels", "10000000000", bomb); code != 0 || strings.Contains(out, "decode_limit") {
		t.Fatalf("raised limit: exit %d\n%s", code, out)
	}
	// Lowered, it refuses a real 64x48 image in check and in resize.
	jpg := filepath.Join(images, "jpeg.jpg")
	if code, out, _ := runCLI(t, "check", "--max-decode-pixels", "3000", jpg); code != exitItemsFailed || !strings.Contains(out, "decode limit of 3000") {
		t.Fatalf("lowered limit: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "resize", "--max-decode-pixels", "3000", jpg, "-o", t.TempDir()); code != exitItemsFailed || !strings.Contains(out, "decode limit of 3000") {
		t.Fatalf("resize, lowered limit: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "estimate", "--max-decode-pixels", "-1", jpg); code != exitUsage {
		t.Fatalf("negative limit: exit %d %s", code, errOut)
	}
}

// TestCheckNotMedia: files named as media that hold something else are
// errors (file.not_media, saying what they hold); files with other
// extensions stay skipped, with the reason. check prints problems and a
// counts line only.
func TestCheckNotMedia(t *testing.T) {
	dir := t.TempDir()
	putBytes(t, filepath.Join(dir, "fake.png"), []byte("this is not an image\n"))
	putBytes(t, filepath.Join(dir, "fake.mp4"), []byte("this is not a video\n"))
	putBytes(t, filepath.Join(dir, "photo.jpg"), []byte("<!DOCTYPE html><html><head><title>403</title></head></html>"))
	putBytes(t, filepath.Join(dir, "doc.jpg"), []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"))
	putBytes(t, filepath.Join(dir, "notes.txt"), []byte("notes\n"))
	code, out, _ := runCLI(t, "check", dir)
	if code != exitItemsFailed {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"fake.png: error: has the extension .png but holds text, not an image [file.not_media]",
		"fake.mp4: error: has the extension .mp4 but holds text, not a video [file.not_media]",
		"photo.jpg: error: has the extension .jpg but holds HTML",
		"doc.jpg: error: has the extension .jpg but holds PDF, not an image",
		"fix: re-download",
		"5 files: 0 ok, 1 skipped, 4 failed; problems: 4, warnings: 0: file.not_media ×4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "tokens:") || strings.Contains(out, "cost:") {
		t.Errorf("check prints the token summary:\n%s", out)
	}
	_, jout, _ := runCLI(t, "estimate", "--json", filepath.Join(dir, "notes.txt"), filepath.Join(images, "text.png"), filepath.Join(videos, "not_video.mp4"))
	objs := jsonLines(t, jout)
	if objs[0]["status"] != "skipped" || objs[0]["reason"] != "not an image or video: holds text" {
		t.Errorf("notes.txt: %v", objs[0])
	}
	for _, o := range objs[1:3] {
		if o["status"] != "failed" || o["problems"].([]any)[0].(map[string]any)["code"] != "file.not_media" {
			t.Errorf("%s: %v", o["path"], o)
		}
	}
}

// TestVideoProbeProblems: probe failures of videos use the video codes and
// fixes (media.VideoErrorProblem), not "check the file and its permissions",
// and name the path once.
func TestVideoProbeProblems(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	code, out, _ := runCLI(t, "check", "--json", filepath.Join(videos, "audio_only.m4a"))
	objs := jsonLines(t, out)
	if code != exitItemsFailed || objs[0]["code"] != "video.no_video_stream" || strings.Contains(objs[0]["fix"].(string), "permissions") {
		t.Fatalf("audio only: exit %d %v", code, objs)
	}
	t.Setenv("PATH", "/nonexistent")
	p := filepath.Join(videos, "cfr_h264.mp4")
	code, out, _ = runCLI(t, "check", "--json", p)
	objs = jsonLines(t, out)
	if code != exitItemsFailed || objs[0]["fix"] != media.ToolInstallHint || strings.Contains(objs[0]["message"].(string), p) {
		t.Fatalf("no ffprobe: exit %d %v", code, objs)
	}
	code, out, _ = runCLI(t, "check", filepath.Join(images, "empty.jpg"))
	if code != exitItemsFailed || strings.Count(out, "empty.jpg") != 1 {
		t.Errorf("path not printed once:\n%s", out)
	}
}

// TestEstimateColumns: the table has FORMAT and BYTES, and DURATION and FPS
// for videos; the JSON adds the frame list's cost and the video facts.
func TestEstimateColumns(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	v := filepath.Join(videos, "cfr_h264.mp4")
	_, out, _ := runCLI(t, "estimate", filepath.Join(images, "jpeg.jpg"), v)
	lines := strings.Split(out, "\n")
	if f := strings.Fields(lines[0]); strings.Join(f[:8], " ") != "PATH KIND FORMAT BYTES SIZE RESIZED DURATION FPS" {
		t.Errorf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); f[2] != "jpeg" || f[3]+" "+f[4] != "840 B" {
		t.Errorf("image row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[2] != "mp4" || f[7] != "4.00s" || f[8] != "25" {
		t.Errorf("video row %q", lines[2])
	}
	_, jout, _ := runCLI(t, "estimate", "--json", "--prompt", "what happens?", v)
	o := jsonLines(t, jout)[0]
	fl := o["frame_list"].(map[string]any)
	if fl["cost"] == nil || fnum(fl, "cost") != fnum(o, "cost") || num(fl, "input_tokens") != num(o, "input_tokens") {
		t.Errorf("frame list %v, video cost %v input %v", fl, o["cost"], o["input_tokens"])
	}
	if o["codec"] != "h264" || num(o, "source_frames") != 100 {
		t.Errorf("video facts: codec %v, source_frames %v", o["codec"], o["source_frames"])
	}
}

// TestResizeNeverOverwritesExisting: an existing output is skipped unless
// --overwrite; an input is never replaced, even with it.
func TestResizeNeverOverwritesExisting(t *testing.T) {
	dir := t.TempDir()
	putBytes(t, filepath.Join(dir, "g.gif"), fixture(t, "gif.gif"))
	mine := []byte("the user's own g.jpg")
	putBytes(t, filepath.Join(dir, "g.jpg"), mine)
	code, out, _ := runCLI(t, "resize", filepath.Join(dir, "*.gif"), "-o", dir)
	if got, _ := os.ReadFile(filepath.Join(dir, "g.jpg")); code != 0 || !bytes.Equal(got, mine) || !strings.Contains(out, "exists; pass --overwrite") {
		t.Fatalf("exit %d, g.jpg replaced=%v\n%s", code, !bytes.Equal(got, mine), out)
	}
	if !strings.Contains(out, "1 files: 0 written, 1 skipped, 0 failed") {
		t.Errorf("summary:\n%s", out)
	}
	code, out, _ = runCLI(t, "resize", "--overwrite", filepath.Join(dir, "*.gif"), "-o", dir)
	got, _ := os.ReadFile(filepath.Join(dir, "g.jpg"))
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(got)); code != 0 || err != nil || cfg.Width != 320 {
		t.Fatalf("--overwrite: exit %d, %v %v\n%s", code, cfg, err, out)
	}
	// An input is still never overwritten.
	putBytes(t, filepath.Join(dir, "a.jpg"), fixture(t, "orient6.jpg"))
	if code, out, _ := runCLI(t, "resize", "--overwrite", filepath.Join(dir, "a.jpg"), "-o", dir); code != exitItemsFailed || !strings.Contains(out, "overwrite an input") {
		t.Fatalf("input: exit %d\n%s", code, out)
	}
}

// TestResizeTwiceIntoInputFolder: `vision resize a -o a/resized` run again
// does not take the first run's outputs as inputs (they failed as "would
// overwrite an input" and a/resized/resized/ appeared): the output folder
// is listed as skipped, the originals as existing outputs.
func TestResizeTwiceIntoInputFolder(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	putBytes(t, filepath.Join(a, "o.jpg"), fixture(t, "orient6.jpg"))
	putBytes(t, filepath.Join(a, "sub", "p.png"), fixture(t, "png.png"))
	out := filepath.Join(a, "resized")
	for run := 1; run <= 2; run++ {
		code, stdout, _ := runCLI(t, "resize", a, "-o", out)
		if code != 0 || !strings.Contains(stdout, "skipped: output folder (-o) not walked") {
			t.Fatalf("run %d: exit %d\n%s", run, code, stdout)
		}
		want := "3 files: 2 written, 1 skipped, 0 failed"
		if run == 2 {
			want = "3 files: 0 written, 3 skipped, 0 failed"
		}
		if !strings.Contains(stdout, want) {
			t.Errorf("run %d: want %q:\n%s", run, want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "resized")); !os.IsNotExist(err) {
		t.Errorf("%s/resized: %v", out, err)
	}
	for _, p := range []string{"o.jpg", "sub/p.jpg"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}
}

// TestResizeSeveralRoots: several folder arguments are each mirrored below
// their own name; same-named roots and same-stem files are told apart in
// input order, the same on every run.
func TestResizeSeveralRoots(t *testing.T) {
	src := t.TempDir()
	jpg := fixture(t, "orient6.jpg")
	for _, p := range []string{"mr/2023/a.jpg", "mr/2023/sub/b.jpg", "mr/2024/a.jpg", "x/2023/a.jpg", "one/c.png", "one/c.jpg"} {
		putBytes(t, filepath.Join(src, p), jpg)
	}
	out := t.TempDir()
	code, stdout, _ := runCLI(t, "resize", filepath.Join(src, "mr/2023"), filepath.Join(src, "mr/2024"), filepath.Join(src, "x/2023"), "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	for _, p := range []string{"2023/a.jpg", "2023/sub/b.jpg", "2024/a.jpg", "2023-2/a.jpg"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("%s: %v\n%s", p, err, stdout)
		}
	}
	// One folder: mirrored directly; c.png and c.jpg both become JPEGs:
	// the second in input order is c-2.jpg, with a note, every time.
	for range 2 {
		out := t.TempDir()
		code, stdout, _ := runCLI(t, "resize", filepath.Join(src, "one"), "-o", out)
		if code != 0 || !strings.Contains(stdout, "note: written as c-2") {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
		a, _ := os.ReadFile(filepath.Join(out, "c.jpg"))
		b, _ := os.ReadFile(filepath.Join(out, "c-2.jpg"))
		if len(a) == 0 || len(b) == 0 {
			t.Fatalf("c.jpg %d bytes, c-2.jpg %d bytes\n%s", len(a), len(b), stdout)
		}
		if !strings.Contains(stdout, "one/c.png: note: written as c-2: ") {
			t.Errorf("c.png (after c.jpg in lexical order) should be renamed:\n%s", stdout)
		}
	}
}

// TestResizeShowsQualityNote: the fit-to-limit step-down is in the text
// output, not only in --json.
func TestResizeShowsQualityNote(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 9.4-megapixel image several times")
	}
	// Noise: ~0.9 bytes a pixel at quality 90 (over 10 MB as base64 at
	// 3072x3072), ~0.67 at 80 (under).
	r := rand.New(rand.NewPCG(1, 2))
	m := image.NewNRGBA(image.Rect(0, 0, 3072, 3072))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.Uint32())
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "noise.png")
	putBytes(t, p, b.Bytes())
	code, out, _ := runCLI(t, "resize", "--max-pixels", "9437184", p, "-o", t.TempDir())
	if code != 0 || !strings.Contains(out, "noise.png: note: JPEG quality lowered from 90 to 80 to fit the 10.00 MB base64 limit") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestFormatCostWithoutCurrency(t *testing.T) {
	for _, c := range []struct {
		cost     float64
		currency string
		want     string
	}{{0, "", "0"}, {0, "USD", "$0"}, {0.5, "USD", "$0.5000"}, {1.25, "", "1.2500 (currency unknown)"}} {
		if got := formatCost(c.cost, c.currency); got != c.want {
			t.Errorf("formatCost(%g, %q) = %q, want %q", c.cost, c.currency, got, c.want)
		}
	}
}

// TestResizeHEIC: HEIC photos (a grid, an irot one) come out as JPEGs of
// exactly the planned size, upright.
func TestResizeHEIC(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	out := t.TempDir()
	code, stdout, _ := runCLI(t, "resize", "--json", filepath.Join(images, "heic_grid.heic"), filepath.Join(images, "heic_irot.heic"), "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	for _, o := range jsonLines(t, stdout)[:2] {
		img := decodeFile(t, o["output"].(string))
		if b := img.Bounds(); b.Dx() != num(o, "resized_width") || b.Dy() != num(o, "resized_height") {
			t.Errorf("%s: %v, planned %vx%v", o["output"], b, o["resized_width"], o["resized_height"])
		}
		r, g, bl, _ := img.At(img.Bounds().Dx()/16, img.Bounds().Dy()/16).RGBA()
		if c := (color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}); c.R < 180 || c.G > 80 || c.B > 80 {
			t.Errorf("%s: top-left %v, want red (upright)", o["path"], c)
		}
	}
}

// TestControlCharactersInNames: a name holding a newline, a tab or a
// terminal escape is printed quoted with them escaped, so it stays on its
// table line and cannot drive the terminal; --json keeps it exact.
func TestControlCharactersInNames(t *testing.T) {
	dir := t.TempDir()
	name := "a\nb\tc\x1b[31m.png"
	putBytes(t, filepath.Join(dir, name), fixture(t, "png.png"))
	code, stdout, _ := runCLI(t, "estimate", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if strings.Contains(stdout, "\x1b") || !strings.Contains(stdout, `a\nb\tc\x1b[31m.png"`) {
		t.Errorf("table:\n%s", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 2 || !strings.HasSuffix(strings.TrimSpace(lines[1]), "ok") {
		t.Errorf("the file's row is not one line:\n%s", stdout)
	}
	// Messages quoting the name (resize's failure of a file that is not an
	// image) escape it too, on stdout and in the problem lines.
	putBytes(t, filepath.Join(dir, "bad\x1b]0;T\x07.png"), []byte("text"))
	if _, stdout, stderr := runCLI(t, "resize", dir, "-o", filepath.Join(t.TempDir(), "o")); strings.ContainsAny(stdout+stderr, "\x1b\x07") {
		t.Errorf("resize printed a raw escape:\n%q", stdout)
	}
	code, stdout, _ = runCLI(t, "estimate", "--json", filepath.Join(dir, name))
	if code != 0 || !strings.Contains(stdout, `b\tc\u001b[31m.png"`) {
		t.Errorf("exit %d, json:\n%s", code, stdout)
	}
}

// TestTruncatedAfterHeaderNeverSentAsIs: a PNG and a JPEG already at their
// smart size (640x480 on qwen3-vl-plus) but cut in half, their headers
// whole, would be sent or copied byte for byte; resize and ask decode them
// first and fail them as file.corrupt (exit 3), writing nothing.
func TestTruncatedAfterHeaderNeverSentAsIs(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.IntN(256))
	}
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	putBytes(t, filepath.Join(in, "whole.png"), pngData.Bytes())
	putBytes(t, filepath.Join(in, "cut.png"), pngData.Bytes()[:pngData.Len()/2])
	out := filepath.Join(dir, "out")
	code, stdout, _ := runCLI(t, "resize", in, "-o", out)
	if code != exitItemsFailed || !strings.Contains(stdout, "cut.png: error: ") || !strings.Contains(stdout, "[file.corrupt]") ||
		!strings.Contains(stdout, "2 files: 1 written, 0 skipped, 1 failed") {
		t.Errorf("resize: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "cut.png")); !os.IsNotExist(err) {
		t.Errorf("out/cut.png: %v", err)
	}
	code, _, stderr := runCLI(t, "ask", "--dry-run", "-p", "x", filepath.Join(in, "cut.png"))
	if code != exitItemsFailed || !strings.Contains(stderr, "corrupt or truncated") || !strings.Contains(stderr, "vision: hint: ") {
		t.Errorf("ask: exit %d\n%s", code, stderr)
	}
}

// TestOutputFolderIsInput: -o naming an input folder itself is a usage
// error with a subfolder to use (the walk skips the output folder, so the
// run did nothing and exited 0); an empty folder named on purpose is
// listed as skipped, not left out.
func TestOutputFolderIsInput(t *testing.T) {
	dir := t.TempDir()
	putBytes(t, filepath.Join(dir, "a.png"), fixture(t, "png.png"))
	for _, args := range [][]string{{"resize", dir, "-o", dir}, {"resize", dir, "-o", dir + "/"}, {"frames", dir, "-o", dir}} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "is the input folder") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "estimate", empty)
	if code != 0 || !strings.Contains(stdout, "skipped: empty folder") {
		t.Errorf("estimate empty: exit %d\n%s", code, stdout)
	}
}
