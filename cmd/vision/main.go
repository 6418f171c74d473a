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
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx (vision run then lets requests in flight
	// finish for --grace); the default handling is restored before, so a
	// second one stops the process at once.
	ctx, cancel := context.WithCancel(context.Background())
	context.AfterFunc(sig, func() { stop(); cancel() })
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	cancel()
	os.Exit(code)
}
