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

// priceFormat says what a price table holds, for errors about one.
const priceFormat = `want {"prices": [{"model", "region", "currency", "max_input_tokens", "input", "output", "as_of", "source"}, ...]} with an optional "note", as tokens/prices.json`

// priceKeys are the fields of a table and of a row; any other is refused,
// so a misspelt key ("ouput", "max_input_token") is not silently dropped.
var priceKeys = map[string]bool{"note": true, "prices": true}
var priceRowKeys = map[string]bool{"model": true, "region": true, "currency": true, "max_input_tokens": true,
	"input": true, "output": true, "as_of": true, "source": true}

// ParsePrices reads a price table in the prices.json format. It needs at
// least one row and no keys but those of the format. Every row needs model,
// region, currency, as_of and source, an input price, and an output price or
// an explicit null for one that is not known; a model's tiers in a region
// must be distinct and share one currency.
func ParsePrices(data []byte) (PriceTable, error) {
	var t PriceTable
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w; %s", err, priceFormat)
	}
	var top map[string]json.RawMessage
	var raw struct {
		Prices []map[string]json.RawMessage `json:"prices"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w", err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return t, fmt.Errorf("tokens: parse price table: %w", err)
	}
	if k := unknownKey(top, priceKeys); k != "" {
		return t, fmt.Errorf("tokens: price table: unknown key %q; %s", k, priceFormat)
	}
	if len(t.Prices) == 0 {
		return t, fmt.Errorf("tokens: price table has no price rows; %s", priceFormat)
	}
	for i, r := range raw.Prices {
		if k := unknownKey(r, priceRowKeys); k != "" {
			return t, fmt.Errorf("tokens: price row %d: unknown key %q; %s", i+1, k, priceFormat)
		}
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
// tokens (Input then still holds the input's cost); Note then says why.
// LowerBound is true when the input is above the highest tier the table
// knows for the model: it is priced at that tier, so the true cost is at
// least Total. PricedAs names the price row used, which is another model's
// when the name itself has no row (see [PriceTable.Lookup]); Note says so.
// Amounts are rounded to 1e-12 of the currency unit.
type Cost struct {
	Known      bool    `json:"known"`
	LowerBound bool    `json:"lower_bound,omitempty"`
	Currency   string  `json:"currency,omitempty"`
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	Total      float64 `json:"total"`
	PricedAs   string  `json:"priced_as,omitempty"` // the price row's model name
	Note       string  `json:"note,omitempty"`
}

// AtLeast is the most that is known about the cost: Total when it is known
// (lower is LowerBound), the input's cost alone when only the output price
// is missing (lower is true), and ok false when nothing is priced.
func (c Cost) AtLeast() (amount float64, lower, ok bool) {
	switch {
	case c.Known:
		return c.Total, c.LowerBound, true
	case c.Currency != "": // a price row, without an output price
		return c.Input, true, true
	}
	return 0, false, false
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
	// The notes do not name the request's size, so that many requests with
	// the same cause share one note (a summary can count them).
	above := tier.MaxInputTokens != 0 && inputTokens > tier.MaxInputTokens
	if above {
		note = fmt.Sprintf("input above %d tokens, the highest tier known for %s in %s: priced at that tier, a lower bound (give the next tier with --prices FILE)", tier.MaxInputTokens, tier.Model, region)
	}
	if tier.Model != model {
		note = joinNote(note, fmt.Sprintf("priced as %s (no price row for %s)", tier.Model, model))
	}
	in := float64(inputTokens) * tier.Input / 1e6
	if tier.Output == nil && outputTokens > 0 {
		return Cost{Currency: tier.Currency, Input: RoundMoney(in), PricedAs: tier.Model, LowerBound: above,
			Note: joinNote(note, fmt.Sprintf("output price of %s in %s is not known: the input alone is priced, a lower bound (give one with --prices FILE)", tier.Model, region))}
	}
	out := 0.0
	if tier.Output != nil {
		out = float64(outputTokens) * *tier.Output / 1e6
	}
	return Cost{Known: true, LowerBound: above, Currency: tier.Currency, Input: RoundMoney(in), Output: RoundMoney(out), Total: RoundMoney(in + out), PricedAs: tier.Model, Note: note}
}

// RoundMoney rounds an amount to 12 decimals, so 0.0000532 prints as such
// and not as 0.000053200000000000006: the decimal is formatted, then parsed
// back to the nearest float64. Sums of costs need it again.
func RoundMoney(x float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 12, 64), 64)
	if err != nil {
		return x
	}
	return r
}

// unknownKey returns the first key of m (in sorted order) that known lacks.
func unknownKey(m map[string]json.RawMessage, known map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
