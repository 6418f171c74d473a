package media

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// collectSheets draws frames into contact sheets and returns the sheets.
func collectSheets(t testing.TB, frames []Frame, w, h int) []image.Image {
	t.Helper()
	var sheets []image.Image
	c, err := NewContactSheets(len(frames), w, h, func(s int, data []byte) error {
		if s != len(sheets) {
			t.Errorf("sheet %d written after %d", s, len(sheets))
		}
		img, err := jpeg.Decode(bytes.NewReader(data))
		sheets = append(sheets, img)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := c.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return sheets
}

// TestContactSheet draws a fixture's frames: one sheet in an about square
// grid of 320 px cells, each cell showing its frame (the stamp it
// carries), in order.
func TestContactSheet(t *testing.T) {
	needFFmpeg(t)
	info := probeFixture(t, "cfr_h264.mp4")
	plan := planFor(t, info, tokens.VideoOptions{})
	frames, err := ExtractFrames(context.Background(), info.Path, info, plan, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sheets := collectSheets(t, frames, plan.ResizedWidth, plan.ResizedHeight)
	if len(sheets) != 1 {
		t.Fatalf("%d sheets for %d frames", len(sheets), len(frames))
	}
	img := sheets[0]
	// 8 frames of 352x192: cells of 320x174 in 3 columns, 3 rows.
	if b := img.Bounds(); b.Dx() != 3*(320+4)+4 || b.Dy() != 3*(174+16+4)+4 {
		t.Errorf("sheet is %dx%d", b.Dx(), b.Dy())
	}
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	for k, f := range frames {
		x, y := 4+(k%3)*(320+4), 4+(k/3)*(174+16+4)
		if got, up := stamp(sub.SubImage(image.Rect(x, y, x+320, y+174))); got != f.Index || !up {
			t.Errorf("cell %d shows %d (upright %v), want frame %d", k, got, up, f.Index)
		}
	}
	if _, err := NewContactSheets(0, 10, 10, nil); err == nil {
		t.Error("no frames: no error")
	}
	c, _ := NewContactSheets(2, 10, 10, func(int, []byte) error { return nil })
	if err := c.Add(Frame{Index: 1}); err == nil {
		t.Error("frame without data: no error")
	}
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "0 of the 2") {
		t.Errorf("short list: %v", err)
	}
}

// smallFrames are n frames of one w×h JPEG.
func smallFrames(t testing.TB, n, w, h int) []Frame {
	t.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	frames := make([]Frame, n)
	for i := range frames {
		frames[i] = Frame{Index: i, TimeS: float64(i) / 2, Data: buf.Bytes()}
	}
	return frames
}

// TestContactSheetsMemory: 1,000 frames make 10 sheets of 100, and the
// live heap while drawing stays at about one sheet (1804x1164 RGBA for
// 176x96 frames, 8.4 MB), not the frames: the decoded frames alone are 25
// MB (1,000 of 352x192: 100 MB, and a single sheet of them all 14.6k×9k
// px, 500 MB).
func TestContactSheetsMemory(t *testing.T) {
	frames := smallFrames(t, 1000, 176, 96)
	var peak uint64
	var ms runtime.MemStats
	sheets := 0
	c, err := NewContactSheets(len(frames), 176, 96, func(s int, data []byte) error {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 10*(176+4)+4 || cfg.Height != 10*(96+16+4)+4 {
			t.Errorf("sheet %d: %dx%d, %v", s, cfg.Width, cfg.Height, err)
		}
		sheets++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	for k, f := range frames {
		if err := c.Add(f); err != nil {
			t.Fatal(err)
		}
		if k%50 == 49 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc-min(base, ms.HeapAlloc))
		}
	}
	if err := c.Close(); err != nil || sheets != 10 {
		t.Fatalf("%d sheets, %v", sheets, err)
	}
	t.Logf("1000 frames: peak live heap %.1f MB above the frames' bytes", float64(peak)/1e6)
	if peak > 12e6 {
		t.Errorf("live heap grew by %.1f MB drawing 1000 frames; one sheet is 8.4 MB", float64(peak)/1e6)
	}
}

// BenchmarkContactSheets1000 draws 1,000 frames of 352x192 into sheets and
// reports the process's peak RSS (VmHWM, Linux).
func BenchmarkContactSheets1000(b *testing.B) {
	frames := smallFrames(b, 1000, 352, 192)
	for b.Loop() {
		c, err := NewContactSheets(len(frames), 352, 192, func(int, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range frames {
			if err := c.Add(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	if kb := vmHWM(); kb > 0 {
		b.ReportMetric(float64(kb)/1e3, "peak-RSS-MB")
	}
}

// vmHWM is the process's peak resident set in kB (0 where /proc has none).
func vmHWM() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
