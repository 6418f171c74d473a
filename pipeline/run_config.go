package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/qwen-vision/vision/dashscope"
)

// Sender is what Run needs of the API client: send one request, upload
// media too large for a data URL, and render a request for a dry run.
// *dashscope.Client is one; tests may point one at an httptest server.
//
// For retries inside Send to be paced by the run's limiter (and a 429 to
// pause every worker), build the client with
// dashscope.WithHTTPClient(PaceAttempts(httpClient)); without it the first
// attempt of each request is still paced and a final 429 still pauses the
// run, but the client's own retries are not.
type Sender interface {
	Send(ctx context.Context, api dashscope.API, req *dashscope.Request, onDelta func(dashscope.Delta) error) (*dashscope.Response, error)
	Upload(ctx context.Context, model string, m dashscope.Media) (string, error)
	Preview(api dashscope.API, req *dashscope.Request, stream bool) (*dashscope.RequestPreview, error)
}

// Defaults of RunOptions.
const (
	// DefaultConcurrency is the number of requests in flight. Model requests
	// take seconds, so a few in flight keep a pipe full without hitting the
	// burst throttle ("Request rate increased too quickly").
	DefaultConcurrency = 4
	// DefaultRPM and DefaultTPM are the rate limits of qwen3-vl-plus,
	// qwen3-vl-flash and qwen-vl-plus (1,200 requests and 1,000,000 tokens
	// per minute, reference/dashscope-notes.md §3), the lowest common
	// numbers of the current VL models. Limits are per account, so pass
	// lower ones when other jobs share the key.
	DefaultRPM = 1200
	DefaultTPM = 1_000_000
	// DefaultGrace is how long requests in flight may finish after Ctrl-C:
	// long enough for most answers, short enough for a person waiting.
	DefaultGrace = 10 * time.Second
	// DefaultVideoWorkers bounds concurrent ffmpeg frame extractions; each
	// already uses several threads.
	DefaultVideoWorkers = 2
)

// RunOptions are the settings of `vision run` beyond Config. Zero values
// mean the defaults above.
type RunOptions struct {
	// Journal is the JSONL results file (required). It is appended to; an
	// existing non-empty journal needs Resume (it is never truncated).
	Journal string
	// OutDir receives one output per input for presets that write files
	// (.md for ocr, .json for video-events), mirroring the inputs' paths.
	// Default: the journal's path without its extension plus the preset's
	// extension ("results.jsonl" → "results.md/"), or the journal's path
	// plus ".d" when that would be the journal itself ("events.json" →
	// "events.json.d/"). It may not be the journal or inside it, and must
	// be creatable: Run checks both before sending anything.
	OutDir string
	// Preset names a built-in task (Presets). Its prompt and pixel or fps
	// settings fill what Config leaves zero, so flags override them.
	Preset string

	API            dashscope.API // default native
	MaxTokens      int           // max_tokens of each request (0: the model's)
	Thinking       *bool         // enable_thinking (nil: the model's default)
	ThinkingBudget int

	Concurrency  int // requests in flight (default DefaultConcurrency)
	VideoWorkers int // ffmpeg extractions at once (default DefaultVideoWorkers)
	RPM          int // requests per minute (0: the model's, else DefaultRPM; negative: unlimited)
	TPM          int // estimated tokens per minute (0: the model's, else DefaultTPM; negative: unlimited)

	// MaxCost refuses to start when the estimated cost of what would be
	// sent is above it (0: no cap). An unknown cost is refused too.
	MaxCost float64
	// Resume skips inputs whose latest record in the journal is ok with
	// the same content hash and settings; failed and skipped ones are tried
	// again, PDFs only for the pages the page journal does not hold, and
	// answers whose output could not be written get it from the journal.
	Resume bool
	// DryRun plans, prepares and writes each request body (base64 elided)
	// to DryRunDir instead of sending it. Nothing is sent or journaled.
	DryRun bool
	// DryRunDir defaults to the journal's path plus ".requests".
	DryRunDir string
	// Shard keeps a deterministic part of the inputs (Shard.Keep).
	Shard Shard
	// Grace is how long requests in flight may finish once ctx is canceled
	// (default DefaultGrace); then they are canceled and recorded failed.
	Grace time.Duration
}

func (o RunOptions) withDefaults(cfg Config) RunOptions {
	if o.API == "" {
		o.API = dashscope.Native
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.VideoWorkers <= 0 {
		o.VideoWorkers = DefaultVideoWorkers
	}
	if o.RPM == 0 {
		o.RPM = cfg.Spec.RPM // the model's limit (tokens.Spec), else DefaultRPM
	}
	if o.RPM == 0 {
		o.RPM = DefaultRPM
	}
	if o.TPM == 0 {
		o.TPM = cfg.Spec.TPM
	}
	if o.TPM == 0 {
		o.TPM = DefaultTPM
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.DryRunDir == "" && o.Journal != "" {
		o.DryRunDir = o.Journal + ".requests"
	}
	if o.OutDir == "" && o.Journal != "" {
		if p, ok := Presets[o.Preset]; ok && p.OutputExt != "" {
			o.OutDir = defaultOutDir(o.Journal, p.OutputExt)
		}
	}
	return o
}

// Errors Run returns before sending anything.
var (
	ErrJournalExists = errors.New("pipeline: the results file already holds records")
	ErrOverBudget    = errors.New("pipeline: estimated cost above --max-cost")
	ErrDeclined      = errors.New("pipeline: run not confirmed")
	ErrNoPrompt      = errors.New("pipeline: no prompt: give --prompt or --preset")
)

// Hooks receive a run's events; any may be nil. Run never prints: the
// caller renders these. Plan, Confirm and Done are called from one
// goroutine at a time, in order; Retry may be called concurrently.
type Hooks struct {
	// Plan is called once, after every input is probed and planned.
	Plan func(Plan)
	// Confirm is asked after Plan before anything is sent (not in a dry
	// run); false stops the run with ErrDeclined. When ctx ends while it
	// runs, Run returns at once (an error wrapping ctx's) without waiting
	// for it, so a prompt blocked on its input cannot hold up Ctrl-C.
	Confirm func(Plan) (bool, error)
	// Start is called once sending begins, after Confirm (not in a dry
	// run), e.g. to start drawing progress.
	Start func(Plan)
	// Done receives every record as it is appended to the journal.
	Done func(Record)
	// DryRun receives every request a dry run writes.
	DryRun func(DryRunRequest)
	// Retry is called when the client retries a request of the run (needs
	// PaceAttempts, see Sender).
	Retry func(RetryEvent)
}

// RetryEvent is one retry of a request.
type RetryEvent struct {
	Path    string `json:"path"`
	Page    int    `json:"page,omitempty"`
	Attempt int    `json:"attempt"` // the attempt about to start, from 2
	Cause   string `json:"cause"`   // what the previous attempt got: "429", "500", "network", "timeout"
}

// DryRunRequest is one request body a dry run wrote.
type DryRunRequest struct {
	Path          string `json:"path"`
	Page          int    `json:"page,omitempty"`
	File          string `json:"file,omitempty"` // where the body was written
	Transport     string `json:"transport,omitempty"`
	ContentLength int64  `json:"content_length"` // bytes of the real body
	Error         string `json:"error,omitempty"`
}
