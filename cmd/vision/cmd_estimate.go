package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

func estimateCommand() *cli.Command {
	return &cli.Command{
		Name:      "estimate",
		Usage:     "what files will cost: size, resized size, frames, tokens and cost from headers alone",
		ArgsUsage: "PATH...",
		Description: "Walks files, folders (recursively), globs, @list.txt and - (paths on stdin). Probes each file\n" +
			"from its headers (never decoding pixels; ffprobe for videos), plans it for the model and prices it\n" +
			"as one request. Non-media files are listed as skipped with the reason. Nothing is uploaded.\n\n" +
			"   vision estimate ~/Pictures/scans --prompt 'qwenvl markdown' --output-tokens 800\n" +
			"   vision estimate --model qwen-vl-max --json clips/ | jq .cost",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "as-frames", Usage: "estimate each folder as one video given as the list of the images in it (frames extracted before)"},
		}, append(mediaFlags(), costFlags()...)...),
		Action: func(c *cli.Context) error {
			if c.Bool("as-frames") {
				return runEstimateFrames(c)
			}
			return runEstimate(c, false)
		},
	}
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "only the limit problems, with the fix for each; exit 3 if any",
		ArgsUsage: "PATH...",
		Description: "Validates every documented DashScope limit (sizes, ratios, formats, byte sizes per transport,\n" +
			"durations, frame counts) for the model, and prints each problem with its fix.\n\n" +
			"   vision check photos/ && echo all good",
		Flags:  append(mediaFlags(), costFlags()...),
		Action: func(c *cli.Context) error { return runEstimate(c, true) },
	}
}

func runEstimate(c *cli.Context, problemsOnly bool) error {
	if c.NArg() == 0 {
		return usagef("%s: give at least one file or folder", c.Command.Name)
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return flagError(err) // --min-pixels, not min_pixels
	}
	out := c.App.Writer
	jsonOut := c.Bool("json")
	var tw *tabwriter.Writer
	if !jsonOut && !problemsOnly {
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tKIND\tFORMAT\tBYTES\tSIZE\tRESIZED\tDURATION\tFPS\tFRAMES\tTOKENS\tINPUT\tCOST\tSTATUS")
	}
	var problems []media.Problem
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	sum, err := pipeline.EstimateInputsFromArgs(c.Context, cfg, c.Args().Slice(), c.App.Reader, func(e pipeline.Estimate) error {
		switch {
		case jsonOut && problemsOnly:
			for _, p := range e.Problems {
				if err := enc.Encode(p); err != nil {
					return err
				}
			}
			return nil
		case jsonOut:
			return enc.Encode(e)
		}
		problems = append(problems, e.Problems...)
		if tw != nil {
			writeEstimateRow(tw, e)
		}
		return nil
	})
	if tw != nil {
		tw.Flush()
	}
	if err != nil {
		return err
	}
	if jsonOut {
		if err := enc.Encode(map[string]any{"summary": sum}); err != nil {
			return err
		}
	} else {
		writeProblems(out, problems, cfg.Strict)
		if problemsOnly {
			writeCounts(out, sum, c.Bool("quiet"))
		} else {
			writeSummary(out, sum, c.Bool("quiet"))
		}
	}
	if sum.Failed > 0 || (problemsOnly || cfg.Strict) && sum.Problems > 0 {
		return errItemsFailed
	}
	return nil
}

func writeEstimateRow(tw io.Writer, e pipeline.Estimate) {
	frames, cost, duration, fps := "-", "-", "-", "-"
	if e.Frames > 0 {
		frames = fmt.Sprint(e.Frames)
	}
	if e.DurationS > 0 {
		duration = fmt.Sprintf("%.2fs", e.DurationS)
	}
	if e.SourceFPS > 0 {
		fps = strconv.FormatFloat(e.SourceFPS, 'f', -1, 64)
		if len(fps) > 6 {
			fps = fmt.Sprintf("%.3f", e.SourceFPS)
		}
		if e.VFR {
			fps += " vfr"
		}
	}
	if e.Cost != nil {
		cost = costText(*e.Cost, e.Currency, e.CostLower)
	} else if e.Status == pipeline.StatusOK {
		cost = "unknown"
	}
	status := e.Status
	switch {
	case e.Reason != "":
		status += ": " + e.Reason
	case e.Status == pipeline.StatusFailed:
		status += " (" + e.Stage + ")"
	case len(e.Problems) > 0:
		codes := make([]string, len(e.Problems))
		for i, p := range e.Problems {
			codes[i] = p.Code
		}
		status += " [" + strings.Join(codes, ",") + "]"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", shown(e.Path), e.Kind, orDash(e.Format), bytesText(e.Bytes),
		sizeText(e.Width, e.Height), sizeText(e.ResizedWidth, e.ResizedHeight), duration, fps, frames, e.Tokens, e.InputTokens, cost, status)
}

// bytesText renders a file size in decimal units, as the API's limits are
// written: 611 B, 7.1 kB, 2.35 MB.
func bytesText(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	}
	return fmt.Sprintf("%.2f MB", float64(n)/1e6)
}

func writeProblems(w io.Writer, ps []media.Problem, strict bool) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, p := range ps {
		fmt.Fprintf(w, "%s: %s: %s [%s]\n", shown(p.Path), p.Severity, inline(p.Message), p.Code)
		if p.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", inline(p.Fix))
		}
	}
}

// writeCounts is check's closing line: the counts of files and problems.
func writeCounts(w io.Writer, s pipeline.Summary, quiet bool) {
	if quiet {
		return
	}
	fmt.Fprintf(w, "\n%d files: %d ok, %d skipped, %d failed; %s\n", s.Files, s.OK, s.Skipped, s.Failed, problemCounts(s))
}

// problemCounts renders "problems: N, warnings: M: code ×k, …".
func problemCounts(s pipeline.Summary) string {
	parts := make([]string, 0, len(s.ProblemsByCode))
	for _, code := range s.Codes() {
		parts = append(parts, fmt.Sprintf("%s ×%d", code, s.ProblemsByCode[code]))
	}
	out := fmt.Sprintf("problems: %d, warnings: %d", s.Problems, s.Warnings)
	if len(parts) > 0 {
		out += ": " + strings.Join(parts, ", ")
	}
	return out
}

func writeSummary(w io.Writer, s pipeline.Summary, quiet bool) {
	if quiet {
		return
	}
	fmt.Fprintf(w, "\n%d files: %d ok, %d skipped, %d failed (%d images, %d videos)\n", s.Files, s.OK, s.Skipped, s.Failed, s.Images, s.Videos)
	approx := ""
	if s.PromptApprox {
		approx = " (prompt tokens approximate)"
	}
	fmt.Fprintf(w, "tokens: %d visual, %d input%s, %d output\n", s.Tokens, s.InputTokens, approx, s.OutputTokens)
	switch {
	case s.Currency == "" && s.OK > 0 && len(s.CostNotes) == 0:
		fmt.Fprintln(w, "cost: unknown (no price for this model and region; add one with --prices FILE)")
	case s.Currency == "" && s.OK > 0:
		fmt.Fprintln(w, "cost: unknown")
	case s.Currency != "" && !s.CostComplete && len(s.CostNotes) == 0:
		fmt.Fprintf(w, "cost: %s (incomplete: some files have no known price)\n", formatCost(s.Cost, s.Currency))
	case s.Currency != "":
		lower := ""
		if !s.CostComplete {
			lower = " (a lower bound)"
		}
		fmt.Fprintf(w, "cost: %s%s\n", costText(s.Cost, s.Currency, !s.CostComplete), lower)
	}
	writeCostNotes(w, s)
	if len(s.ProblemsByCode) > 0 {
		fmt.Fprintln(w, problemCounts(s))
	}
}

// costText is formatCost with a leading "≥" for a cost that is only a lower
// bound (input above the highest known tier, no output price, or totals
// missing some files); the cost notes say why.
func costText(cost float64, currency string, lower bool) string {
	if lower {
		return "≥" + formatCost(cost, currency)
	}
	return formatCost(cost, currency)
}

// writeCostNotes lists each cost note of the run once, with how many files
// it applies to, most frequent first.
func writeCostNotes(w io.Writer, s pipeline.Summary) {
	notes := make([]string, 0, len(s.CostNotes))
	for n := range s.CostNotes {
		notes = append(notes, n)
	}
	sort.Slice(notes, func(i, j int) bool {
		if a, b := s.CostNotes[notes[i]], s.CostNotes[notes[j]]; a != b {
			return a > b
		}
		return notes[i] < notes[j]
	})
	for _, n := range notes {
		files := "files"
		if s.CostNotes[n] == 1 {
			files = "file"
		}
		fmt.Fprintf(w, "  cost note (%d %s): %s\n", s.CostNotes[n], files, n)
	}
}

// frameListRow is one folder estimated as a frame list.
type frameListRow struct {
	Path          string   `json:"path"`
	Status        string   `json:"status"`
	Kind          string   `json:"kind"`
	Images        int      `json:"images"`
	Width         int      `json:"width,omitempty"`
	Height        int      `json:"height,omitempty"`
	ResizedWidth  int      `json:"resized_width,omitempty"`
	ResizedHeight int      `json:"resized_height,omitempty"`
	Frames        int      `json:"frames,omitempty"`
	Tokens        int      `json:"tokens"`
	InputTokens   int      `json:"input_tokens"`
	Cost          *float64 `json:"cost"`
	Currency      string   `json:"currency,omitempty"`
	CostLower     bool     `json:"cost_lower_bound,omitempty"`
	CostNote      string   `json:"cost_note,omitempty"`
	Error         string   `json:"error,omitempty"`
}

// runEstimateFrames prices each folder argument as one frame list.
func runEstimateFrames(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("estimate --as-frames: give at least one folder of frames")
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return flagError(err) // --min-pixels, not min_pixels
	}
	out := c.App.Writer
	enc := json.NewEncoder(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !c.Bool("json") {
		fmt.Fprintln(tw, "FOLDER\tIMAGES\tSIZE\tRESIZED\tFRAMES\tTOKENS\tINPUT\tCOST\tSTATUS")
	}
	failed := false
	prices := cfg.Prices
	if prices.Prices == nil {
		prices = tokens.DefaultPrices()
	}
	for _, dir := range c.Args().Slice() {
		row := frameListRow{Path: dir, Status: pipeline.StatusOK, Kind: "frame_list"}
		p, n, err := pipeline.PlanFrameFolder(c.Context, cfg, dir)
		row.Images = n
		if err == nil && (n < cfg.Spec.ImageListMin || cfg.Spec.ImageListMax > 0 && n > cfg.Spec.ImageListMax) {
			err = fmt.Errorf("%d images; a frame list on this model takes %d to %d", n, cfg.Spec.ImageListMin, cfg.Spec.ImageListMax)
		}
		if err != nil {
			row.Status, row.Error, failed = pipeline.StatusFailed, err.Error(), true
		} else {
			row.Width, row.Height, row.ResizedWidth, row.ResizedHeight = p.Width, p.Height, p.ResizedWidth, p.ResizedHeight
			row.Frames, row.Tokens = p.Frames, p.Tokens
			row.InputTokens = p.InputTokens + pipeline.PromptTokens(cfg.Prompt)
			cost := prices.Cost(cfg.Model, cfg.Region, row.InputTokens, cfg.OutputTokens)
			if amount, lower, ok := cost.AtLeast(); ok {
				row.Cost, row.Currency, row.CostLower = &amount, cost.Currency, lower
			}
			row.CostNote = cost.Note
		}
		if c.Bool("json") {
			if err := enc.Encode(row); err != nil {
				return err
			}
			continue
		}
		cost := "-"
		if row.Cost != nil {
			cost = costText(*row.Cost, row.Currency, row.CostLower)
		}
		status := row.Status
		if row.Error != "" {
			status += ": " + row.Error
		}
		fmt.Fprintf(tw, "%s\t%d\t%dx%d\t%dx%d\t%d\t%d\t%d\t%s\t%s\n", shown(row.Path), row.Images, row.Width, row.Height, row.ResizedWidth, row.ResizedHeight, row.Frames, row.Tokens, row.InputTokens, cost, status)
	}
	tw.Flush()
	if failed {
		return errItemsFailed
	}
	return nil
}
