package pipeline

import (
	"runtime"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// Config is everything a run needs; the zero value of each knob means its
// default. cmd/vision fills it from flags; a Go program can fill it directly.
type Config struct {
	Model string      // model name, for prices and requests
	Spec  tokens.Spec // the model's numbers (tokens.Lookup or tokens.CustomSpec)

	Image tokens.ImageOptions // per-image settings (min/max pixels, high-res)
	Video tokens.VideoOptions // per-video settings (fps, frames, pixels, range)

	Prices       tokens.PriceTable // tokens.DefaultPrices() unless --prices
	Region       string            // price and endpoint region: intl, us, cn, hk
	Prompt       string            // the text sent with each item; its tokens are estimated
	OutputTokens int               // expected answer length, for the cost

	// Transport is how media will be sent, for the size limits that apply.
	// Default: base64 data URLs, the only way to send local files over HTTP
	// without an upload.
	Transport media.Transport

	// ProbeWorkers bounds concurrent probes. Default: 2×GOMAXPROCS, since
	// image probes are I/O-bound and video probes wait on ffprobe.
	ProbeWorkers int
	// PrepareWorkers bounds concurrent decodes and resizes. Default:
	// GOMAXPROCS, one CPU-bound image per core.
	PrepareWorkers int

	// ExtractMode chooses how video frames are extracted (default auto).
	ExtractMode media.ExtractMode

	// Strict counts warnings as problems (exit 3 in check and estimate).
	Strict bool

	// Redact scrubs secrets (the API key) from every record Run writes to
	// its journals, a safety net under the client's own scrubbing. Nil:
	// the client's Redact method when it has one (*dashscope.Client does).
	Redact func(string) string

	// MaxDecodePixels is the largest coded image (width × height from its
	// header) vision decodes; larger ones are refused as possible
	// decompression bombs. 0: media.DefaultMaxPixels.
	MaxDecodePixels int
}

func (c Config) probeWorkers() int {
	if c.ProbeWorkers > 0 {
		return c.ProbeWorkers
	}
	return 2 * runtime.GOMAXPROCS(0)
}

func (c Config) prepareWorkers() int {
	if c.PrepareWorkers > 0 {
		return c.PrepareWorkers
	}
	return runtime.GOMAXPROCS(0)
}

func (c Config) transport() media.Transport {
	if c.Transport == "" {
		return media.TransportBase64
	}
	return c.Transport
}

func (c Config) prices() tokens.PriceTable {
	if c.Prices.Prices == nil {
		return tokens.DefaultPrices()
	}
	return c.Prices
}

func (c Config) region() string {
	if c.Region == "" {
		return "intl"
	}
	return c.Region
}
