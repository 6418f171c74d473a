package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/urfave/cli/v2"
)

func runCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "results `FILE` (JSON Lines, appended; required)"},
		&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt `TEXT` sent with each item (overrides the preset's)"},
		&cli.StringFlag{Name: "preset", Usage: "built-in task: " + presetHelp()},
		&cli.StringFlag{Name: "out-dir", Usage: "folder for the preset's output files (default: -o without its extension + .md or .json)"},
		&cli.IntFlag{Name: "concurrency", Usage: "requests in flight (default 4)"},
		&cli.IntFlag{Name: "rpm", Usage: "requests per minute (default: the model's, see vision models --json; -1: no limit)"},
		&cli.IntFlag{Name: "tpm", Usage: "estimated input tokens per minute (default: the model's; -1: no limit)"},
		&cli.Float64Flag{Name: "max-cost", Usage: "refuse to start when the estimated cost is above `X` (in the price table's currency)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue -o: skip items already ok with the same content and settings, retry the rest"},
		&cli.BoolFlag{Name: "dry-run", Usage: "plan and write each request body (base64 elided) to --dry-run-dir; send nothing"},
		&cli.StringFlag{Name: "dry-run-dir", Usage: "folder for dry-run request bodies (default: -o + .requests)"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation on a terminal"},
		&cli.StringFlag{Name: "shard", Usage: "keep only part `i/n` of the inputs (e.g. 2/3); the n journals concatenate into one run"},
		&cli.IntFlag{Name: "max-tokens", Usage: "max_tokens: longest answer per request"},
		&cli.IntFlag{Name: "output-tokens", Usage: "expected answer length per request, for the estimate (default: --max-tokens, else the preset's typical length)"},
		&cli.BoolFlag{Name: "thinking", Usage: "enable_thinking: let a hybrid model think first"},
		&cli.IntFlag{Name: "thinking-budget", Usage: "thinking_budget: most tokens to think with"},
		&cli.DurationFlag{Name: "grace", Value: pipeline.DefaultGrace, Usage: "after Ctrl-C, how long requests in flight may finish (a second Ctrl-C stops at once)"},
		&cli.DurationFlag{Name: "request-timeout", Usage: "per-attempt request timeout", DefaultText: "330s"},
		&cli.IntFlag{Name: "max-retries", Value: dashscope.DefaultMaxRetries, Usage: "retries per request on 5xx and connection errors; a 429 gets at least 5 (backing off up to a minute); 0 turns every retry off"},
		&cli.StringFlag{Name: "prices", Usage: "price table `FILE` instead of the built-in one"},
		&cli.StringFlag{Name: "transport", Value: "base64", Hidden: true},
	}
	flags = append(flags, mediaFlags()...)
	flags = append(flags, apiFlags()...)
	flags = append(flags, keyFlags()...)
	return &cli.Command{
		Name:      "run",
		Usage:     "the batch pipeline: every file through the model, planned, priced, resumable",
		ArgsUsage: "PATH... -o results.jsonl",
		Description: "Walks files, folders, globs, @list.txt and - (paths on stdin); probes and plans everything first and\n" +
			"prints the plan (items, skipped ones with reasons, estimated tokens and cost); refuses a plan above\n" +
			"--max-cost; asks for confirmation on a terminal unless --yes. Then prepares and sends every item with\n" +
			"--concurrency requests in flight, paced by --rpm and --tpm, one shared pause on 429, and appends one\n" +
			"record per input (ok, failed or skipped) to -o as it completes. Ctrl-C stops launching, lets requests in\n" +
			"flight finish for --grace, and records the rest (a second Ctrl-C stops at once); --resume continues where\n" +
			"it stopped.\n\n" +
			"Presets: ocr writes one QwenVL Markdown .md per input (PDFs page by page with pdftoppm);\n" +
			"describe captions each image or video; video-events writes validated timed events as .json per video.\n\n" +
			"   vision run scans/ --preset ocr -o scans.jsonl --max-cost 2\n" +
			"   vision run clips/ --preset video-events -o events.jsonl --concurrency 2\n" +
			"   vision run photos/ -p 'List the objects' -o objects.jsonl --shard 1/3\n" +
			"   vision run testdata/ --preset describe -o /tmp/r.jsonl --dry-run",
		Flags:  flags,
		Action: runRun,
	}
}

func presetHelp() string {
	var parts []string
	for _, n := range pipeline.PresetNames() {
		parts = append(parts, n)
	}
	return strings.Join(parts, ", ")
}

// runOptions turns run's flags into pipeline.RunOptions and nothing more.
func runOptions(c *cli.Context) (pipeline.RunOptions, error) {
	ro := pipeline.RunOptions{
		Journal: c.String("output"), OutDir: c.String("out-dir"), Preset: c.String("preset"),
		MaxTokens: c.Int("max-tokens"), ThinkingBudget: c.Int("thinking-budget"),
		Concurrency: c.Int("concurrency"), RPM: c.Int("rpm"), TPM: c.Int("tpm"), MaxCost: c.Float64("max-cost"),
		Resume: c.Bool("resume"), DryRun: c.Bool("dry-run"), DryRunDir: c.String("dry-run-dir"), Grace: c.Duration("grace"),
	}
	if ro.Journal == "" {
		return ro, usagef("run: give the results file with -o results.jsonl")
	}
	if ro.Preset != "" {
		p, err := pipeline.LookupPreset(ro.Preset)
		if err != nil {
			return ro, usageError{err}
		}
		ro.Preset = p.Name
	}
	api, err := dashscope.ParseAPI(c.String("api"))
	if err != nil {
		return ro, usageError{err}
	}
	ro.API = api
	if c.IsSet("thinking") {
		v := c.Bool("thinking")
		ro.Thinking = &v
	}
	if s := c.String("shard"); s != "" {
		if ro.Shard, err = pipeline.ParseShard(s); err != nil {
			return ro, usageError{err}
		}
	}
	switch {
	case ro.Concurrency < 0:
		return ro, usagef("--concurrency %d: must be positive", ro.Concurrency)
	case ro.MaxCost < 0:
		return ro, usagef("--max-cost %g: must not be negative", ro.MaxCost)
	case c.Int("max-retries") < 0:
		return ro, usagef("--max-retries %d: must not be negative", c.Int("max-retries"))
	}
	return ro, nil
}

func runRun(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("run: give at least one file or folder")
	}
	if c.String("prompt") == "" && c.String("preset") == "" {
		return usagef("run: give --prompt TEXT or --preset %s", strings.Join(pipeline.PresetNames(), "|"))
	}
	ro, err := runOptions(c)
	if err != nil {
		return err
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return err
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	quiet, jsonOut := c.Bool("quiet"), c.Bool("json")
	var prog *progress
	if !quiet && !jsonOut && !ro.DryRun && isTTY(stderr) {
		prog = newProgress(stderr)
	}
	opts := []dashscope.Option{dashscope.WithHTTPClient(pipeline.PaceAttempts(httpClient(ro.Concurrency))),
		dashscope.WithMaxRetries(c.Int("max-retries"))}
	if d := c.Duration("request-timeout"); d > 0 {
		opts = append(opts, dashscope.WithTimeouts(0, d, 0))
	}
	if prog != nil {
		opts = append(opts, dashscope.WithOnRetry(nil)) // counted on the progress line instead
	}
	client, err := newClient(c, ro.DryRun, opts...)
	if err != nil {
		return err
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	unnote := func() bool { return false }
	hooks := pipeline.Hooks{
		Plan: func(p pipeline.Plan) {
			if jsonOut {
				enc.Encode(map[string]any{"plan": p})
			} else if !quiet {
				printPlan(stderr, p, cfg.Model)
			}
		},
		Start: func(p pipeline.Plan) {
			if prog != nil {
				prog.start(p) // not before: its ticker would draw over the prompt
			}
			if !quiet && p.Requests > 0 {
				unnote = context.AfterFunc(c.Context, func() {
					note(stderr, prog, fmt.Sprintf("vision: interrupted: requests in flight have %s to finish; "+
						"Ctrl-C again stops at once (they are lost, --resume sends them again)", ro.Grace))
				})
			}
		},
		Done: func(r pipeline.Record) {
			if jsonOut {
				enc.Encode(r)
			}
			if prog != nil {
				prog.record(r)
			} else if r.Status == pipeline.StatusFailed && !jsonOut && r.Estimate != nil {
				fmt.Fprintf(stderr, "vision: failed: %s: %s\n", shown(r.Path), inline(r.Error))
			}
		},
		DryRun: func(d pipeline.DryRunRequest) {
			switch {
			case jsonOut:
				enc.Encode(map[string]any{"request": d})
			case d.Error != "":
				fmt.Fprintf(stderr, "vision: error: %s: %s\n", shown(pagePath(d.Path, d.Page)), inline(d.Error))
			case !quiet:
				fmt.Fprintf(stderr, "vision: %s: %s, %d bytes → %s\n", shown(pagePath(d.Path, d.Page)), d.Transport, d.ContentLength, d.File)
			}
		},
	}
	if prog != nil {
		hooks.Retry = func(pipeline.RetryEvent) { prog.retry() }
	}
	// On a terminal, ask (on stderr, so also with --json) unless --yes.
	var asking atomic.Bool
	if !ro.DryRun && !c.Bool("yes") && isTTY(c.App.Reader) && isTTY(stderr) {
		hooks.Confirm = func(p pipeline.Plan) (bool, error) {
			asking.Store(true)
			defer asking.Store(false)
			return confirm(c.App.Reader, stderr, p)
		}
	}
	sum, err := pipeline.Run(c.Context, cfg, ro, client, c.Args().Slice(), c.App.Reader, hooks)
	unnote()
	if prog != nil {
		prog.finish()
	}
	if asking.Load() { // Ctrl-C at the prompt: end its line
		fmt.Fprintln(stderr)
		return err
	}
	switch {
	case errors.Is(err, pipeline.ErrJournalExists):
		return hintError{err, "pass --resume to continue it (finished items are not sent again), or -o a new file"}
	case errors.Is(err, pipeline.ErrOverBudget):
		return hintError{err, "raise --max-cost, or send fewer items (--shard, smaller --max-pixels, fewer --fps)"}
	case errors.Is(err, pipeline.ErrDeclined):
		return errors.New("nothing sent")
	case errors.Is(err, pipeline.ErrNoPrompt):
		return usageError{err}
	case err != nil && c.Context.Err() == nil:
		return err
	}
	// Completed or interrupted: the summary says what happened.
	if jsonOut {
		enc.Encode(map[string]any{"summary": sum})
	} else {
		printRunSummary(stdout, sum)
	}
	if err != nil {
		return err // interrupted: exit 130
	}
	if sum.Failed > 0 {
		return errItemsFailed
	}
	return nil
}

// httpClient is the transport dashscope would build itself (connect and
// TLS timeouts, short-lived idle connections), for PaceAttempts to wrap.
// It keeps an idle connection per request in flight (the default keeps 2
// per host, so with --concurrency 4 half the requests would connect and
// shake hands with TLS again).
func httpClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: dashscope.DefaultConnectTimeout, KeepAlive: 30 * time.Second}
	tr.DialContext = d.DialContext
	tr.TLSHandshakeTimeout = dashscope.DefaultConnectTimeout
	tr.IdleConnTimeout = 30 * time.Second
	tr.MaxIdleConnsPerHost = max(concurrency, pipeline.DefaultConcurrency)
	return &http.Client{Transport: tr}
}

func pagePath(path string, page int) string {
	if page > 0 {
		return fmt.Sprintf("%s page %d", path, page)
	}
	return path
}

// maxListed bounds the items of each kind the plan lists by name.
const maxListed = 20

func printPlan(w io.Writer, p pipeline.Plan, model string) {
	fmt.Fprintf(w, "vision: plan: %d inputs: %d to send (%d requests), %d skipped, %d failed, %d already done",
		p.Inputs, p.Send, p.Requests, p.Skipped, p.Failed, p.Resumed)
	if p.Rebuild > 0 {
		fmt.Fprintf(w, ", %d outputs written from stored answers", p.Rebuild)
	}
	fmt.Fprintln(w)
	cost := "cost unknown (no price for this model and region)"
	if p.CostKnown {
		cost = "about " + formatCost(p.Cost, p.Currency)
	}
	if p.Requests == 0 {
		cost = "nothing to pay"
	}
	fmt.Fprintf(w, "vision: plan: %s: %d input + %d output tokens estimated, %s\n", model, p.InputTokens, p.OutputTokens, cost)
	if len(p.Transports) > 0 {
		var ts []string
		for t, n := range p.Transports {
			ts = append(ts, fmt.Sprintf("%s %d", t, n))
		}
		sort.Strings(ts)
		fmt.Fprintf(w, "vision: plan: sent as %s\n", strings.Join(ts, ", "))
	}
	more := "(--json lists them all)"
	if !p.DryRun {
		more = "(each gets a record in " + p.Journal + ")"
	}
	listPlanItems(w, p, more, func(it pipeline.PlanItem) string {
		switch it.Action {
		case pipeline.ActionSend:
			line := fmt.Sprintf("send %s: %s", shown(it.Path), it.Transport)
			if it.Requests > 1 {
				line += fmt.Sprintf(", %d requests", it.Requests)
			}
			if it.Reason != "" { // e.g. PDF pages kept from an earlier attempt
				line += " (" + it.Reason + ")"
			}
			return line
		case pipeline.ActionRebuild:
			return fmt.Sprintf("rebuild %s: %s", shown(it.Path), inline(it.Reason))
		}
		return ""
	}, "to send")
	listPlanItems(w, p, more, func(it pipeline.PlanItem) string {
		switch it.Action {
		case pipeline.ActionSkip:
			return fmt.Sprintf("skip %s: %s", shown(it.Path), inline(it.Reason))
		case pipeline.ActionFail:
			line := fmt.Sprintf("fail %s: %s", shown(it.Path), inline(it.Reason))
			if it.Fix != "" { // below it, as vision check shows a problem's fix
				line += "\n    fix: " + inline(it.Fix)
			}
			return line
		}
		return ""
	}, "skipped or failed")
}

// listPlanItems prints the first maxListed lines that line gives for the
// plan's items ("" leaves an item out; an item may take several lines,
// each printed with the prefix), then how many more there are.
func listPlanItems(w io.Writer, p pipeline.Plan, more string, line func(pipeline.PlanItem) string, what string) {
	n := 0
	for _, it := range p.Items {
		s := line(it)
		if s == "" {
			continue
		}
		if n++; n <= maxListed {
			for _, l := range strings.Split(s, "\n") {
				fmt.Fprintf(w, "vision: plan: %s\n", l)
			}
		}
	}
	if n > maxListed {
		fmt.Fprintf(w, "vision: plan: … and %d more %s %s\n", n-maxListed, what, more)
	}
}

func confirm(r io.Reader, w io.Writer, p pipeline.Plan) (bool, error) {
	if p.Requests == 0 {
		return true, nil
	}
	cost := "unknown cost"
	if p.CostKnown {
		cost = "about " + formatCost(p.Cost, p.Currency)
	}
	fmt.Fprintf(w, "vision: send %d requests for %d items, %s? [y/N] ", p.Requests, p.Send, cost)
	// One line of at most maxAnswer bytes: an endless input (a terminal
	// fed from /dev/zero, a paste) is cut there and declines.
	line, err := bufio.NewReader(io.LimitReader(r, maxAnswer)).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	if !strings.HasSuffix(line, "\n") && len(line) >= maxAnswer {
		fmt.Fprintf(w, "\nvision: answer longer than %d bytes: taken as no\n", maxAnswer)
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// maxAnswer bounds the confirmation answer read from the terminal.
const maxAnswer = 4 << 10

func printRunSummary(w io.Writer, s pipeline.RunSummary) {
	if s.DryRun {
		fmt.Fprintf(w, "dry run: %d request bodies written to %s; %d skipped, %d failed; nothing sent\n", s.Requests, s.DryRunDir, s.Skipped, s.Failed)
		fmt.Fprintf(w, "estimated: %d input + %d output tokens, %s\n", s.EstimatedInputTokens, s.EstimatedOutputTokens, formatCost(s.EstimatedCost, s.Currency))
		return
	}
	fmt.Fprintf(w, "items: %d: ok %d, failed %d, skipped %d, already done %d", s.Items, s.OK, s.Failed, s.Skipped, s.Resumed)
	if s.Interrupted > 0 {
		fmt.Fprintf(w, " (interrupted %d)", s.Interrupted)
	}
	fmt.Fprintf(w, "\nrequests: %d, retries %d, %.1fs\n", s.Requests, s.Retries, s.ElapsedS)
	fmt.Fprintf(w, "tokens: input %d (estimated %d), output %d (estimated %d)\n", s.Usage.InputTokens, s.EstimatedInputTokens, s.Usage.OutputTokens, s.EstimatedOutputTokens)
	if s.CostKnown && (s.Requests > 0 || s.EstimatedCost > 0) { // nothing sent: no currency to print
		fmt.Fprintf(w, "cost: %s (estimated %s)\n", formatCost(s.Cost, s.Currency), formatCost(s.EstimatedCost, s.Currency))
	}
	if len(s.FailuresByClass) > 0 {
		var cs []string
		for c, n := range s.FailuresByClass {
			cs = append(cs, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(cs)
		fmt.Fprintf(w, "failures: %s\n", strings.Join(cs, ", "))
	}
	fmt.Fprintf(w, "results: %s\n", s.Journal)
	if s.OutDir != "" && s.OK > 0 {
		fmt.Fprintf(w, "outputs: %s\n", s.OutDir)
	}
}
