// Package tokens is the arithmetic of Qwen-VL visual tokens: the model
// registry, smart_resize, video frame planning, token formulas, prices and
// cost.
//
// # What a visual token is
//
// A Qwen-VL vision encoder cuts an image into patches (14 px for Qwen2.5-VL,
// 16 px for Qwen3-VL and later) and merges them 2×2, so one token covers a
// factor×factor square (28 or 32 px). [SmartResize] picks the size the model
// will really see; the token count is (h/f)·(w/f) per image and
// (n/2)·(h/f)·(w/f) for a video of n frames, because two frames share one
// temporal patch.
//
// # Where the numbers come from
//
// The algorithms mirror the open-source qwen-vl-utils package, including
// Python's round-half-to-even and its float order. The per-model numbers come
// from the DashScope API reference (seed 000) and vision guide (seed 001);
// every number in [Spec] carries its source in [Spec.Sources].
//
// # What it does not do
//
// No I/O, no context, no image decoding: callers give it sizes and counts.
package tokens
