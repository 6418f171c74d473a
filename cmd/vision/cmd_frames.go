package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/urfave/cli/v2"
)

func framesCommand() *cli.Command {
	return &cli.Command{
		Name:      "frames",
		Usage:     "extract the frames the model will see, at its size, with a manifest.json per video",
		ArgsUsage: "VIDEO... -o DIR",
		Description: "Plans the frames exactly as qwen-vl-utils samples them (fps, max_frames, total_pixels budget),\n" +
			"extracts them with ffmpeg scaled to the planned size in the same pass, upright, and writes\n" +
			"DIR/<video>/frame_0001.jpg… and manifest.json (source facts, the plan, sample_fps, frame size,\n" +
			"tokens, and every frame's source index and timestamp).\n\n" +
			"   vision frames clip.mp4 -o frames/ --fps 1 --contact-sheet\n" +
			"   vision frames --keyframes lecture.mkv -o frames/ --max-frames 64",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR` (required)"},
			&cli.BoolFlag{Name: "contact-sheet", Usage: "also write contact.jpg: a grid of the frames with their timestamps (contact_2.jpg… past 100 frames)"},
			&cli.StringFlag{Name: "mode", Value: "auto", Usage: "extraction: auto, pass (decode once), seek (seek per frame) or keyframes"},
			&cli.BoolFlag{Name: "keyframes", Usage: "take the keyframe nearest each planned time (fastest; true timestamps in the manifest); same as --mode keyframes"},
			&cli.IntFlag{Name: "qscale", Usage: "JPEG quality as ffmpeg's -q:v, 2 (best) to 31", DefaultText: strconv.Itoa(media.DefaultQScale)},
		}, append(mediaFlags(), costFlags()...)...),
		Action: runFrames,
	}
}

func runFrames(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("frames: give at least one video")
	}
	if c.String("output") == "" {
		return usagef("frames: give the output folder with -o DIR")
	}
	if err := outputNotInput(c.String("output"), c.Args().Slice(), "frames"); err != nil {
		return err
	}
	mode := media.ExtractMode(c.String("mode"))
	if c.Bool("keyframes") {
		mode = media.ExtractKeyframes
	}
	switch mode {
	case media.ExtractAuto, media.ExtractPass, media.ExtractSeek, media.ExtractKeyframes:
	default:
		return usagef("--mode %q: want auto, pass, seek or keyframes", mode)
	}
	if q := c.Int("qscale"); c.IsSet("qscale") && (q < 2 || q > 31) {
		return usagef("--qscale %d: want 2–31", q)
	}
	cfg, err := pipelineConfig(c)
	if err != nil {
		return err
	}
	out := c.App.Writer
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !c.Bool("json") {
		fmt.Fprintln(tw, "PATH\tFRAMES\tSIZE\tSAMPLE FPS\tTOKENS\tMODE\tMANIFEST\tSTATUS")
	}
	o := pipeline.FramesOptions{OutDir: c.String("output"), Mode: mode, ContactSheet: c.Bool("contact-sheet"), QScale: c.Int("qscale")}
	var problems []media.Problem
	sum, err := pipeline.ExtractFiles(c.Context, cfg, c.Args().Slice(), c.App.Reader, o, func(r pipeline.FramesResult) error {
		if c.Bool("json") {
			return enc.Encode(r)
		}
		problems = append(problems, r.Problems...)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.4g\t%d\t%s\t%s\t%s\n", shown(r.Path), r.Written, sizeText(r.ResizedWidth, r.ResizedHeight),
			r.SampleFPS, r.Tokens, orDash(r.Mode), orDash(shown(r.Manifest)), statusText(r.Estimate))
		return nil
	})
	tw.Flush()
	if err != nil {
		return err
	}
	if !c.Bool("json") {
		writeProblems(out, problems, cfg.Strict)
	}
	return finishFiles(c, enc, sum, "videos extracted")
}
