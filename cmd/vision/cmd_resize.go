package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/urfave/cli/v2"
)

func resizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resize",
		Usage:     "write smart-resized, EXIF-upright images",
		ArgsUsage: "PATH... -o DIR",
		Description: "Writes each image upright and at exactly the size the model will see it, below DIR,\n" +
			"mirroring the folders it came from (several folder arguments: each below its own name). Files already\n" +
			"at their size in an accepted format are copied byte for byte. Writes are atomic; inputs are never\n" +
			"overwritten, and existing files only with --overwrite (else they are skipped).\n\n" +
			"   vision resize photos/ -o resized/\n" +
			"   vision resize --model qwen-vl-max --format png scan.tiff -o out/",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (required)"},
			&cli.StringFlag{Name: "format", Usage: "output format: jpeg or png (default: keep files already at their size in an accepted format, else jpeg)"},
			&cli.IntFlag{Name: "quality", Usage: "JPEG quality 1–100 (default 90)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace output files that already exist (never an input); without it they are skipped"},
		}, append(mediaFlags(), costFlags()...)...),
		Action: runResize,
	}
}

func runResize(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("resize: give at least one image or folder")
	}
	if c.String("output") == "" {
		return usagef("resize: give the output folder with -o DIR")
	}
	if err := outputNotInput(c.String("output"), c.Args().Slice(), "resized"); err != nil {
		return err
	}
	switch c.String("format") {
	case "", "jpeg", "jpg", "png":
	default:
		return usagef("--format %q: want jpeg or png", c.String("format"))
	}
	if q := c.Int("quality"); c.IsSet("quality") && (q < 1 || q > 100) {
		return usagef("--quality %d: want 1–100", q)
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return err
	}
	format := c.String("format")
	if format == "jpg" {
		format = "jpeg"
	}
	out := c.App.Writer
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !c.Bool("json") {
		fmt.Fprintln(tw, "PATH\tSIZE\tRESIZED\tOUTPUT\tBYTES\tSTATUS")
	}
	var notes []string
	var problems []media.Problem
	opts := pipeline.ResizeOptions{OutDir: c.String("output"), Format: format, Quality: c.Int("quality"), Overwrite: c.Bool("overwrite")}
	sum, err := pipeline.ResizeFiles(c.Context, cfg, c.Args().Slice(), c.App.Reader, opts, func(r pipeline.Resized) error {
		if c.Bool("json") {
			return enc.Encode(r)
		}
		if r.Status == pipeline.StatusFailed {
			problems = append(problems, r.Problems...)
		}
		status := statusText(r.Estimate)
		if r.Status == pipeline.StatusOK && !r.Reencoded {
			status += " (original bytes kept)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", shown(r.Path), sizeText(r.Width, r.Height), sizeText(r.ResizedWidth, r.ResizedHeight),
			orDash(shown(r.Output)), r.OutBytes, status)
		for _, n := range r.Notes {
			if !strings.HasPrefix(n, "original bytes sent") { // the status says so
				notes = append(notes, r.Path+": note: "+n)
			}
		}
		return nil
	})
	tw.Flush()
	writeNotes(out, notes)
	if !c.Bool("json") {
		writeProblems(out, problems, cfg.Strict)
	}
	if err != nil {
		return err
	}
	return finishFiles(c, enc, sum, "written")
}
