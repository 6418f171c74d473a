package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"text/tabwriter"

	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

func tokensCommand() *cli.Command {
	return &cli.Command{
		Name:      "tokens",
		Usage:     "calculator: resized size and tokens for image or video-frame sizes, no files",
		ArgsUsage: "WIDTHxHEIGHT...",
		Description: "Resizes each size with Qwen-VL's smart_resize for the model and counts its visual tokens\n" +
			"(what the API reports as image_tokens/video_tokens) and input tokens (+2 vision markers).\n\n" +
			"   vision tokens 2048x1365 --model qwen-vl-max\n" +
			"   vision tokens --factor 28 --min-pixels 3136 --max-pixels 1003520 1024x406\n" +
			"   vision tokens --video --duration 60 --source-fps 30 --fps 2 1920x1080 --json",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "min-pixels", Usage: "min_pixels (default: the model's)"},
			&cli.IntFlag{Name: "max-pixels", Usage: "max_pixels (default: the model's)"},
			&cli.BoolFlag{Name: "high-res", Usage: "vl_high_resolution_images: fixed high-resolution cap, max_pixels ignored"},
			&cli.IntFlag{Name: "factor", Usage: "custom deployment with this resize factor (even, 2 to 1024; Qwen2.5-VL uses 28, Qwen3-VL 32): qwen-vl-utils defaults, no model caps", DefaultText: "none: the model's"},
			&cli.BoolFlag{Name: "video", Usage: "the sizes are video frames: plan frames as qwen-vl-utils samples a video"},
			&cli.IntFlag{Name: "frames", Usage: "video: total frames in the source"},
			&cli.Float64Flag{Name: "duration", Usage: "video: duration in `SECONDS` (frames = round(duration × source fps))"},
			&cli.Float64Flag{Name: "source-fps", Value: 30, Usage: "video: the source's frame rate, from 0.001 to 1000"},
			&cli.Float64Flag{Name: "fps", Usage: "video: frames sampled per second (default 2, range [0.1, 10])"},
			&cli.IntFlag{Name: "max-frames", Usage: "video: max_frames (default: the model's)"},
			&cli.IntFlag{Name: "min-frames", Usage: "video: fewest frames to sample (default 4)"},
			&cli.IntFlag{Name: "nframes", Usage: "video: sample exactly this many frames (rounded to even), instead of --fps"},
			&cli.Float64Flag{Name: "total-pixels", Usage: "video: total_pixels budget over all frames (default: the model's)"},
			&cli.Float64Flag{Name: "start", Usage: "video: video_start in seconds"},
			&cli.Float64Flag{Name: "end", Usage: "video: video_end in seconds"},
		},
		Action: runTokens,
	}
}

// tokensRow is one size's result in the CLI contract's field names.
type tokensRow struct {
	Width         int      `json:"width"`
	Height        int      `json:"height"`
	ResizedWidth  int      `json:"resized_width,omitempty"`
	ResizedHeight int      `json:"resized_height,omitempty"`
	Tokens        int      `json:"tokens,omitempty"`
	InputTokens   int      `json:"input_tokens,omitempty"`
	Frames        int      `json:"frames,omitempty"`
	SampleFPS     *float64 `json:"sample_fps,omitempty"`
	Error         string   `json:"error,omitempty"`
}

func runTokens(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("tokens: give at least one size, e.g. vision tokens 1920x1080")
	}
	_, spec, err := modelSpec(c)
	if err != nil {
		return err
	}
	type size struct{ w, h int }
	var sizes []size
	for _, a := range c.Args().Slice() {
		w, h, err := parseSize(a)
		if err != nil {
			return err
		}
		sizes = append(sizes, size{w, h})
	}
	for _, f := range []string{"min-pixels", "max-pixels"} {
		if c.IsSet(f) && c.Int(f) <= 0 {
			return usagef("--%s %d: must be positive (leave it out for the model's default)", f, c.Int(f))
		}
	}
	warnIgnoredTokenFlags(c)
	var vo tokens.VideoOptions
	var frames int
	if c.Bool("video") {
		vo, frames, err = videoOptions(c)
		if err != nil {
			return err
		}
	} else {
		for _, f := range []string{"frames", "duration", "fps", "max-frames", "min-frames", "nframes", "total-pixels", "start", "end"} {
			if c.IsSet(f) {
				return usagef("--%s needs --video", f)
			}
		}
	}
	io := tokens.ImageOptions{MinPixels: c.Int("min-pixels"), MaxPixels: c.Int("max-pixels"), HighRes: c.Bool("high-res")}
	rows := make([]tokensRow, 0, len(sizes))
	failed := false
	for _, s := range sizes {
		row := tokensRow{Width: s.w, Height: s.h}
		if c.Bool("video") {
			vo.MinPixels, vo.MaxPixels = io.MinPixels, io.MaxPixels
			p, err := tokens.PlanVideo(tokens.VideoSource{Width: s.w, Height: s.h, Frames: frames, FPS: c.Float64("source-fps")}, spec, vo)
			if err != nil {
				if isUsage(err) {
					return flagError(err)
				}
				row.Error, failed = trimPkg(err), true
			} else {
				fps := p.SampleFPS
				row.ResizedWidth, row.ResizedHeight, row.Tokens, row.InputTokens = p.ResizedWidth, p.ResizedHeight, p.Tokens, p.InputTokens
				row.Frames, row.SampleFPS = p.Frames, &fps
			}
		} else {
			p, err := tokens.PlanImage(s.w, s.h, spec, io)
			if err != nil {
				if isUsage(err) {
					return flagError(err)
				}
				row.Error, failed = trimPkg(err), true
			} else {
				row.ResizedWidth, row.ResizedHeight, row.Tokens, row.InputTokens = p.ResizedWidth, p.ResizedHeight, p.Tokens, p.InputTokens
			}
		}
		rows = append(rows, row)
	}
	if err := printTokens(c, rows); err != nil {
		return err
	}
	if failed {
		return errItemsFailed
	}
	return nil
}

// warnIgnoredTokenFlags says on stderr which given flags have no effect, so
// none is ignored silently.
func warnIgnoredTokenFlags(c *cli.Context) {
	if c.Bool("quiet") {
		return
	}
	w := c.App.ErrWriter
	if c.IsSet("factor") && c.IsSet("model") {
		fmt.Fprintf(w, "vision: warning: --factor %d describes a custom deployment: the registry defaults and caps of --model %s are off (leave out --factor to use them)\n", c.Int("factor"), c.String("model"))
	}
	switch {
	case c.Bool("high-res") && c.Bool("video"):
		// seed 000 line 1631: vl_high_resolution_images raises the pixel limit for input images.
		fmt.Fprintln(w, "vision: warning: --high-res (vl_high_resolution_images) applies to images only (seed 000 line 1631); video frames keep their min/max/total pixels")
	case c.Bool("high-res") && c.IsSet("max-pixels"):
		// seed 000 line 1633: with vl_high_resolution_images the max_pixels setting is ignored.
		fmt.Fprintln(w, "vision: warning: --max-pixels is ignored with --high-res, which uses the fixed high-resolution cap (seed 000 line 1633)")
	}
}

// videoOptions reads the video flags; it returns the source's frame count.
// Every number must be finite and in range: NaN and ±Inf parse as floats
// but would make frame counts meaningless.
func videoOptions(c *cli.Context) (tokens.VideoOptions, int, error) {
	vo := tokens.VideoOptions{
		FPS: c.Float64("fps"), NFrames: c.Int("nframes"), MinFrames: c.Int("min-frames"),
		MaxFrames: c.Int("max-frames"), TotalPixels: c.Float64("total-pixels"),
	}
	for _, f := range []string{"nframes", "min-frames", "max-frames"} {
		if c.IsSet(f) && c.Int(f) <= 0 {
			return vo, 0, usagef("--%s %d: must be a positive number of frames", f, c.Int(f))
		}
	}
	if c.IsSet("fps") && !(vo.FPS >= 0.1 && vo.FPS <= 10) { // NaN fails too
		return vo, 0, usagef("--fps %g: must be within [0.1, 10] (seed 000 line 1285)", vo.FPS)
	}
	if c.IsSet("total-pixels") && !(vo.TotalPixels > 0 && vo.TotalPixels <= tokens.MaxPixelBound) {
		return vo, 0, usagef("--total-pixels %g: must be a positive number of pixels, at most 2^53", vo.TotalPixels)
	}
	for _, f := range []string{"start", "end"} {
		if !c.IsSet(f) {
			continue
		}
		v := c.Float64(f)
		if !(v >= 0) || math.IsInf(v, 0) {
			return vo, 0, usagef("--%s %g: must be a finite number of seconds, at least 0", f, v)
		}
		if f == "start" {
			vo.Start = &v
		} else {
			vo.End = &v
		}
	}
	sf := c.Float64("source-fps")
	if !(sf >= minSourceFPS && sf <= maxSourceFPS) { // NaN fails too
		return vo, 0, usagef("--source-fps %g: must be a frame rate from %g to %d", sf, minSourceFPS, maxSourceFPS)
	}
	switch {
	case c.IsSet("frames") && c.IsSet("duration"):
		return vo, 0, usagef("give --frames or --duration, not both")
	case c.IsSet("frames"):
		if n := c.Int("frames"); n <= 0 || n > tokens.MaxSourceFrames {
			return vo, 0, usagef("--frames %d: must be between 1 and %d", n, tokens.MaxSourceFrames)
		}
		return vo, c.Int("frames"), nil
	case c.IsSet("duration"):
		d := c.Float64("duration")
		if !(d > 0) || math.IsInf(d, 0) {
			return vo, 0, usagef("--duration %g: must be a positive, finite number of seconds", d)
		}
		n := math.RoundToEven(d * sf)
		if !(n >= 1 && n <= tokens.MaxSourceFrames) {
			return vo, 0, usagef("--duration %g at --source-fps %g is %.4g frames: want 1 to %d", d, sf, n, tokens.MaxSourceFrames)
		}
		return vo, int(n), nil
	}
	return vo, 0, usagef("--video needs --frames N or --duration SECONDS")
}

// minSourceFPS and maxSourceFPS bound --source-fps: high-speed cameras
// record 1000 fps and time-lapses a frame a minute or so (0.0167 fps); 1e300
// or 1e-300 fps only makes the frame arithmetic meaningless.
const (
	minSourceFPS = 0.001
	maxSourceFPS = 1000
)

func isUsage(err error) bool {
	var oe *tokens.OptionError
	return errors.As(err, &oe) || errors.Is(err, tokens.ErrBounds)
}

func trimPkg(err error) string {
	s := err.Error()
	if len(s) > 8 && s[:8] == "tokens: " {
		return s[8:]
	}
	return s
}

func printTokens(c *cli.Context, rows []tokensRow) error {
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	video := c.Bool("video")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if video {
		fmt.Fprintln(tw, "SIZE\tRESIZED\tFRAMES\tSAMPLE FPS\tTOKENS\tINPUT TOKENS\t")
	} else {
		fmt.Fprintln(tw, "SIZE\tRESIZED\tTOKENS\tINPUT TOKENS\t")
	}
	empty := "-\t-\t-\t"
	if video {
		empty = "-\t-\t-\t-\t-\t"
	}
	for _, r := range rows {
		size := fmt.Sprintf("%dx%d", r.Width, r.Height)
		if r.Error != "" {
			// Dashes keep the columns; the error follows the last one
			// (text after the last tab is not part of any column).
			fmt.Fprintf(tw, "%s\t%s  error: %s\n", size, empty, r.Error)
			continue
		}
		resized := fmt.Sprintf("%dx%d", r.ResizedWidth, r.ResizedHeight)
		if video {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4g\t%d\t%d\t\n", size, resized, r.Frames, *r.SampleFPS, r.Tokens, r.InputTokens)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\n", size, resized, r.Tokens, r.InputTokens)
		}
	}
	return tw.Flush()
}
