package media

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

const videosDir = "../testdata/video"

// needFFmpeg skips the test when ffmpeg or ffprobe is not installed (the
// idea of Go's internal testenv.MustHaveExecPath).
func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

func videoPath(name string) string { return filepath.Join(videosDir, name) }

// probeFixture probes a fixture video, failing the test on error.
func probeFixture(t testing.TB, name string) Info {
	t.Helper()
	info, err := Probe(context.Background(), videoPath(name))
	if err != nil {
		t.Fatalf("Probe(%s): %v", name, err)
	}
	return info
}

// testSpec is the spec of the default model.
func testSpec(t testing.TB) tokens.Spec {
	t.Helper()
	m, err := tokens.Lookup("qwen3-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	return m.Spec
}

// planFor plans the frames of info for the default model.
func planFor(t testing.TB, info Info, o tokens.VideoOptions) tokens.FramePlan {
	t.Helper()
	p, err := tokens.PlanVideo(tokens.VideoSource{Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS}, testSpec(t), o)
	if err != nil {
		t.Fatalf("PlanVideo(%s): %v", info.Path, err)
	}
	return p
}

// stamp reads what a fixture frame shows (testdata/gen/videos.sh): the
// index written as 10 stripes across the top half, least significant bit on
// the left, and whether it is upright (the white block is bottom-left).
func stamp(img image.Image) (index int, upright bool) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	lum := func(x, y int) uint8 { return color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y }
	for bit := range 10 {
		if lum((2*bit+1)*w/20, h/4) > 128 {
			index |= 1 << bit
		}
	}
	upright = lum(w/8, 3*h/4) > 180 && lum(7*w/8, 3*h/4) < 110
	return index, upright
}

func decodeJPEG(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode frame: %v", err)
	}
	return img
}
