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
