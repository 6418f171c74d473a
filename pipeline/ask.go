package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// AskOptions are the request settings of one `vision ask`.
type AskOptions struct {
	API            dashscope.API
	Thinking       *bool // enable_thinking; nil: the model's default
	ThinkingBudget int
	MaxTokens      int
	DryRun         bool                        // build and preview the request, send nothing
	OnDelta        func(dashscope.Delta) error // non-nil: stream the answer
}

// AskResult is what Ask did: the items it sent, its estimate, and the
// response (or, in a dry run, the request preview).
type AskResult struct {
	Items     []Estimate
	Prepared  []Prepared
	Estimate  Usage // estimated usage of the request
	Preview   *dashscope.RequestPreview
	Response  *dashscope.Response
	Cost      tokens.Cost // actual cost, from the response's usage
	EstCost   tokens.Cost // estimated cost
	Model     string
	Requested *dashscope.Request
}

// Usage is a token count of a request, estimated or actual.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	ImageTokens  int `json:"image_tokens,omitempty"`
	VideoTokens  int `json:"video_tokens,omitempty"`
}

// ErrItems means some inputs cannot be sent; the result's Items say why.
var ErrItems = errors.New("pipeline: some inputs cannot be sent")

// LimitError is a request that breaks one of the API's per-request limits
// even by temporary upload (too many images or videos). Problems carry the
// media codes (image.too_many, video.too_many) and their fixes.
type LimitError struct {
	Problems []media.Problem
}

func (e *LimitError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message + " [" + p.Code + "]"
	}
	return "ask: " + strings.Join(msgs, "; ")
}

// askCounts are the media of one request, for the per-request limits.
type askCounts struct {
	images, videos int
	base64Frames   int // frames of lists short enough to go as base64
}

// transport applies the per-request limits of seed 001 (lines 2245-2251,
// 2268): at most 250 images as base64 data URLs (frames of a list count),
// at most 256 by URL (2,048 for Qwen3.7), at most 64 videos. Over the
// base64 count everything is uploaded (upload true); over the others the
// request cannot be sent at all.
func (n askCounts) transport(cfg Config) (upload bool, err error) {
	var ps []media.Problem
	ps = append(ps, media.VideoCountProblems(n.videos, cfg.Spec)...)
	if len(media.CountProblems(n.images+n.base64Frames, cfg.Spec, media.TransportBase64)) > 0 {
		upload = true
		ps = append(ps, media.CountProblems(n.images, cfg.Spec, media.TransportURL)...)
	}
	if len(ps) > 0 {
		return false, &LimitError{Problems: ps}
	}
	return upload, nil
}

// Ask sends every media file in args and the prompt as one request, as
// exactly-sized images and frame lists, and returns the answer with actual
// and estimated usage. Nothing is sent when any input fails its checks, or
// when the request breaks a per-request limit (a *LimitError). Media goes
// as base64 data URLs while the request stays within the API's base64
// limits, by temporary upload otherwise (through client, which may cache
// uploads). Prepared media is kept in a temporary file, removed when Ask
// returns, so the request's memory does not grow with its media; the
// readers in the returned Requested are closed by then.
func Ask(ctx context.Context, cfg Config, client *dashscope.Client, args []string, stdin io.Reader, o AskOptions) (AskResult, error) {
	res := AskResult{Model: cfg.Model}
	inputs, err := Expand(ctx, args, stdin)
	if err != nil {
		return res, err
	}
	bad := false
	err = forEachOrdered(ctx, len(inputs), cfg.probeWorkers(),
		func(ctx context.Context, i int) Estimate {
			return PlanExact(ctx, cfg, estimateScanned(ctx, cfg, inputs[i], 0))
		},
		func(e Estimate) error {
			if e.Status != StatusOK {
				bad = true
			}
			res.Items = append(res.Items, e)
			return nil
		})
	if err != nil {
		return res, err
	}
	if bad {
		return res, ErrItems
	}
	if len(res.Items) == 0 {
		return res, fmt.Errorf("ask: no media given")
	}
	counts := askCounts{}
	for _, e := range res.Items {
		switch e.Kind {
		case media.KindImage:
			counts.images++
		case media.KindVideo:
			counts.videos++
			if e.Video != nil && e.Video.Frames <= cfg.Spec.ImagesPerRequestBase64 {
				counts.base64Frames += e.Video.Frames // longer lists are uploaded anyway
			}
		}
	}
	res.estimate(cfg, o)
	upload, err := counts.transport(cfg)
	if err != nil {
		return res, err
	}

	// Prepared media waits in a temporary file, not in memory, while the
	// body streams from it; it is gone when Ask returns.
	sp, err := newSpool()
	if err != nil {
		return res, fmt.Errorf("ask: %w", err)
	}
	defer sp.Close()
	po := prepareOptions{upload: upload, sp: sp}
	if !o.DryRun {
		po.up = client
	}
	res.Prepared = make([]Prepared, len(res.Items))
	err = forEachOrdered(ctx, len(res.Items), cfg.prepareWorkers(),
		func(ctx context.Context, i int) error {
			p, err := prepare(ctx, cfg, res.Items[i], po)
			res.Prepared[i] = p
			// An image that cannot be prepared (corrupt data behind a
			// good header) or a video that cannot be extracted (damaged)
			// is the input's failure, with its problem and fix, not the
			// request's.
			if e := res.Items[i]; err != nil && ctx.Err() == nil {
				pr, ok := imagePrepareProblem(e.Path, err)
				if e.Kind == media.KindVideo {
					pr, ok = extractProblem(e.Path, err)
				}
				if ok {
					e.clearCost()
					res.Items[i] = failedWith(e, "prepare", err, pr)
					return ErrItems
				}
			}
			return err
		},
		func(err error) error { return err })
	if err != nil {
		return res, err
	}
	for i, p := range res.Prepared {
		if p.Replanned != nil { // the frames sent were planned otherwise
			res.Items[i] = *p.Replanned
		}
	}
	res.estimate(cfg, o)
	contents := make([]dashscope.Content, 0, len(res.Prepared)+1)
	for _, p := range res.Prepared {
		contents = append(contents, p.Content)
	}
	if strings.TrimSpace(cfg.Prompt) != "" {
		contents = append(contents, dashscope.Text(cfg.Prompt))
	}
	req := &dashscope.Request{
		Model:    cfg.Model,
		Messages: []dashscope.Message{{Role: dashscope.RoleUser, Content: contents}},
		Parameters: dashscope.Parameters{
			VLHighResolutionImages: cfg.Image.HighRes,
			EnableThinking:         o.Thinking,
			ThinkingBudget:         o.ThinkingBudget,
			MaxTokens:              o.MaxTokens,
		},
	}
	res.Requested = req
	api := o.API
	if api == "" {
		api = dashscope.Native
	}
	if o.DryRun {
		res.Preview, err = client.Preview(api, req, o.OnDelta != nil)
		return res, err
	}
	res.Response, err = client.Send(ctx, api, req, o.OnDelta)
	if res.Response != nil {
		u := res.Response.Usage
		res.Cost = cfg.prices().Cost(cfg.Model, cfg.region(), u.InputTokens, u.OutputTokens)
	}
	return res, err
}

// estimate totals the request's estimated usage and cost from its items.
func (res *AskResult) estimate(cfg Config, o AskOptions) {
	u := Usage{InputTokens: PromptTokens(cfg.Prompt), OutputTokens: cfg.OutputTokens}
	if u.OutputTokens == 0 {
		u.OutputTokens = o.MaxTokens
	}
	for _, e := range res.Items {
		switch e.Kind {
		case media.KindImage:
			u.ImageTokens += e.Tokens
		case media.KindVideo:
			u.VideoTokens += e.Tokens
		}
		u.InputTokens += e.InputTokens
	}
	res.Estimate = u
	res.EstCost = cfg.prices().Cost(cfg.Model, cfg.region(), u.InputTokens, u.OutputTokens)
}
