package tokens

import (
	"math"
	"strings"
	"testing"
)

func TestCost(t *testing.T) {
	p := DefaultPrices()
	c := p.Cost("qwen3-vl-plus", "intl", 1_000_000, 100_000)
	if !c.Known || c.Currency != "USD" || math.Abs(c.Input-0.20) > 1e-12 || math.Abs(c.Output-0.16) > 1e-12 || math.Abs(c.Total-0.36) > 1e-12 {
		t.Fatalf("qwen3-vl-plus intl: %+v", c)
	}
	if c.Note == "" {
		t.Errorf("1M input tokens is above the ≤32K tier; want a lower-bound note")
	}
	// A dated snapshot falls back to its series' price.
	if c := p.Cost("qwen3-vl-plus-2025-09-23", "intl", 1000, 0); !c.Known || c.PricedAs != "qwen3-vl-plus" {
		t.Fatalf("snapshot: %+v", c)
	}
	// Tiers by input length (cn).
	for _, tc := range []struct {
		in   int
		want float64
	}{{32000, 1.0}, {32001, 1.5}, {128000, 1.5}, {200000, 3.0}} {
		c := p.Cost("qwen3-vl-plus", "cn", tc.in, 0)
		if got := c.Input / float64(tc.in) * 1e6; math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("cn %d tokens priced at %v/M, want %v", tc.in, got, tc.want)
		}
	}
	if c := p.Cost("qwen3-vl-plus", "us", 1000, 10); c.Known || !strings.Contains(c.Note, "--prices") {
		t.Fatalf("missing region: %+v", c)
	}
}

func TestParsePrices(t *testing.T) {
	tbl, err := ParsePrices([]byte(`{"prices":[{"model":"m","region":"intl","currency":"USD","input":1,"output":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.Cost("m", "intl", 500000, 500000); c.Total != 1.5 {
		t.Fatalf("total %v", c.Total)
	}
	for _, bad := range []string{`{`, `{"prices":[{"region":"intl"}]}`, `{"prices":[{"model":"m","region":"r","input":-1}]}`} {
		if _, err := ParsePrices([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
