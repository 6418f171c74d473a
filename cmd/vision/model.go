package main

import (
	"errors"
	"fmt"
	"github.com/qwen-vision/vision/pipeline"
	"strconv"
	"strings"

	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

// modelSpec resolves --model, --family and --factor into the numbers to use.
// --factor describes a custom deployment: qwen-vl-utils defaults, no caps.
func modelSpec(c *cli.Context) (string, tokens.Spec, error) {
	if c.IsSet("factor") {
		f := c.Int("factor")
		if f < 2 || f > tokens.MaxFactor || f%2 != 0 {
			return "", tokens.Spec{}, usagef("--factor %d: must be an even number from 2 to %d (Qwen-VL uses 28 or 32)", f, tokens.MaxFactor)
		}
		return fmt.Sprintf("custom (factor %d)", f), tokens.CustomSpec(f), nil
	}
	name := c.String("model")
	if fam := c.String("family"); fam != "" {
		m, err := tokens.WithFamily(name, tokens.Family(fam))
		if err != nil {
			return "", tokens.Spec{}, usageError{err}
		}
		return m.Name, m.Spec, nil
	}
	m, err := tokens.Lookup(name)
	if err != nil {
		return "", tokens.Spec{}, err
	}
	return m.Name, m.Spec, nil
}

// flagNames rewrites API parameter names in s as the flags that set them.
func flagNames(s string) string { return pipeline.FlagNames(s) }

// flagError turns a [*tokens.OptionError] into a usage error that names the
// flag instead of the API parameter (--min-pixels, not min_pixels), with the
// fix, where one is known, as a "vision: hint:" line in flag names too. The
// message itself keeps the parameter names: it describes the model's
// defaults and limits. Other errors are returned as they are.
func flagError(err error) error {
	var oe *tokens.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	msg := fmt.Errorf("%s: %s", flagNames(oe.Option), oe.Msg)
	if oe.Fix == "" {
		return usageError{msg}
	}
	return usageError{hintError{msg, flagNames(oe.Fix)}}
}

// parseSize reads WIDTHxHEIGHT (also W×H or WxH with a capital X).
func parseSize(s string) (w, h int, err error) {
	t := strings.NewReplacer("×", "x", "X", "x", "*", "x").Replace(strings.TrimSpace(s))
	a, b, ok := strings.Cut(t, "x")
	if ok {
		w, err = strconv.Atoi(a)
		if err == nil {
			h, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, usagef("size %q: want WIDTHxHEIGHT with positive whole numbers, e.g. 1920x1080", s)
	}
	if w > tokens.MaxSide || h > tokens.MaxSide {
		return 0, 0, usagef("size %q: sides must be at most %d px (2^31), far above any real image", s, tokens.MaxSide)
	}
	return w, h, nil
}
