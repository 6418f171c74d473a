package media

import (
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

func TestVideoCountProblems(t *testing.T) {
	m, err := tokens.Lookup("qwen3-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	spec := m.Spec
	if ps := VideoCountProblems(64, spec); len(ps) != 0 {
		t.Errorf("64 videos: %v", ps)
	}
	ps := VideoCountProblems(65, spec)
	if len(ps) != 1 || ps[0].Code != "video.too_many" || ps[0].Severity != SeverityError || ps[0].Fix == "" {
		t.Errorf("65 videos: %+v", ps)
	}
}
