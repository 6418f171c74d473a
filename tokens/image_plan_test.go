package tokens

import (
	"errors"
	"testing"
)

// TestPlanImageKeepsResizedRatioSize: a size whose resize breaks 200:1
// keeps the resized size in the plan (for the message), with no tokens.
func TestPlanImageKeepsResizedRatioSize(t *testing.T) {
	s, err := FamilySpec(FamilyQwen3VLPlus, false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanImage(100, 20000, s, ImageOptions{})
	if !errors.Is(err, ErrAspectRatio) {
		t.Fatalf("err = %v", err)
	}
	if p.ResizedWidth != 96 || p.ResizedHeight != 20000 || p.Width != 100 || p.Tokens != 0 || p.InputTokens != 0 {
		t.Errorf("plan %+v, want 96x20000 and no tokens", p)
	}
	if p, err := PlanImage(11, 2201, s, ImageOptions{}); !errors.Is(err, ErrAspectRatio) || p != (ImagePlan{}) {
		t.Errorf("ratio over 200:1 before resizing: %+v %v", p, err)
	}
}
