package pipeline

import (
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

func TestPresetOCRNumbers(t *testing.T) {
	p := Presets["ocr"]
	// reference/dashscope-notes.md §1: min_pixels = 512·32·32, max_pixels = 2048·32·32.
	if p.Prompt != "qwenvl markdown" || p.MinPixels != 524288 || p.MaxPixels != 2097152 || p.OutputExt != ".md" {
		t.Errorf("ocr = %+v", p)
	}
	ev := Presets["video-events"]
	for _, s := range []string{"start_time", "end_time", "(event)", "JSON", "HH:mm:ss"} {
		if !strings.Contains(ev.Prompt, s) {
			t.Errorf("video-events prompt lacks %q", s)
		}
	}
	if !ev.ParseEvents || Presets["describe"].ParseEvents || Presets["ocr"].ParseEvents {
		t.Error("only video-events parses events")
	}
}

func TestPresetLookup(t *testing.T) {
	for _, n := range PresetNames() {
		p, err := LookupPreset(strings.ToUpper(n))
		if err != nil || p.Name != n || p.Prompt == "" || p.Doc == "" {
			t.Errorf("LookupPreset(%q) = %+v, %v", n, p, err)
		}
	}
	if got := strings.Join(PresetNames(), " "); got != "describe ocr video-events" {
		t.Errorf("PresetNames = %s", got)
	}
	_, err := LookupPreset("ocrr")
	if err == nil || !strings.Contains(err.Error(), "describe, ocr, video-events") {
		t.Errorf("unknown preset error = %v", err)
	}
}

func TestPresetScalePixelBounds(t *testing.T) {
	spec := func(f tokens.Family) tokens.Spec {
		s, err := tokens.FamilySpec(f, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ocr := Presets["ocr"]
	cases := []struct {
		name     string
		spec     tokens.Spec
		p        Preset
		min, max int
	}{
		{"32-px model keeps the cookbook numbers", spec(tokens.FamilyQwen3VLPlus), ocr, 524288, 2097152},
		{"28-px model: same tokens", spec(tokens.FamilyQwen25VL), ocr, 512 * 28 * 28, 2048 * 28 * 28},
		{"custom 14-px: no cap", tokens.CustomSpec(14), ocr, 512 * 14 * 14, 2048 * 14 * 14},
		{"zero stays the model default", spec(tokens.FamilyQwen3VLPlus), Presets["describe"], 0, 0},
		{"below the model minimum", spec(tokens.FamilyQwen3VLPlus), Preset{MinPixels: 1000, MaxPixels: 2000}, 65536, 65536},
		{"above the model maximum", spec(tokens.FamilyQwen3VLPlus), Preset{MinPixels: 1 << 30, MaxPixels: 1 << 31}, 16777216, 16777216},
		{"min above the default max", spec(tokens.FamilyQwenVLMaxPlus), Preset{MinPixels: 2097152}, 2097152, 2097152},
	}
	for _, c := range cases {
		o := ScalePixelBounds(c.spec, c.p)
		if o.MinPixels != c.min || o.MaxPixels != c.max || o.HighRes {
			t.Errorf("%s: got %+v, want min %d max %d", c.name, o, c.min, c.max)
		}
		if _, _, err := c.spec.ImageBounds(o); err != nil {
			t.Errorf("%s: %+v rejected by the model: %v", c.name, o, err)
		}
	}
	// Every preset is accepted by every known family.
	for _, f := range tokens.Families {
		for _, p := range Presets {
			if _, _, err := spec(f).ImageBounds(ScalePixelBounds(spec(f), p)); err != nil {
				t.Errorf("%s on %s: %v", p.Name, f, err)
			}
		}
	}
}
