// Command vision sends local images and videos to Alibaba Cloud's Qwen-VL
// models: it resizes them as the server will, extracts video frames, says
// what a request will cost before anything is uploaded, validates every
// documented limit, submits requests and keeps every answer.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
