package tokens

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Price is one row of a price table: what a model costs per million tokens in
// one region, for requests whose input is at most MaxInputTokens (0: no upper
// bound, the last tier).
type Price struct {
	Model          string   `json:"model"`
	Region         string   `json:"region"`
	Currency       string   `json:"currency"`
	MaxInputTokens int      `json:"max_input_tokens"`
	Input          float64  `json:"input"`  // per million input tokens
	Output         *float64 `json:"output"` // per million output tokens; null: not known
	AsOf           string   `json:"as_of"`
	Source         string   `json:"source"`
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

// ParsePrices reads a price table in the prices.json format. Every row needs
// model, region, currency, as_of and source, an input price, and an output
// price or an explicit null for one that is not known; a model's tiers in a
// region must be distinct and share one currency.
func ParsePrices(data []byte) (PriceTable, error) {
	var t PriceTable
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w", err)
	}
	var raw struct {
		Prices []map[string]json.RawMessage `json:"prices"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w", err)
	}
	type tierKey struct {
		model, region string
		max           int
	}
	tiers := map[tierKey]int{}
	currency := map[[2]string]string{}
	for i, p := range t.Prices {
		row := fmt.Sprintf("tokens: price row %d (%s %s)", i+1, p.Model, p.Region)
		for _, k := range []string{"input", "output"} {
			if v, ok := raw.Prices[i][k]; !ok || (k == "input" && string(v) == "null") {
				return t, fmt.Errorf("%s: %q is required (a number per million tokens; output may be null when not known)", row, k)
			}
		}
		for _, f := range []struct{ name, v string }{{"model", p.Model}, {"region", p.Region}, {"currency", p.Currency}, {"as_of", p.AsOf}, {"source", p.Source}} {
			if strings.TrimSpace(f.v) == "" {
				return t, fmt.Errorf("%s: %q is required", row, f.name)
			}
		}
		if !(p.Input >= 0) || (p.Output != nil && !(*p.Output >= 0)) || p.MaxInputTokens < 0 {
			return t, fmt.Errorf("%s: prices and tiers must not be negative", row)
		}
		k := tierKey{p.Model, p.Region, p.MaxInputTokens}
		if j, dup := tiers[k]; dup {
			return t, fmt.Errorf("%s: same max_input_tokens %d as row %d", row, p.MaxInputTokens, j)
		}
		tiers[k] = i + 1
		mr := [2]string{p.Model, p.Region}
		if c, ok := currency[mr]; ok && c != p.Currency {
			return t, fmt.Errorf("%s: currency %s, but an earlier tier is in %s", row, p.Currency, c)
		}
		currency[mr] = p.Currency
	}
	return t, nil
}

// Cost is what a request costs. Known is false when the table has no price
// for the model and region, or no output price and the request has output
// tokens; Note then says why. PricedAs names the price row used, which is
// another model's when the name itself has no row (see [PriceTable.Lookup]).
// Amounts are rounded to 1e-12 of the currency unit.
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
	if tier.Model != model {
		note = joinNote(note, fmt.Sprintf("priced as %s (no price row for %s)", tier.Model, model))
	}
	in := float64(inputTokens) * tier.Input / 1e6
	if tier.Output == nil && outputTokens > 0 {
		return Cost{Currency: tier.Currency, Input: roundMoney(in), PricedAs: tier.Model,
			Note: joinNote(note, fmt.Sprintf("output price of %s in %s is not known (input alone: %g %s); give one with --prices FILE", tier.Model, region, roundMoney(in), tier.Currency))}
	}
	out := 0.0
	if tier.Output != nil {
		out = float64(outputTokens) * *tier.Output / 1e6
	}
	return Cost{Known: true, Currency: tier.Currency, Input: roundMoney(in), Output: roundMoney(out), Total: roundMoney(in + out), PricedAs: tier.Model, Note: note}
}

// roundMoney rounds an amount to 12 decimals, so 0.0000532 prints as such
// and not as 0.000053200000000000006: the decimal is formatted, then parsed
// back to the nearest float64.
func roundMoney(x float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 12, 64), 64)
	if err != nil {
		return x
	}
	return r
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
