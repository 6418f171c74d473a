package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/dashtest"
)

// TestRunRetryWaitIsOutsideRequestTimeout: a retry waits for the run's
// limiter before its request timeout starts (dashscope.AttemptWaiter).
// Here every item's first attempt fails with 500 and the limiter spaces
// starts 0.5 s apart, so each retry waits over a second, longer than the
// 300 ms request timeout; before, that wait ran inside the attempt's timer
// and every retry ended as a "timeout" of a request never sent.
func TestRunRetryWaitIsOutsideRequestTimeout(t *testing.T) {
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault {
			if r.N <= 3 {
				return dashtest.ServerError
			}
			return dashtest.None
		}
	})
	dir := t.TempDir()
	writePNGs(t, filepath.Join(dir, "in"), 3)
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	client := testClient(t, srv.URL, dashscope.WithTimeouts(0, 300*time.Millisecond, 0))
	sum, err := Run(context.Background(), cfg, RunOptions{Journal: filepath.Join(dir, "r.jsonl"), RPM: 120, Concurrency: 3},
		client, []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if err != nil || sum.OK != 3 || sum.Failed != 0 || sum.Retries != 3 {
		t.Fatalf("%+v %v", sum, err)
	}
	if n := len(srv.Requests()); n != 6 {
		t.Errorf("%d requests, want 6", n)
	}
}
