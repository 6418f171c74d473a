package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

func askCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "the question `TEXT` (required)"},
		&cli.BoolFlag{Name: "stream", Usage: "stream the answer as it is written (default: when stdout is a terminal)"},
		&cli.BoolFlag{Name: "thinking", Usage: "enable_thinking: let a hybrid model think first (reasoning goes to stderr)"},
		&cli.IntFlag{Name: "thinking-budget", Usage: "thinking_budget: most tokens to think with"},
		&cli.IntFlag{Name: "max-tokens", Usage: "max_tokens: longest answer"},
		&cli.IntFlag{Name: "output-tokens", Usage: "expected answer length, for the estimate (default: --max-tokens)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the request (base64 elided, key redacted) and send nothing"},
		&cli.StringFlag{Name: "prices", Usage: "price table `FILE` instead of the built-in one"},
	}
	flags = append(flags, mediaFlags()...)
	flags = append(flags, apiFlags()...)
	flags = append(flags, keyFlags()...)
	return &cli.Command{
		Name:      "ask",
		Usage:     "one request: media and a prompt; the answer on stdout, usage on stderr",
		ArgsUsage: "MEDIA...",
		Description: "Sends the images (upright, smart-resized, as base64 data URLs, or uploaded when too large) and\n" +
			"videos (as the list of their planned frames, with the fps they really have) with the prompt.\n" +
			"Prints the answer on stdout, and on stderr the actual tokens and cost beside the estimate.\n\n" +
			"   vision ask receipt.jpg -p 'What is the total?'\n" +
			"   vision ask --model qwen3-vl-flash clip.mp4 --fps 1 -p 'Describe what happens' --stream\n" +
			"   vision ask scan.png -p 'qwenvl markdown' --dry-run",
		Flags:  flags,
		Action: runAsk,
	}
}

func runAsk(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("ask: give at least one image or video")
	}
	if c.String("prompt") == "" {
		return usagef("ask: give the question with --prompt TEXT")
	}
	api, err := dashscope.ParseAPI(c.String("api"))
	if err != nil {
		return usageError{err}
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	client, err := newClient(c, dry)
	if err != nil {
		return err
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	o := pipeline.AskOptions{API: api, ThinkingBudget: c.Int("thinking-budget"), MaxTokens: c.Int("max-tokens"), DryRun: dry}
	if c.IsSet("thinking") {
		v := c.Bool("thinking")
		o.Thinking = &v
	}
	jsonOut, quiet := c.Bool("json"), c.Bool("quiet")
	// With --json stdout carries only the JSON object: a stream, if asked
	// for, is read internally and nothing is printed until the end.
	stream := c.Bool("stream") || (!c.IsSet("stream") && isTTY(stdout) && !jsonOut)
	reasoning := &reasoningBlock{w: stderr, off: quiet || jsonOut}
	streamed := false
	if stream {
		o.OnDelta = func(d dashscope.Delta) error {
			if jsonOut {
				return nil
			}
			reasoning.write(d.Reasoning)
			if d.Text != "" {
				reasoning.end()
				streamed = true
				_, err := io.WriteString(stdout, d.Text)
				return err
			}
			return nil
		}
	}
	res, err := pipeline.Ask(c.Context, cfg, client, c.Args().Slice(), c.App.Reader, o)
	if errors.Is(err, pipeline.ErrItems) {
		for _, e := range res.Items {
			if e.Status == pipeline.StatusOK {
				continue
			}
			why := e.Error
			if why == "" {
				why = e.Reason
			}
			fmt.Fprintf(stderr, "vision: error: %s: %s %s\n", shown(e.Path), e.Status, inline(why))
			for _, p := range e.Problems {
				if p.Fix != "" {
					fmt.Fprintf(stderr, "vision: hint: %s\n", p.Fix)
				}
			}
		}
		return errItemsFailed
	}
	var le *pipeline.LimitError
	if errors.As(err, &le) {
		for _, p := range le.Problems {
			fmt.Fprintf(stderr, "vision: error: %s [%s]\n", p.Message, p.Code)
			if p.Fix != "" {
				fmt.Fprintf(stderr, "vision: hint: %s\n", p.Fix)
			}
		}
		return errItemsFailed
	}
	if err != nil {
		reasoning.end()
		if res.Response != nil { // a stream that failed after some output
			if jsonOut {
				printAnswerJSON(stdout, res, err)
			} else if streamed && !strings.HasSuffix(res.Response.Text, "\n") {
				io.WriteString(stdout, "\n")
			}
		}
		var ae *dashscope.APIError
		if errors.As(err, &ae) {
			return hintError{err, ae.Hint()}
		}
		return err
	}
	if !quiet {
		printWarnings(stderr, res.Items)
	}
	if dry {
		return printPreview(stdout, stderr, res, quiet, jsonOut)
	}
	if jsonOut {
		return printAnswerJSON(stdout, res, nil)
	}
	if !stream {
		reasoning.write(res.Response.Reasoning)
	}
	reasoning.end()
	if !streamed {
		io.WriteString(stdout, res.Response.Text)
	}
	if n := len(res.Response.Text); n > 0 && res.Response.Text[n-1] != '\n' {
		io.WriteString(stdout, "\n")
	}
	if res.Response.Partial {
		fmt.Fprintln(stderr, "vision: warning: the answer is partial: the service stopped the call at its time limit; ask again, with --stream, or for less")
	}
	if !quiet {
		printUsage(stderr, res)
	}
	return nil
}

// printWarnings writes the warnings of the items sent that vision does not
// fix itself (a fix that starts "none needed"), with their fix: e.g.
// video.sample_fps, a frame list declared at a clamped fps.
func printWarnings(w io.Writer, items []pipeline.Estimate) {
	for _, e := range items {
		for _, p := range e.Problems {
			if p.Severity != media.SeverityWarning || p.Fixable() {
				continue
			}
			fmt.Fprintf(w, "vision: warning: %s: %s [%s]\n", shown(e.Path), p.Message, p.Code)
			if p.Fix != "" {
				fmt.Fprintf(w, "vision: hint: %s\n", p.Fix)
			}
		}
	}
}

// reasoningBlock writes a thinking model's reasoning to stderr between a
// label and an end line, so it never mixes with the answer on stdout.
type reasoningBlock struct {
	w       io.Writer
	off     bool // --quiet or --json
	started bool
	ended   bool
	lastNL  bool
}

func (r *reasoningBlock) write(s string) {
	if r.off || s == "" || r.ended {
		return
	}
	if !r.started {
		r.started = true
		io.WriteString(r.w, "vision: reasoning:\n")
	}
	io.WriteString(r.w, s)
	r.lastNL = strings.HasSuffix(s, "\n")
}

// end closes the block, if one was opened.
func (r *reasoningBlock) end() {
	if !r.started || r.ended {
		return
	}
	r.ended = true
	if !r.lastNL {
		io.WriteString(r.w, "\n")
	}
	io.WriteString(r.w, "vision: end of reasoning\n")
}

// printAnswerJSON writes the response as one JSON object; after a stream
// that failed part way, with the partial answer and the error.
func printAnswerJSON(w io.Writer, res pipeline.AskResult, err error) error {
	obj := map[string]any{
		"model": res.Model, "answer": res.Response.Text, "reasoning": res.Response.Reasoning,
		"finish_reason": res.Response.FinishReason, "request_id": res.Response.RequestID,
		"partial": res.Response.Partial, "usage": res.Response.Usage, "estimate": res.Estimate,
		"cost": costOrNil(res.Cost), "estimated_cost": costOrNil(res.EstCost), "currency": res.Cost.Currency,
	}
	if err != nil {
		obj["error"] = err.Error()
	}
	return encodeJSON(w, obj)
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func costOrNil(c tokens.Cost) any {
	if !c.Known {
		return nil
	}
	return c.Total
}

// printUsage writes actual vs estimated tokens and cost.
func printUsage(w io.Writer, res pipeline.AskResult) {
	u, e := res.Response.Usage, res.Estimate
	fmt.Fprintf(w, "vision: usage: input %d tokens (estimated %d), output %d", u.InputTokens, e.InputTokens, u.OutputTokens)
	if u.ImageTokens > 0 || e.ImageTokens > 0 {
		fmt.Fprintf(w, ", image %d (estimated %d)", u.ImageTokens, e.ImageTokens)
	}
	if u.VideoTokens > 0 || e.VideoTokens > 0 {
		fmt.Fprintf(w, ", video %d (estimated %d)", u.VideoTokens, e.VideoTokens)
	}
	if res.Cost.Known {
		fmt.Fprintf(w, "; cost %s (estimated %s)", formatCost(res.Cost.Total, res.Cost.Currency), formatCost(res.EstCost.Total, res.EstCost.Currency))
	} else {
		fmt.Fprint(w, "; cost unknown (no price for this model and region)")
	}
	if res.Response.RequestID != "" {
		fmt.Fprintf(w, "; request %s", res.Response.RequestID)
	}
	fmt.Fprintln(w)
}

// printPreview writes the request a dry run would send: method, URL,
// headers (key redacted) and the JSON body with base64 elided, as text or
// (jsonOut) one JSON object with method, url, headers, body and
// content_length; what each item became goes to stderr.
func printPreview(stdout, stderr io.Writer, res pipeline.AskResult, quiet, jsonOut bool) error {
	p := res.Preview
	names := make([]string, 0, len(p.Header))
	for k := range p.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	if jsonOut {
		headers := map[string]string{}
		for _, k := range names {
			headers[k] = strings.Join(p.Header[k], ", ")
		}
		var body any = json.RawMessage(p.Body)
		if !json.Valid(p.Body) {
			body = string(p.Body)
		}
		if err := encodeJSON(stdout, map[string]any{"method": p.Method, "url": p.URL, "headers": headers,
			"body": body, "content_length": p.ContentLength}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s %s\n", p.Method, p.URL)
		for _, k := range names {
			for _, v := range p.Header[k] {
				fmt.Fprintf(stdout, "%s: %s\n", k, v)
			}
		}
		var body bytes.Buffer
		if err := json.Indent(&body, p.Body, "", "  "); err != nil {
			body.Reset()
			body.Write(p.Body)
		}
		fmt.Fprintf(stdout, "\n%s\n", body.String())
	}
	if !quiet {
		for i, e := range res.Items {
			pr := res.Prepared[i]
			fmt.Fprintf(stderr, "vision: %s: %s %dx%d → %dx%d, %d tokens, sent as %s (%d bytes)", shown(e.Path), e.Kind, e.Width, e.Height, e.ResizedWidth, e.ResizedHeight, e.Tokens, pr.Transport, pr.Bytes)
			if len(pr.Frames) > 0 {
				fmt.Fprintf(stderr, ", %d frames at %.4g fps", len(pr.Frames), e.SampleFPS)
				if e.FrameList != nil && e.FrameList.SampleFPS != e.SampleFPS {
					fmt.Fprintf(stderr, " (declared as %.4g fps)", e.FrameList.SampleFPS)
				}
			}
			fmt.Fprintln(stderr)
			for _, n := range pr.Notes {
				fmt.Fprintf(stderr, "vision:   %s\n", n)
			}
		}
		est := "unknown cost"
		if res.EstCost.Known {
			est = "estimated " + formatCost(res.EstCost.Total, res.EstCost.Currency)
		}
		fmt.Fprintf(stderr, "vision: dry run: %d bytes would be sent; %d input tokens, %s; nothing sent\n", p.ContentLength, res.Estimate.InputTokens, est)
	}
	return nil
}
