package tokens

import (
	"fmt"
	"sort"
	"strings"
)

// Model is a model name with its family's numbers.
type Model struct {
	Name string `json:"name"`
	// Source says where the name appears in the seeds.
	Source string `json:"source"`
	Spec
}

// registryEntry names one model, its family and where the seeds name it.
type registryEntry struct {
	name   string
	family Family
	plus   bool // qwen-vl-plus limits within FamilyQwenVLMaxPlus
	source string
}

// spec returns the entry's numbers, with the per-model exceptions of seed 001.
func (e registryEntry) spec() (Spec, error) {
	s, err := FamilySpec(e.family, e.plus)
	if err != nil {
		return s, err
	}
	if e.name == "qwen-vl-max-2025-04-08" {
		// seed 001 lines 2259 and 2265: qwen-vl-max versions from 2025-04-08
		// on take videos up to 20 minutes and 2 GB by URL.
		s.VideoMaxSeconds, s.VideoURLMaxBytes = 1200, 2*GB
		s.Sources["video_max_seconds"] = vis(2265) + " (qwen-vl-max 2025-04-08 and later)"
		s.Sources["video_url_max_bytes"] = vis(2259) + " (qwen-vl-max 2025-04-08 and later)"
	}
	if strings.HasPrefix(e.name, "qvq") {
		s.RPM, s.TPM = 60, 100_000
		s.Sources["rpm"] = "assumed: older Model Studio rate-limit page, qvq-max 60 QPM and 100,000 TPM (dashscope-notes.md §3)"
		s.Sources["tpm"] = s.Sources["rpm"]
	}
	return s, nil
}

// registry is every vision model named in the seeds, plus the open-source
// Qwen3-VL sizes that seed 000 groups as "other Qwen3-VL open source models".
var registry = []registryEntry{
	{"qwen3.7-plus", FamilyQwen37, false, vis(19)},
	{"qwen3.7-max-2026-06-08", FamilyQwen37, false, "seed 003 line 572 (supports the multimodal API)"},
	{"qwen3.6-plus", FamilyQwen36, false, "seed 003 line 69; seed 001 line 2254 (qwen3.6 series)"},
	{"qwen3.6-flash", FamilyQwen36, false, "assumed: the qwen3.6 series of seed 001 line 2254 (flash tier priced in dashscope-notes §3)"},
	{"qwen3.5-plus", FamilyQwen35, false, api(17)},
	{"qwen3.5-flash", FamilyQwen35, false, "assumed: the qwen3.5 series of seed 000 line 1312 (flash tier priced in dashscope-notes §3)"},
	{"qwen3-vl-plus", FamilyQwen3VLPlus, false, api(17)},
	{"qwen3-vl-plus-latest", FamilyQwen3VLPlus, false, "assumed: the -latest alias of the qwen3-vl-plus series (seed 000 line 1312)"},
	{"qwen3-vl-plus-2025-09-23", FamilyQwen3VLPlus, false, "seed 002 line 1189"},
	{"qwen3-vl-flash", FamilyQwen3VLPlus, false, api(1312)},
	{"qwen3-vl-flash-latest", FamilyQwen3VLPlus, false, "assumed: the -latest alias of the qwen3-vl-flash series (seed 000 line 1312)"},
	{"qwen3-vl-flash-2025-10-15", FamilyQwen3VLPlus, false, "seed 002 line 1191"},
	{"qwen3-vl-235b-a22b-thinking", FamilyQwen3VLPlus, false, api(1312)},
	{"qwen3-vl-235b-a22b-instruct", FamilyQwen3VLPlus, false, api(1312)},
	{"qwen3-vl-32b-instruct", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378 'other Qwen3-VL open source models')"},
	{"qwen3-vl-32b-thinking", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-30b-a3b-instruct", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-30b-a3b-thinking", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-8b-instruct", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-8b-thinking", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-4b-instruct", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-4b-thinking", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-2b-instruct", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen3-vl-2b-thinking", FamilyQwen3VLOpen, false, "assumed: open-source Qwen3-VL size (seed 000 line 1378)"},
	{"qwen-vl-max", FamilyQwenVLMaxPlus, false, api(1314)},
	{"qwen-vl-max-latest", FamilyQwenVLMaxPlus, false, api(1314)},
	{"qwen-vl-max-0813", FamilyQwenVLMaxPlus, false, api(1314)},
	{"qwen-vl-max-2025-08-13", FamilyQwenVLMaxPlus, false, "seed 000 line 1513 (the 0813 snapshot of seed 000 line 1314)"},
	{"qwen-vl-plus", FamilyQwenVLMaxPlus, true, api(1314)},
	{"qwen-vl-plus-latest", FamilyQwenVLMaxPlus, true, api(1314)},
	{"qwen-vl-plus-0815", FamilyQwenVLMaxPlus, true, api(1314)},
	{"qwen-vl-plus-2025-08-15", FamilyQwenVLMaxPlus, true, "seed 000 line 1517 (the 0815 snapshot of seed 000 line 1314)"},
	{"qwen-vl-plus-0710", FamilyQwenVLMaxPlus, true, "seed 002 line 1120"},
	{"qwen-vl-plus-2025-07-10", FamilyQwenVLMaxPlus, true, "seed 000 line 1517 (the 0710 snapshot of seed 002 line 1120)"},
	{"qwen-vl-max-2025-04-08", FamilyQwen25VL, false, "seed 000 line 1515 (other qwen-vl-max models, seed 000 line 1334)"},
	{"qwen-vl-max-2025-04-02", FamilyQwen25VL, false, "seed 002 line 1249"},
	{"qwen-vl-max-2025-01-25", FamilyQwen25VL, false, "seed 002 line 1249"},
	{"qwen-vl-max-2024-12-30", FamilyQwen25VL, false, "seed 002 line 1249"},
	{"qwen-vl-max-2024-11-19", FamilyQwen25VL, false, "seed 002 line 1248"},
	{"qwen-vl-max-2024-10-30", FamilyQwen25VL, false, "seed 002 line 1248"},
	{"qwen-vl-max-2024-08-09", FamilyQwen25VL, false, "seed 002 line 1193"},
	{"qwen-vl-max-2024-02-01", FamilyQwen25VL, false, "seed 002 line 1320"},
	{"qwen-vl-plus-2025-05-07", FamilyQwen25VL, true, "seed 002 line 1279"},
	{"qwen-vl-plus-2025-01-25", FamilyQwen25VL, true, "seed 000 line 1605"},
	{"qwen-vl-plus-2025-01-02", FamilyQwen25VL, true, "seed 002 line 1279"},
	{"qwen-vl-plus-2024-08-09", FamilyQwen25VL, true, "seed 002 line 1195"},
	{"qwen-vl-plus-2023-12-01", FamilyQwen25VL, true, "seed 002 line 1280"},
	{"qwen2.5-vl-72b-instruct", FamilyQwen25VL, false, "seed 000 line 817"},
	{"qwen2.5-vl-32b-instruct", FamilyQwen25VL, false, "seed 000 line 1515"},
	{"qwen2.5-vl-7b-instruct", FamilyQwen25VL, false, "seed 000 line 1515"},
	{"qwen2.5-vl-3b-instruct", FamilyQwen25VL, false, "seed 000 line 1515"},
	{"qvq-max", FamilyQwen25VL, false, "seed 002 line 1319 (QVQ series, seed 000 line 1334)"},
	{"qvq-72b-preview", FamilyQwen25VL, false, "seed 002 line 1235 (QVQ series, seed 000 line 1334)"},
	{"qwen2-vl-72b-instruct", FamilyQwen2VL, false, "seed 002 line 1249"},
	{"qwen2-vl-7b-instruct", FamilyQwen2VL, false, "seed 002 line 1249"},
	{"qwen2-vl-2b-instruct", FamilyQwen2VL, false, "seed 002 line 1249"},
}

// DefaultModel is the model used when none is named (DESIGN.md).
const DefaultModel = "qwen3-vl-plus"

// FamilySpec returns the numbers of a family. plusLimits selects the
// qwen-vl-plus video limits within FamilyQwenVLMaxPlus.
func FamilySpec(f Family, plusLimits bool) (Spec, error) {
	switch f {
	case FamilyQwen37, FamilyQwen36, FamilyQwen35:
		return specQwen35Plus(f), nil
	case FamilyQwen3VLPlus:
		return specA(f), nil
	case FamilyQwen3VLOpen:
		return specB(), nil
	case FamilyQwenVLMaxPlus:
		return specC(plusLimits), nil
	case FamilyQwen25VL, FamilyQwen2VL:
		s := specD(f)
		if f == FamilyQwen25VL && plusLimits {
			s.VideoURLMaxBytes = 1 * GB
		}
		return s, nil
	}
	return Spec{}, fmt.Errorf("tokens: unknown family %q (known: %s)", f, familyNames())
}

func familyNames() string {
	names := make([]string, len(Families))
	for i, f := range Families {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Models returns every known model in registry order.
func Models() []Model {
	out := make([]Model, 0, len(registry))
	for _, e := range registry {
		s, _ := e.spec()
		out = append(out, Model{Name: e.name, Source: e.source, Spec: s})
	}
	return out
}

// textOnly lists models the seeds name that take no image or video input, with
// where the seeds say so and the vision models to use instead.
var textOnly = []struct{ name, source, use string }{
	{"qwen3.7-max", "seed 003 line 572", "qwen3.7-max-2026-06-08 (its multimodal snapshot on the same line), qwen3.7-plus"},
	{"qwen3.7-max-2026-05-20", "seed 003 line 572", "qwen3.7-max-2026-06-08 (the multimodal snapshot on the same line), qwen3.7-plus"},
	{"qwen3.6-max-preview", "seed 003 line 572", "qwen3.6-plus, qwen3.6-flash"},
	{"qwen-plus", "assumed: seed 003 uses it only with the text API (line 593)", "qwen3.6-plus, qwen3-vl-plus"},
	{"qwen-flash", "assumed: dashscope-notes.md §1, a non-VL model that ignored an attached image", "qwen3.6-flash, qwen3-vl-flash"},
}

// UnknownModelError is returned for a model name the registry does not know.
// TextOnly is set, with its source, for a model known to take text only.
type UnknownModelError struct {
	Name     string
	Similar  []string // close matches, best first
	TextOnly string   // where the seeds say the model is text-only
	Use      string   // vision models to use instead of a text-only one
}

func (e *UnknownModelError) Error() string {
	if e.TextOnly != "" {
		return fmt.Sprintf("tokens: %s is a text-only model (no image or video input; %s); use a vision model such as %s (see vision models)", e.Name, e.TextOnly, e.Use)
	}
	msg := fmt.Sprintf("tokens: unknown model %q", e.Name)
	if len(e.Similar) > 0 {
		msg += "; did you mean " + strings.Join(e.Similar, ", ") + "?"
	}
	return msg + " (use --family to force a family for a new model name)"
}

// Lookup returns the named model. Names are matched case-insensitively. An
// unknown name gives an [*UnknownModelError] listing close matches.
func Lookup(name string) (Model, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, e := range registry {
		if e.name == key {
			s, err := e.spec()
			return Model{Name: e.name, Source: e.source, Spec: s}, err
		}
	}
	for _, t := range textOnly {
		if t.name == key {
			return Model{}, &UnknownModelError{Name: name, TextOnly: t.source, Use: t.use}
		}
	}
	return Model{}, &UnknownModelError{Name: name, Similar: similarNames(key, 5)}
}

// WithFamily returns a model of the given name forced into family f, for model
// names newer than the registry.
func WithFamily(name string, f Family) (Model, error) {
	s, err := FamilySpec(f, strings.Contains(name, "vl-plus"))
	if err != nil {
		return Model{}, err
	}
	return Model{Name: name, Source: "forced with --family " + string(f), Spec: s}, nil
}

// similarNames returns up to n registry names closest to key by edit
// distance, or containing it.
func similarNames(key string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, e := range registry {
		d := editDistance(key, e.name)
		if key != "" && strings.Contains(e.name, key) {
			d = min(d, 2)
		}
		if d <= max(3, len(key)/3) {
			cs = append(cs, cand{e.name, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
