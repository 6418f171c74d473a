package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/urfave/cli/v2"
)

// keyFlags say where the API key comes from: --api-key-file, --api-key, or
// DASHSCOPE_API_KEY. --api-key exists for scripts that cannot set the
// environment; a key on a command line shows up in process lists and shell
// history, so the environment or a key file is better.
func keyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-key-file", Usage: "read the API key from `FILE` (default: $DASHSCOPE_API_KEY)"},
		&cli.StringFlag{Name: "api-key", Usage: "the API `KEY` (visible in process lists: prefer $DASHSCOPE_API_KEY or --api-key-file)"},
	}
}

// dryRunKey stands in for a missing key in dry runs; it is redacted anyway.
const dryRunKey = "sk-dry-run-no-key"

// apiKey returns the key from --api-key-file, --api-key or DASHSCOPE_API_KEY.
func apiKey(c *cli.Context) (string, error) {
	if k := c.String("api-key"); k != "" {
		return strings.TrimSpace(k), nil
	}
	if path := c.String("api-key-file"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", usagef("--api-key-file: %v", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return strings.TrimSpace(os.Getenv("DASHSCOPE_API_KEY")), nil
}

// newClient builds the DashScope client from flags and the environment;
// extra options are applied last (and so win).
func newClient(c *cli.Context, dryRun bool, extra ...dashscope.Option) (*dashscope.Client, error) {
	key, err := apiKey(c)
	if err != nil {
		return nil, err
	}
	if key == "" {
		if !dryRun {
			return nil, hintError{fmt.Errorf("no API key"), "export DASHSCOPE_API_KEY=sk-… (or --api-key-file FILE); --dry-run works without one"}
		}
		key = dryRunKey
	}
	opts := []dashscope.Option{dashscope.WithUserAgent("vision/" + version)}
	if base := c.String("base-url"); base != "" {
		opts = append(opts, dashscope.WithBaseURL(base))
	} else {
		opts = append(opts, dashscope.WithRegion(c.String("region")))
	}
	if !c.Bool("quiet") {
		stderr := c.App.ErrWriter
		opts = append(opts, dashscope.WithOnRetry(func(r dashscope.RetryInfo) {
			fmt.Fprintf(stderr, "vision: retrying in %s (attempt %d): %v\n", r.Delay.Round(100_000_000), r.Attempt, r.Err)
		}))
	}
	client, err := dashscope.NewClient(key, append(opts, extra...)...)
	if err != nil {
		return nil, usageError{err}
	}
	return client, nil
}
