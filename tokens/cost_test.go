package tokens

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestCost(t *testing.T) {
	p := DefaultPrices()
	c := p.Cost("qwen3-vl-plus", "intl", 1_000_000, 100_000)
	if !c.Known || c.Currency != "USD" || math.Abs(c.Input-0.60) > 1e-12 || math.Abs(c.Output-0.48) > 1e-12 || math.Abs(c.Total-1.08) > 1e-12 {
		t.Fatalf("qwen3-vl-plus intl: %+v", c)
	}
	if !c.LowerBound || !strings.Contains(c.Note, "above 256000 tokens") || !strings.Contains(c.Note, "lower bound") {
		t.Errorf("1M input tokens is above the highest (≤256K) tier; want a lower bound with a note: %+v", c)
	}
	if amount, lower, ok := c.AtLeast(); !ok || !lower || amount != c.Total {
		t.Errorf("AtLeast = %v, %v, %v", amount, lower, ok)
	}
	// Tiers by input length (intl, models.dev): 59,402 tokens (a 20 s
	// 1080p clip at 10 fps) is in the 32K–128K tier, not a lower bound.
	for _, tc := range []struct {
		in    int
		want  float64
		lower bool
	}{{32000, 0.20, false}, {32001, 0.30, false}, {59402, 0.30, false}, {128000, 0.30, false}, {128001, 0.60, false}, {256000, 0.60, false}, {256001, 0.60, true}} {
		c := p.Cost("qwen3-vl-plus", "intl", tc.in, 10)
		if got := c.Input / float64(tc.in) * 1e6; math.Abs(got-tc.want) > 1e-9 || c.LowerBound != tc.lower || (c.Note != "") != tc.lower {
			t.Errorf("intl %d tokens priced at %v/M (lower bound %v, note %q), want %v/M, lower bound %v", tc.in, got, c.LowerBound, c.Note, tc.want, tc.lower)
		}
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

// row is a complete price row for ParsePrices tests; fields can be replaced.
func row(kv ...string) string {
	r := map[string]string{"model": `"m"`, "region": `"intl"`, "currency": `"USD"`, "max_input_tokens": "0",
		"input": "1", "output": "2", "as_of": `"2026-06-27"`, "source": `"test"`}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(r, kv[i])
		} else {
			r[kv[i]] = kv[i+1]
		}
	}
	var parts []string
	for _, k := range []string{"model", "region", "currency", "max_input_tokens", "input", "output", "as_of", "source"} {
		if v, ok := r[k]; ok {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestParsePrices(t *testing.T) {
	tbl, err := ParsePrices([]byte(`{"prices":[` + row() + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.Cost("m", "intl", 500000, 500000); c.Total != 1.5 {
		t.Fatalf("total %v", c.Total)
	}
	if _, err := ParsePrices([]byte(`{"prices":[` + row("output", "null") + `]}`)); err != nil {
		t.Errorf("explicit null output (not known) rejected: %v", err)
	}
	tests := []struct{ name, table, says string }{
		{"not JSON", `{`, "parse"},
		{"no model", `{"prices":[` + row("model", "") + `]}`, `"model" is required`},
		{"no region", `{"prices":[` + row("region", "") + `]}`, `"region" is required`},
		{"no currency", `{"prices":[` + row("currency", "") + `]}`, `"currency" is required`},
		{"blank currency", `{"prices":[` + row("currency", `" "`) + `]}`, `"currency" is required`},
		{"no as_of", `{"prices":[` + row("as_of", "") + `]}`, `"as_of" is required`},
		{"no source", `{"prices":[` + row("source", "") + `]}`, `"source" is required`},
		{"no input", `{"prices":[` + row("input", "") + `]}`, `"input" is required`},
		{"null input", `{"prices":[` + row("input", "null") + `]}`, `"input" is required`},
		{"no output", `{"prices":[` + row("output", "") + `]}`, `"output" is required`},
		{"negative", `{"prices":[` + row("input", "-1") + `]}`, "negative"},
		{"duplicate tier", `{"prices":[` + row() + `,` + row("input", "3") + `]}`, "same max_input_tokens 0 as row 1"},
		{"mixed currencies", `{"prices":[` + row("max_input_tokens", "1000") + `,` + row("currency", `"CNY"`) + `]}`, "currency CNY"},
		// Tables that would leave every price unknown, or drop a field.
		{"empty object", `{}`, `no price rows; want {"prices": [{"model"`},
		{"no rows", `{"prices":[]}`, "no price rows"},
		{"misspelt prices", `{"pricse":[` + row() + `]}`, `unknown key "pricse"; want {"prices"`},
		{"misspelt row key", `{"prices":[` + row("output", "") + `]}`, `"output" is required`},
		{"extra row key", `{"prices":[{"model":"m","region":"intl","currency":"USD","max_input_token":1000,"input":1,"output":2,"as_of":"x","source":"y"}]}`, `price row 1: unknown key "max_input_token"`},
		{"a list, not a table", `[` + row() + `]`, "want {"},
	}
	for _, tt := range tests {
		_, err := ParsePrices([]byte(tt.table))
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.says)
		}
	}
	// Tiers of one model in two regions, or two models, are not duplicates.
	if _, err := ParsePrices([]byte(`{"prices":[` + row() + `,` + row("region", `"cn"`) + `,` + row("model", `"n"`) + `]}`)); err != nil {
		t.Errorf("distinct rows rejected: %v", err)
	}
}

func TestCostIsRoundedForJSON(t *testing.T) {
	// 266 input tokens at $0.20/M is 0.0000532; float arithmetic gives
	// 0.000053200000000000006 before rounding.
	if raw := float64(266) * 0.20 / 1e6; fmt.Sprint(raw) == "5.32e-05" {
		t.Fatalf("sanity: %v is already clean; pick another case", raw)
	}
	c := DefaultPrices().Cost("qwen3-vl-plus", "intl", 266, 0)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"input":0.0000532,`) || !strings.Contains(string(b), `"total":0.0000532,`) {
		t.Fatalf("cost JSON %s, want input and total 0.0000532", b)
	}
	for _, x := range []float64{0.1 + 0.2, 1e-13, 12345.678901234567, 0} {
		if got := RoundMoney(x); math.Abs(got-x) > 5e-13 || len(fmt.Sprint(got)) > 20 {
			t.Errorf("RoundMoney(%v) = %v", x, got)
		}
	}
}

func TestCostUnknownOutputPrice(t *testing.T) {
	p := DefaultPrices()
	// qwen3.5-flash: input 0.10/M known, output not (dashscope-notes.md §3).
	if c := p.Cost("qwen3.5-flash", "intl", 1000, 0); !c.Known || c.Total != 0.0001 {
		t.Fatalf("input only: %+v", c)
	}
	c := p.Cost("qwen3.5-flash", "intl", 1000, 10)
	if c.Known || c.Total != 0 || !strings.Contains(c.Note, "output price") || !strings.Contains(c.Note, "not known") {
		t.Fatalf("with output tokens the cost must be unknown, not input-only: %+v", c)
	}
	if strings.Contains(c.Note, "no price for") {
		t.Errorf("note %q says there is no price; only the output price is missing", c.Note)
	}
	// What is known is a lower bound: the input's cost.
	if amount, lower, ok := c.AtLeast(); !ok || !lower || amount != 0.0001 {
		t.Errorf("AtLeast = %v, %v, %v; want 0.0001, a lower bound", amount, lower, ok)
	}
	if _, _, ok := p.Cost("qwen3-vl-plus", "us", 1000, 10).AtLeast(); ok {
		t.Errorf("no price row at all: AtLeast must not be ok")
	}
}

func TestCostNotesBorrowedPrice(t *testing.T) {
	p := DefaultPrices()
	c := p.Cost("qwen-vl-max-2025-04-08", "intl", 1000, 10)
	if !c.Known || c.PricedAs != "qwen-vl-max" || !strings.Contains(c.Note, "priced as qwen-vl-max") {
		t.Fatalf("borrowed price not marked: %+v", c)
	}
	if c := p.Cost("qwen-vl-max", "intl", 1000, 10); c.Note != "" || c.PricedAs != "qwen-vl-max" {
		t.Fatalf("own price: %+v", c)
	}
}
