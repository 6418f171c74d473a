package media

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// TestPrepareFFmpegScalerOrientations runs the ffmpeg fast path on all eight
// EXIF orientations with a plan small enough to take it, and checks the
// result is upright, exactly the planned size, and like the Go path's.
func TestPrepareFFmpegScalerOrientations(t *testing.T) {
	needFFmpeg(t)
	for o := 1; o <= 8; o++ {
		p := filepath.Join(imagesDir, "orient"+string(rune('0'+o))+".jpg")
		info := probeT(t, p)
		plan := tokens.ImagePlan{Width: 64, Height: 48, ResizedWidth: 32, ResizedHeight: 24}
		if !useFFmpegScaler(info, plan) {
			t.Fatalf("orientation %d: fast path not taken for %+v", o, info)
		}
		fast, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := decodeBytes(t, fast.Data)
		if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 24 {
			t.Fatalf("orientation %d: %v, want 32x24", o, b)
		}
		checkPattern(t, img, 48)
		slow, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{NoFFmpeg: true})
		if err != nil {
			t.Fatal(err)
		}
		if fast.Quality != slow.Quality || fast.MIME != slow.MIME {
			t.Errorf("orientation %d: fast %d %s, slow %d %s", o, fast.Quality, fast.MIME, slow.Quality, slow.MIME)
		}
	}
}

func TestFFmpegScalerSkipsSmallShrinks(t *testing.T) {
	info := Info{Format: "jpeg", CodedWidth: 64, CodedHeight: 48}
	if useFFmpegScaler(info, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for a 1× shrink")
	}
	if useFFmpegScaler(Info{Format: "png", CodedWidth: 4000, CodedHeight: 3000}, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for a PNG")
	}
	if useFFmpegScaler(Info{Format: "jpeg", ColorModel: "cmyk", CodedWidth: 4000, CodedHeight: 3000}, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for CMYK")
	}
}

func TestScaleArgsReadFileURL(t *testing.T) {
	got := strings.Join(scaleArgs("file:/x/-i.jpg", 48, 64, 6), " ")
	want := "-nostdin -hide_banner -v error -threads 1 -filter_threads 1 -noautorotate -i file:/x/-i.jpg -vf scale=48:64:flags=bicubic,transpose=1 -frames:v 1 -f rawvideo -pix_fmt yuvj420p -"
	if got != want {
		t.Errorf("args:\n%s\nwant\n%s", got, want)
	}
}
