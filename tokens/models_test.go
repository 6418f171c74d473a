package tokens

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEveryModelHasSourcedNumbers(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Models() {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Source == "" {
			t.Errorf("%s: no source for the name", m.Name)
		}
		if m.Factor != 28 && m.Factor != 32 {
			t.Errorf("%s: factor %d", m.Name, m.Factor)
		}
		// Every numeric field of Spec must say where it comes from.
		b, _ := json.Marshal(m.Spec)
		var fields map[string]any
		json.Unmarshal(b, &fields)
		for k, v := range fields {
			if _, isNum := v.(float64); isNum && m.Sources[k] == "" {
				t.Errorf("%s: %s = %v has no source", m.Name, k, v)
			}
		}
		if m.ImageMinPixels > m.ImageMaxPixelsDefault || m.ImageMaxPixelsDefault > m.ImageMaxPixels ||
			m.VideoMinPixelsDefault > m.VideoMaxPixelsDefault || m.VideoMaxPixelsDefault > m.VideoMaxPixels {
			t.Errorf("%s: bounds out of order: %+v", m.Name, m.Spec)
		}
	}
	for _, name := range []string{"qwen3-vl-plus", "qwen3-vl-flash", "qwen3.5-plus", "qwen3.6-plus", "qwen3.7-plus",
		"qwen-vl-max", "qwen-vl-plus", "qwen2.5-vl-72b-instruct", "qvq-max", "qwen3-vl-235b-a22b-thinking", "qwen3-vl-8b-instruct"} {
		if !seen[name] {
			t.Errorf("registry misses %s", name)
		}
	}
}

func TestFamilyNumbersFromSeeds(t *testing.T) {
	// seed 000 lines 1306–1402.
	tests := []struct {
		model                          string
		factor, imgMin, imgMax, vidMax int
		vidCap, maxFrames              int
		total                          float64
	}{
		{"qwen3-vl-plus", 32, 65536, 2621440, 655360, 2048000, 2000, 134217728},
		{"qwen3.5-plus", 32, 65536, 2621440, 655360, 2048000, 2000, 134217728},
		{"qwen3-vl-32b-instruct", 32, 65536, 2621440, 655360, 786432, 512, 67108864},
		{"qwen-vl-max", 32, 4096, 1310720, 655360, 786432, 512, 67108864},
		{"qwen-vl-plus-0815", 32, 4096, 1310720, 655360, 786432, 512, 67108864},
		{"qwen-vl-max-2025-04-08", 28, 3136, 1003520, 501760, 602112, 512, 51380224},
		{"qvq-max", 28, 3136, 1003520, 501760, 602112, 512, 51380224},
	}
	for _, tt := range tests {
		m, err := Lookup(tt.model)
		if err != nil {
			t.Fatal(err)
		}
		got := []any{m.Factor, m.ImageMinPixels, m.ImageMaxPixelsDefault, m.VideoMaxPixelsDefault, m.VideoMaxPixels, m.MaxFrames, m.VideoTotalPixelsDefault}
		want := []any{tt.factor, tt.imgMin, tt.imgMax, tt.vidMax, tt.vidCap, tt.maxFrames, tt.total}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", tt.model, got, want)
		}
	}
	plus, _ := Lookup("qwen-vl-plus")
	max, _ := Lookup("qwen-vl-max")
	if plus.VideoMaxSeconds != 600 || max.VideoMaxSeconds != 1200 {
		t.Errorf("durations: plus %v max %v", plus.VideoMaxSeconds, max.VideoMaxSeconds)
	}
	q37, _ := Lookup("qwen3.7-plus")
	if q37.ImagesPerRequestURL != 2048 || !strings.HasPrefix(q37.Sources["image_min_pixels"], "assumed:") {
		t.Errorf("qwen3.7: %d images by URL, source %q", q37.ImagesPerRequestURL, q37.Sources["image_min_pixels"])
	}
}

func TestLookupUnknownListsCloseMatches(t *testing.T) {
	_, err := Lookup("qwen3-vl-plsu")
	var ue *UnknownModelError
	if !errors.As(err, &ue) || len(ue.Similar) == 0 || ue.Similar[0] != "qwen3-vl-plus" {
		t.Fatalf("err = %v", err)
	}
	if _, err := Lookup("QWEN-VL-MAX"); err != nil {
		t.Fatalf("case-insensitive lookup: %v", err)
	}
	m, err := WithFamily("qwen9-vl-ultra", FamilyQwen3VLPlus)
	if err != nil || m.Factor != 32 || m.MaxFrames != 2000 {
		t.Fatalf("WithFamily: %+v %v", m, err)
	}
	if _, err := WithFamily("x", "nope"); err == nil {
		t.Fatal("unknown family accepted")
	}
}

func TestImageBounds(t *testing.T) {
	a, _ := Lookup("qwen3-vl-plus")
	d, _ := Lookup("qwen2.5-vl-7b-instruct")
	check := func(s Spec, o ImageOptions, lo, hi float64, wantErr bool) {
		t.Helper()
		gl, gh, err := s.ImageBounds(o)
		if wantErr {
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Errorf("%+v: err %v, want OptionError", o, err)
			}
			return
		}
		if err != nil || gl != lo || gh != hi {
			t.Errorf("%+v: got [%v,%v] %v, want [%v,%v]", o, gl, gh, err, lo, hi)
		}
	}
	check(a.Spec, ImageOptions{}, 65536, 2621440, false)
	check(a.Spec, ImageOptions{HighRes: true, MaxPixels: 100000}, 65536, 16777216, false)
	check(d.Spec, ImageOptions{HighRes: true}, 3136, 12845056, false)
	check(a.Spec, ImageOptions{MaxPixels: 8388608}, 65536, 8388608, false)
	check(a.Spec, ImageOptions{MaxPixels: 16777217}, 0, 0, true)
	check(a.Spec, ImageOptions{MinPixels: 4096}, 0, 0, true)
	check(a.Spec, ImageOptions{MinPixels: 200000, MaxPixels: 100000}, 0, 0, true)
	check(CustomSpec(28), ImageOptions{MinPixels: 1, MaxPixels: 1 << 30}, 1, 1<<30, false)
}

func TestRateLimits(t *testing.T) {
	plus, _ := Lookup("qwen3-vl-plus")
	qvq, _ := Lookup("qvq-max")
	if plus.RPM != 1200 || plus.TPM != 1_000_000 || qvq.RPM != 60 || qvq.TPM != 100_000 {
		t.Fatalf("rpm/tpm: plus %d/%d qvq %d/%d", plus.RPM, plus.TPM, qvq.RPM, qvq.TPM)
	}
}

func TestTextOnlyModels(t *testing.T) {
	// seed 003 line 572: these take the text API only.
	for _, name := range []string{"qwen3.7-max", "qwen3.7-max-2026-05-20", "qwen3.6-max-preview", "QWEN3.7-MAX"} {
		_, err := Lookup(name)
		var um *UnknownModelError
		if !errors.As(err, &um) || um.TextOnly == "" {
			t.Fatalf("%s: err = %v, want a text-only UnknownModelError", name, err)
		}
		for _, want := range []string{"text-only", "seed 003 line 572", "use a vision model such as"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", name, err, want)
			}
		}
		if um.Similar != nil {
			t.Errorf("%s: close matches %v instead of the text-only reason", name, um.Similar)
		}
	}
	// The multimodal snapshot of qwen3.7-max is a vision model.
	if _, err := Lookup("qwen3.7-max-2026-06-08"); err != nil {
		t.Fatal(err)
	}
	for _, tm := range textOnly {
		for _, use := range strings.Split(tm.use, ", ") {
			if _, err := Lookup(strings.Fields(use)[0]); err != nil {
				t.Errorf("%s suggests %s: %v", tm.name, use, err)
			}
		}
	}
}
