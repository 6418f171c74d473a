package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
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
// DASHSCOPE_API_KEY, after telling the output writers about it (see
// protectKey). An unreadable key file is reported without its name: people
// pass the key itself to --api-key-file by mistake. A key that cannot be
// sent (two lines in the key file, a NUL, a line break) is refused here
// with what is wrong, never the key: exit 2 for a flag, 1 for the
// environment.
func apiKey(c *cli.Context) (string, error) {
	if k := c.String("api-key"); k != "" {
		protectKey(c, k)
		return checkedKey(k, "--api-key", true, "pass the key alone, as one word (better: $DASHSCOPE_API_KEY or --api-key-file)")
	}
	if path := c.String("api-key-file"); path != "" {
		if dashscope.LooksLikeKey(path) {
			protectKey(c, path)
		}
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
		k := string(data)
		protectKey(c, k)
		if strings.ContainsAny(strings.TrimSpace(k), "\r\n") {
			return "", usageError{hintError{errors.New("--api-key-file: the key file holds more than one line"),
				"keep only the key in the file, on one line"}}
		}
		return checkedKey(k, "--api-key-file: the key in the file", true, "keep only the key in the file: one line of letters, digits and dashes")
	}
	k := os.Getenv("DASHSCOPE_API_KEY")
	protectKey(c, k)
	if strings.TrimSpace(k) == "" {
		return "", nil
	}
	return checkedKey(k, "DASHSCOPE_API_KEY", false, "set it to the key alone, e.g. export DASHSCOPE_API_KEY=sk-…")
}

// checkedKey trims key and refuses one that cannot go in a header.
func checkedKey(key, source string, flag bool, hint string) (string, error) {
	key = strings.TrimSpace(key)
	var ke *dashscope.KeyError
	if err := dashscope.CheckKey(key); errors.As(err, &ke) {
		err := hintError{fmt.Errorf("%s holds %s: it cannot be sent as a key", source, ke.What), hint}
		if flag {
			return "", usageError{err}
		}
		return "", err
	}
	return key, nil
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
		return ep, usagef("--region %s: want intl, us, cn or hk", shownValue(ep.region))
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
// tool appends /api/v1/… and /compatible-mode/v1/…). It never echoes a
// value shaped like a key, nor user info.
func checkBaseURL(raw, source string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	example := "for example https://dashscope-intl.aliyuncs.com, or --region intl|us|cn|hk"
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		var shown string
		switch {
		case err == nil && u.Scheme != "" && u.Host != "": // a URL: its scheme and host only
			shown = " " + u.Scheme + "://" + u.Host
			if u.User != nil {
				shown = " " + u.Scheme + "://…@" + u.Host
			}
		case dashscope.LooksLikeKey(raw):
			return nil, usageError{hintError{fmt.Errorf("%s: the value looks like an API key, not a URL (not shown): want http(s)://host", source),
				"give the key in DASHSCOPE_API_KEY or --api-key-file; " + example}}
		default:
			shown = " " + strconv.Quote(raw)
		}
		return nil, usageError{hintError{fmt.Errorf("%s%s: want http(s)://host", source, shown), example}}
	}
	var extra []string
	if u.User != nil {
		extra = append(extra, "user info")
	}
	if u.Path != "" && u.Path != "/" {
		if dashscope.LooksLikeKey(u.Path) {
			extra = append(extra, "a path (not shown: it looks like an API key)")
		} else {
			extra = append(extra, "the path "+strconv.Quote(u.Path))
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		extra = append(extra, "a query")
	}
	if u.Fragment != "" {
		extra = append(extra, "a fragment")
	}
	if len(extra) > 0 {
		host := u.Scheme + "://" + u.Host
		return nil, usageError{hintError{fmt.Errorf("%s %s…: give the scheme and host only, without %s", source, host, strings.Join(extra, ", ")),
			fmt.Sprintf("use %s; vision appends /api/v1/services/… and /compatible-mode/v1/… itself", host)}}
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
