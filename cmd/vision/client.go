package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/urfave/cli/v2"
)

// keyFlags are the flags of the commands that send requests with a key:
// where the key comes from (--api-key-file, --api-key, or
// DASHSCOPE_API_KEY) and where the uploads bound to its account are
// remembered. --api-key exists for scripts that cannot set the environment;
// a key on a command line shows up in process lists and shell history, so
// the environment or a key file is better.
func keyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-key-file", Usage: "read the API key from `FILE` (default: $DASHSCOPE_API_KEY)"},
		&cli.StringFlag{Name: "api-key", Usage: "the API `KEY` (visible in process lists: prefer $DASHSCOPE_API_KEY or --api-key-file)"},
		&cli.StringFlag{Name: "upload-cache", Usage: "remember temporary uploads (47 h) in `FILE` (default: vision/uploads.jsonl in the user cache folder, e.g. ~/.cache)"},
		&cli.BoolFlag{Name: "no-upload-cache", Usage: "do not remember temporary uploads between runs"},
	}
}

// dryRunKey stands in for a missing key in dry runs; it is redacted anyway.
const dryRunKey = "sk-dry-run-no-key"

// apiKey returns the key from --api-key, --api-key-file or
// DASHSCOPE_API_KEY. An unreadable key file is reported without its name:
// people pass the key itself to --api-key-file by mistake.
func apiKey(c *cli.Context) (string, error) {
	if k := c.String("api-key"); k != "" {
		return strings.TrimSpace(k), nil
	}
	if path := c.String("api-key-file"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			why := "cannot read it"
			var pe *fs.PathError
			if errors.As(err, &pe) {
				why = pe.Err.Error() // the cause without the path
			}
			return "", usageError{hintError{fmt.Errorf("--api-key-file: the file cannot be read: %s", why),
				"give the path of a file that holds the key (not the key itself), or set DASHSCOPE_API_KEY"}}
		}
		return strings.TrimSpace(string(data)), nil
	}
	return strings.TrimSpace(os.Getenv("DASHSCOPE_API_KEY")), nil
}

// endpoint is where requests go and which region's prices apply.
type endpoint struct {
	baseURL string // scheme and host; "" means the region's own
	region  string // intl, us, cn or hk
}

// resolveEndpoint applies the precedence: --base-url, then an explicit
// --region, then $DASHSCOPE_BASE_URL, then the default region. Prices
// follow the resolved host when it is a known DashScope host, else the
// region flag.
func resolveEndpoint(c *cli.Context) (endpoint, error) {
	ep := endpoint{region: c.String("region")}
	if ep.region == "" {
		ep.region = dashscope.DefaultRegion
	}
	if _, err := dashscope.RegionBaseURL(ep.region); err != nil {
		return ep, usagef("--region %q: want intl, us, cn or hk", ep.region)
	}
	source := ""
	switch {
	case c.IsSet("base-url"):
		ep.baseURL, source = c.String("base-url"), "--base-url"
	case c.IsSet("region"):
		// An explicit region wins over the environment.
	case os.Getenv("DASHSCOPE_BASE_URL") != "":
		ep.baseURL, source = os.Getenv("DASHSCOPE_BASE_URL"), "DASHSCOPE_BASE_URL"
	}
	if ep.baseURL == "" {
		return ep, nil
	}
	u, err := checkBaseURL(ep.baseURL, source)
	if err != nil {
		return ep, err
	}
	if r, ok := dashscope.RegionOfHost(u.Host); ok {
		ep.region = r
	}
	return ep, nil
}

// checkBaseURL accepts a scheme and a host, nothing more (DESIGN.md: the
// tool appends /api/v1/… and /compatible-mode/v1/…).
func checkBaseURL(raw, source string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{hintError{fmt.Errorf("%s %q: want http(s)://host", source, raw),
			"for example https://dashscope-intl.aliyuncs.com, or --region intl|us|cn|hk"}}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, usageError{hintError{fmt.Errorf("%s %s: give the scheme and host only, without %q", source, u.Redacted(), u.Path),
			fmt.Sprintf("use %s://%s; vision appends /api/v1/services/… and /compatible-mode/v1/… itself", u.Scheme, u.Host)}}
	}
	return u, nil
}

// uploadCache returns the option that makes the client remember uploads
// across runs, or nil when --no-upload-cache. A cache that cannot be opened
// costs only re-uploads: it is reported and the run goes on.
func uploadCache(c *cli.Context) dashscope.Option {
	if c.Bool("no-upload-cache") {
		return nil
	}
	path := c.String("upload-cache")
	if path == "" {
		var err error
		if path, err = pipeline.DefaultUploadCachePath(); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "vision: warning: %v; uploads are not remembered between runs (--upload-cache FILE)\n", err)
			return nil
		}
	}
	uc, err := pipeline.OpenUploadCache(path)
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "vision: warning: %v; uploads are not remembered between runs\n", err)
		return nil
	}
	return dashscope.WithUploadCache(uc)
}

// newClient builds the DashScope client from flags and the environment;
// extra options are applied last (and so win).
func newClient(c *cli.Context, dryRun bool, extra ...dashscope.Option) (*dashscope.Client, error) {
	ep, err := resolveEndpoint(c)
	if err != nil {
		return nil, err
	}
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
	if ep.baseURL != "" {
		opts = append(opts, dashscope.WithBaseURL(ep.baseURL))
	} else {
		opts = append(opts, dashscope.WithRegion(ep.region))
	}
	if !dryRun {
		opts = append(opts, uploadCache(c))
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
