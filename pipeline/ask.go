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

// Ask sends every media file in args and the prompt as one request, as
// exactly-sized images and frame lists, and returns the answer with actual
// and estimated usage. Nothing is sent when any input fails its checks.
func Ask(ctx context.Context, cfg Config, client *dashscope.Client, args []string, stdin io.Reader, o AskOptions) (AskResult, error) {
	res := AskResult{Model: cfg.Model}
	inputs, err := Expand(ctx, args, stdin)
	if err != nil {
		return res, err
	}
	bad := false
	err = forEachOrdered(ctx, len(inputs), cfg.probeWorkers(),
		func(ctx context.Context, i int) Estimate { return estimateOne(ctx, cfg, inputs[i], 0) },
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
	var images, videos int
	for _, e := range res.Items {
		switch e.Kind {
		case media.KindImage:
			images++
			res.Estimate.ImageTokens += e.Tokens
		case media.KindVideo:
			videos++
			res.Estimate.VideoTokens += e.Tokens
		}
		res.Estimate.InputTokens += e.InputTokens
	}
	res.Estimate.InputTokens += PromptTokens(cfg.Prompt)
	res.Estimate.OutputTokens = cfg.OutputTokens
	if res.Estimate.OutputTokens == 0 {
		res.Estimate.OutputTokens = o.MaxTokens
	}
	res.EstCost = cfg.prices().Cost(cfg.Model, cfg.region(), res.Estimate.InputTokens, res.Estimate.OutputTokens)
	if cfg.Spec.VideosPerRequest > 0 && videos > cfg.Spec.VideosPerRequest {
		return res, fmt.Errorf("ask: %d videos in one request; the API accepts at most %d", videos, cfg.Spec.VideosPerRequest)
	}
	if ps := media.CountProblems(images, cfg.Spec, media.TransportURL); len(ps) > 0 {
		return res, fmt.Errorf("ask: %s; fix: %s", ps[0].Message, ps[0].Fix)
	}

	var up Uploader
	if !o.DryRun {
		up = client
	}
	res.Prepared = make([]Prepared, len(res.Items))
	base64Images := 0
	err = forEachOrdered(ctx, len(res.Items), cfg.prepareWorkers(),
		func(ctx context.Context, i int) error {
			p, err := Prepare(ctx, cfg, res.Items[i], up)
			res.Prepared[i] = p
			return err
		},
		func(err error) error { return err })
	if err != nil {
		return res, err
	}
	contents := make([]dashscope.Content, 0, len(res.Prepared)+1)
	for _, p := range res.Prepared {
		if p.Content.Image != nil && p.Transport == SendBase64 {
			base64Images++
		}
		contents = append(contents, p.Content)
	}
	if base64Images > cfg.Spec.ImagesPerRequestBase64 {
		return res, fmt.Errorf("ask: %d base64 images in one request; the API accepts at most %d as base64 (split the request)", base64Images, cfg.Spec.ImagesPerRequestBase64)
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
