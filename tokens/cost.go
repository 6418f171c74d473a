package tokens

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Price is one row of a price table: what a model costs per million tokens in
// one region, for requests whose input is at most MaxInputTokens (0: no upper
// bound, the last tier).
type Price struct {
	Model          string  `json:"model"`
	Region         string  `json:"region"`
	Currency       string  `json:"currency"`
	MaxInputTokens int     `json:"max_input_tokens"`
	Input          float64 `json:"input"`  // per million input tokens
	Output         float64 `json:"output"` // per million output tokens
	AsOf           string  `json:"as_of"`
	Source         string  `json:"source"`
}

// PriceTable is a set of prices, as shipped or as read from --prices FILE.
type PriceTable struct {
	Note   string  `json:"note,omitempty"`
	Prices []Price `json:"prices"`
}

//go:embed prices.json
var defaultPrices []byte

// DefaultPrices returns the price table built into the binary.
func DefaultPrices() PriceTable {
	t, err := ParsePrices(defaultPrices)
	if err != nil {
		panic("tokens: built-in prices.json: " + err.Error())
	}
	return t
}

// ParsePrices reads a price table in the prices.json format.
func ParsePrices(data []byte) (PriceTable, error) {
	var t PriceTable
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w", err)
	}
	for i, p := range t.Prices {
		if p.Model == "" || p.Region == "" {
			return t, fmt.Errorf("tokens: price row %d: model and region are required", i+1)
		}
		if p.Input < 0 || p.Output < 0 || p.MaxInputTokens < 0 {
			return t, fmt.Errorf("tokens: price row %d (%s): prices and tiers must not be negative", i+1, p.Model)
		}
	}
	return t, nil
}

// Cost is what a request costs. Known is false when the table has no price
// for the model and region; Note then says why.
type Cost struct {
	Known    bool    `json:"known"`
	Currency string  `json:"currency,omitempty"`
	Input    float64 `json:"input"`
	Output   float64 `json:"output"`
	Total    float64 `json:"total"`
	PricedAs string  `json:"priced_as,omitempty"` // the price row's model name
	Note     string  `json:"note,omitempty"`
}

// Lookup returns the tiers for a model in a region, cheapest tier first. A
// dated or -latest name falls back to the longest priced name it starts with.
func (t PriceTable) Lookup(model, region string) []Price {
	best := ""
	for _, p := range t.Prices {
		if p.Region != region {
			continue
		}
		if (model == p.Model || strings.HasPrefix(model, p.Model+"-")) && len(p.Model) > len(best) {
			best = p.Model
		}
	}
	var tiers []Price
	for _, p := range t.Prices {
		if p.Region == region && p.Model == best {
			tiers = append(tiers, p)
		}
	}
	sort.SliceStable(tiers, func(i, j int) bool {
		a, b := tiers[i].MaxInputTokens, tiers[j].MaxInputTokens
		if a == 0 || b == 0 {
			return b == 0 && a != 0
		}
		return a < b
	})
	return tiers
}

// Cost prices one request of inputTokens and outputTokens. The tier is chosen
// by the request's input length, as DashScope bills.
func (t PriceTable) Cost(model, region string, inputTokens, outputTokens int) Cost {
	tiers := t.Lookup(model, region)
	if len(tiers) == 0 {
		return Cost{Note: fmt.Sprintf("no price for %s in region %s (add one with --prices FILE)", model, region)}
	}
	tier := tiers[len(tiers)-1]
	note := ""
	for _, p := range tiers {
		if p.MaxInputTokens == 0 || inputTokens <= p.MaxInputTokens {
			tier = p
			break
		}
	}
	if tier.MaxInputTokens != 0 && inputTokens > tier.MaxInputTokens {
		note = fmt.Sprintf("input of %d tokens is above the highest known tier (%d); priced at that tier, a lower bound", inputTokens, tier.MaxInputTokens)
	}
	in := float64(inputTokens) * tier.Input / 1e6
	out := float64(outputTokens) * tier.Output / 1e6
	return Cost{Known: true, Currency: tier.Currency, Input: in, Output: out, Total: in + out, PricedAs: tier.Model, Note: note}
}
