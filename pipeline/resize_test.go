package pipeline

import (
	"path/filepath"
	"testing"

	"github.com/qwen-vision/vision/media"
)

// TestOutputNames: one folder argument is mirrored directly, several each
// below their base name (a repeated base name gets -2), files named directly
// go to the top; same-stem inputs are renamed in input order, whatever order
// the names are asked for in.
func TestOutputNames(t *testing.T) {
	in := []Input{
		{Path: "mr/2023/a.jpg", Root: "mr/2023", Rel: "a.jpg"},
		{Path: "mr/2023/sub/b.png", Root: "mr/2023", Rel: "sub/b.png"},
		{Path: "mr/2024/a.jpg", Root: "mr/2024", Rel: "a.jpg"},
		{Path: "x/2023/a.jpg", Root: "x/2023", Rel: "a.jpg"},
		{Path: "c.png", Rel: "c.png"},
		{Path: "d/c.jpg", Rel: "c.jpg"},
	}
	o := newOutputNames("out", in)
	want := []string{"out/2023/a.jpg", "out/2023/sub/b.jpg", "out/2024/a.jpg", "out/2023-2/a.jpg", "out/c.jpg", "out/c-2.jpg"}
	for i := len(in) - 1; i >= 0; i-- { // asked for in reverse: the same names
		if got := o.name(i, "image/jpeg"); got != filepath.FromSlash(want[i]) {
			t.Errorf("%s → %s, want %s", in[i].Path, got, want[i])
		}
	}
	if n := o.notes(5); len(n) != 1 || n[0] != "written as c-2: c.png goes to c" {
		t.Errorf("notes %q", n)
	}
	if got := o.name(1, "image/png"); got != filepath.FromSlash("out/2023/sub/b.png") {
		t.Errorf("kept PNG → %s", got)
	}
	// A single folder argument is mirrored directly.
	one := newOutputNames("out", in[:2])
	if got := one.name(1, "image/jpeg"); got != filepath.FromSlash("out/sub/b.jpg") {
		t.Errorf("single root → %s", got)
	}
}

func TestEncodeOptionsCarryDecodeLimit(t *testing.T) {
	cfg := Config{MaxDecodePixels: 1234}
	if o := cfg.encodeOptions("png", 80, media.TransportBase64); o.MaxPixels != 1234 || o.Format != "png" || o.Quality != 80 {
		t.Errorf("%+v", o)
	}
}
