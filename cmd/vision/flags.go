package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

// mediaFlags shape how images and videos are planned; shared by estimate,
// check, resize, frames, ask and run.
func mediaFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "min-pixels", Usage: "min_pixels per image or frame (default: the model's)"},
		&cli.IntFlag{Name: "max-pixels", Usage: "max_pixels per image or frame (default: the model's)"},
		&cli.BoolFlag{Name: "high-res", Usage: "vl_high_resolution_images: fixed high-resolution image cap"},
		&cli.Float64Flag{Name: "fps", Usage: "video: frames sampled per second (default 2, range [0.1, 10])"},
		&cli.IntFlag{Name: "max-frames", Usage: "video: max_frames (default: the model's)"},
		&cli.IntFlag{Name: "nframes", Usage: "video: sample exactly this many frames instead of --fps"},
		&cli.Float64Flag{Name: "total-pixels", Usage: "video: total_pixels budget (default: the model's)"},
		&cli.Float64Flag{Name: "start", Usage: "video: start of the range to sample, in seconds"},
		&cli.Float64Flag{Name: "end", Usage: "video: end of the range to sample, in seconds"},
		&cli.IntFlag{Name: "max-decode-pixels", Usage: fmt.Sprintf("largest image (width × height from its header) decoded; larger ones are refused as possible decompression bombs (default %d, ~716 MB of memory)", media.DefaultMaxPixels)},
	}
}

// costFlags shape the cost estimate.
func costFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "prompt", Usage: "prompt `TEXT` sent with each item (its tokens are approximated)"},
		&cli.IntFlag{Name: "output-tokens", Usage: "expected answer length in tokens, for the cost"},
		&cli.StringFlag{Name: "prices", Usage: "price table `FILE` (JSON, as tokens/prices.json) instead of the built-in one"},
		&cli.StringFlag{Name: "region", Value: "intl", Usage: "region for prices: intl, us, cn or hk"},
		&cli.StringFlag{Name: "transport", Value: "base64", Usage: "how media will be sent, for size limits: base64, path or url"},
		&cli.BoolFlag{Name: "strict", Usage: "count warnings as problems (exit 3)"},
	}
}

// pipelineConfig turns flags into a pipeline.Config and does nothing more.
func pipelineConfig(c *cli.Context) (pipeline.Config, error) {
	name, spec, err := modelSpec(c)
	if err != nil {
		return pipeline.Config{}, err
	}
	cfg := pipeline.Config{
		Model: name,
		Spec:  spec,
		Image: tokens.ImageOptions{MinPixels: c.Int("min-pixels"), MaxPixels: c.Int("max-pixels"), HighRes: c.Bool("high-res")},
		Video: tokens.VideoOptions{
			FPS: c.Float64("fps"), NFrames: c.Int("nframes"), MaxFrames: c.Int("max-frames"),
			MinPixels: c.Int("min-pixels"), MaxPixels: c.Int("max-pixels"), TotalPixels: c.Float64("total-pixels"),
		},
		Prompt:       c.String("prompt"),
		OutputTokens: c.Int("output-tokens"),
		Region:       c.String("region"),
		Transport:    media.Transport(c.String("transport")),
		Strict:       c.Bool("strict"),

		MaxDecodePixels: c.Int("max-decode-pixels"),
	}
	if n := cfg.MaxDecodePixels; c.IsSet("max-decode-pixels") && n <= 0 {
		return cfg, usagef("--max-decode-pixels %d: must be positive", n)
	}
	if c.IsSet("start") {
		v := c.Float64("start")
		cfg.Video.Start = &v
	}
	if c.IsSet("end") {
		v := c.Float64("end")
		cfg.Video.End = &v
	}
	switch cfg.Region {
	case "":
		cfg.Region = "intl"
	case "intl", "us", "cn", "hk":
	default:
		return cfg, usagef("--region %s: want intl, us, cn or hk", shownValue(cfg.Region))
	}
	if definesFlag(c, "base-url") { // ask, run: prices follow the endpoint
		ep, err := resolveEndpoint(c)
		if err != nil {
			return cfg, err
		}
		cfg.Region = ep.region
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = media.TransportBase64
	case media.TransportBase64, media.TransportPath, media.TransportURL:
	default:
		return cfg, usagef("--transport %q: want base64, path or url", cfg.Transport)
	}
	if cfg.OutputTokens < 0 {
		return cfg, usagef("--output-tokens %d: must not be negative", cfg.OutputTokens)
	}
	if f := c.Float64("fps"); c.IsSet("fps") && (f < 0.1 || f > 10) {
		return cfg, usagef("--fps %g: must be within [0.1, 10] (seed 000 line 1285)", f)
	}
	// Settings the model refuses are usage errors, reported before any file.
	if _, _, err := spec.ImageBounds(cfg.Image); err != nil {
		return cfg, usageError{err}
	}
	if path := c.String("prices"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, usagef("--prices: %v", err)
		}
		t, err := tokens.ParsePrices(data)
		if err != nil {
			return cfg, usagef("--prices %s: %s", path, strings.TrimPrefix(err.Error(), "tokens: "))
		}
		cfg.Prices = t
	}
	return cfg, nil
}

// definesFlag reports whether the running command has the flag.
func definesFlag(c *cli.Context, name string) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func formatCost(cost float64, currency string) string {
	if currency == "" { // nothing was priced
		if cost == 0 {
			return "0"
		}
		return fmt.Sprintf("%.4f (currency unknown)", cost)
	}
	sym := currency + " "
	switch currency {
	case "USD":
		sym = "$"
	case "CNY":
		sym = "¥"
	}
	switch {
	case cost == 0:
		return sym + "0"
	case cost < 0.01:
		return fmt.Sprintf("%s%.6f", sym, cost)
	}
	return fmt.Sprintf("%s%.4f", sym, cost)
}
