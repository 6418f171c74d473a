package pipeline

import (
	"testing"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// TestPlannedImageTransport: the plan predicts Prepare's choice instead of
// always saying base64.
func TestPlannedImageTransport(t *testing.T) {
	m, err := tokens.Lookup("qwen3-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	spec := m.Spec    // 10 MB data URLs
	const side = 4096 // 16.7 MP, --high-res
	jpeg := func(bytes int64) media.Info {
		return media.Info{Format: "jpeg", MIME: "image/jpeg", Width: side, Height: side, Bytes: bytes}
	}
	cases := []struct {
		name string
		info media.Info
		w, h int
		want string
	}{
		{"default bounds, any content", media.Info{}, 1600, 1600, SendBase64},
		{"16.7 MP page, worst case over the limit", media.Info{}, side, side, SendUpload},
		{"16.7 MP JPEG kept as it is", jpeg(4_000_000), side, side, SendBase64},
		{"16.7 MP JPEG photo, re-encoded (rotated)", media.Info{Format: "jpeg", MIME: "image/jpeg", Width: side, Height: side, Bytes: 4_000_000, Orientation: 6}, side, side, SendBase64},
		{"16.7 MP JPEG of noise, over the limit", jpeg(9_500_000), side, side, SendUpload},
		{"large JPEG shrunk to 2.6 MP", jpeg(30_000_000), 1600, 1600, SendBase64},
	}
	for _, c := range cases {
		if got := imageTransport(spec, c.info, c.w, c.h); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	spec.ImageBase64MaxBytes = 0
	if got := imageTransport(spec, media.Info{}, side, side); got != SendBase64 {
		t.Errorf("no limit: %s", got)
	}
}
