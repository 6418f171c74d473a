package main

import (
	"fmt"
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
		if f <= 0 || f%2 != 0 {
			return "", tokens.Spec{}, usagef("--factor %d: must be a positive even number (28 or 32 for Qwen-VL)", f)
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
	return w, h, nil
}
