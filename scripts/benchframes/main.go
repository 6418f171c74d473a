// Command benchframes times media.ExtractFrames on one video, for
// scripts/bench-video.sh.
//
//	go run ./scripts/benchframes -mode auto -fps 2 VIDEO
//	go run ./scripts/benchframes -mode seek -nframes 64 VIDEO
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

func main() {
	mode := flag.String("mode", "auto", "auto, pass, seek or keyframes")
	fps := flag.Float64("fps", 0, "sampling fps (0: the model's default)")
	nframes := flag.Int("nframes", 0, "explicit frame count")
	model := flag.String("model", "qwen3-vl-plus", "model whose limits plan the frames")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchframes [-mode M] [-fps F | -nframes N] VIDEO")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), media.ExtractMode(*mode), *fps, *nframes, *model); err != nil {
		fmt.Fprintln(os.Stderr, "benchframes:", err)
		os.Exit(1)
	}
}

func run(path string, mode media.ExtractMode, fps float64, nframes int, model string) error {
	ctx := context.Background()
	m, err := tokens.Lookup(model)
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := media.Probe(ctx, path)
	if err != nil {
		return err
	}
	plan, err := tokens.PlanVideo(tokens.VideoSource{Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS},
		m.Spec, tokens.VideoOptions{FPS: fps, NFrames: nframes})
	if err != nil {
		return err
	}
	var bytes int
	frames, err := media.ExtractFrames(ctx, path, info, plan, media.ExtractOptions{Mode: mode,
		OnFrame: func(f media.Frame) error { bytes += len(f.Data); return nil }})
	if err != nil {
		return err
	}
	fmt.Printf("mode=%s frames=%d size=%dx%d bytes=%d seconds=%.2f\n", mode, len(frames), plan.ResizedWidth, plan.ResizedHeight, bytes, time.Since(start).Seconds())
	return nil
}
