package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qwen-vision/vision/tokens"
)

// Preset is a named task for `vision run --preset`: a prompt and the pixel
// and frame settings that suit it. Every field can be overridden by the
// matching flag. Zero numbers mean the model's default.
type Preset struct {
	Name        string
	Prompt      string
	MinPixels   int     // per image or PDF page, in 32-px-token terms (see ScalePixelBounds)
	MaxPixels   int     // idem
	FPS         float64 // video sampling rate
	OutputExt   string  // one output file per input with this extension ("" = journal only)
	ParseEvents bool    // parse the answer with ParseVideoEvents
	Doc         string  // one line for --help
}

// presetPatch is the pixel side of one token in the Qwen3-VL cookbook the
// OCR bounds come from.
const presetPatch = 32

// Presets are the built-in tasks, by name.
var Presets = map[string]Preset{
	// ocr parses documents into QwenVL Markdown: Markdown whose tables are
	// LaTeX preceded by their boxes and whose images become
	// <!-- Image (x1, y1, x2, y2) --> placeholders, coordinates 0–1000. Prompt
	// and pixel bounds (512 to 2048 tokens of 32×32 px per page) are those of
	// Qwen3-VL's document-parsing cookbook (reference/dashscope-notes.md §1).
	// Writes one .md per input; a PDF is rendered page by page so each page
	// lands in these bounds, one request per page, pages merged in order.
	"ocr": {
		Name:      "ocr",
		Prompt:    "qwenvl markdown",
		MinPixels: 512 * 32 * 32,  // 524,288
		MaxPixels: 2048 * 32 * 32, // 2,097,152
		OutputExt: ".md",
		Doc:       "document parsing into QwenVL Markdown (one .md per input; PDFs page by page)",
	},
	// describe is a caption and description of each image or video, with
	// the model's default pixel and frame settings.
	"describe": {
		Name: "describe",
		Prompt: "Describe this image or video in detail: the main subjects, the setting, any visible text, " +
			"and, for a video, what happens over time. Start with a one-sentence caption.",
		Doc: "a caption and description per image or video",
	},
	// video-events asks for timed events as JSON, with the prompt of the
	// example in seed 001 line 248 ("locating specific events and obtaining
	// timestamps"), whose answer is {"events": [{"start_time": "00:00:00",
	// "end_time": "00:00:05", "event": "..."}]}. The answer is parsed and
	// validated, its times mapped to source frame times, and written as .json.
	// FPS 2 is the API default (seed 001): half-second steps, finer than the
	// whole seconds of HH:mm:ss.
	"video-events": {
		Name: "video-events",
		Prompt: "Please describe the series of actions of the person in the video. Output the start time " +
			"(start_time), end time (end_time), and event (event) in JSON format. Use HH:mm:ss for the timestamp.",
		FPS:         2,
		OutputExt:   ".json",
		ParseEvents: true,
		Doc:         "timed events as JSON (start_time, end_time as HH:mm:ss, event), validated",
	},
}

// PresetNames lists the presets in sorted order.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LookupPreset returns the named preset or an error listing the known ones.
func LookupPreset(name string) (Preset, error) {
	if p, ok := Presets[strings.ToLower(strings.TrimSpace(name))]; ok {
		return p, nil
	}
	return Preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
}

// ScalePixelBounds turns a preset's pixel bounds into image options for a
// model. The bounds are written for 32-px tokens (Qwen3-VL); for a model
// with another factor f they are scaled by (f/32)² so a page gets the same
// number of tokens (512·28·28 on Qwen2.5-VL). They are then clamped into
// the range the model accepts, [ImageMinPixels, ImageMaxPixels] (no upper
// cap when ImageMaxPixels is 0), with max ≥ min. A zero bound stays zero,
// the model's default, unless that default max is below the preset's min.
// The result always passes spec.ImageBounds.
func ScalePixelBounds(spec tokens.Spec, p Preset) tokens.ImageOptions {
	scale := func(px int) int {
		if px <= 0 || spec.Factor <= 0 || spec.Factor == presetPatch {
			return max(px, 0)
		}
		return int(int64(px) * int64(spec.Factor) * int64(spec.Factor) / (presetPatch * presetPatch))
	}
	clamp := func(px, lo int) int {
		if px <= 0 {
			return 0
		}
		px = max(px, lo)
		if spec.ImageMaxPixels > 0 {
			px = min(px, spec.ImageMaxPixels)
		}
		return px
	}
	o := tokens.ImageOptions{MinPixels: clamp(scale(p.MinPixels), spec.ImageMinPixels)}
	o.MaxPixels = clamp(scale(p.MaxPixels), max(spec.ImageMinPixels, o.MinPixels))
	if o.MaxPixels == 0 && spec.ImageMaxPixelsDefault > 0 && o.MinPixels > spec.ImageMaxPixelsDefault {
		o.MaxPixels = o.MinPixels // the default max would be below the preset's min
	}
	return o
}
