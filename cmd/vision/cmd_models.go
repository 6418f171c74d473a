package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/qwen-vision/vision/tokens"
	"github.com/urfave/cli/v2"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "list known models, their family and every number vision uses",
		Description: "Prints the registry: factor, image and video pixel bounds, frame and duration limits,\n" +
			"size and count limits, and prices, each number with its source (with --json).\n\n" +
			"   vision models\n   vision models --json | jq 'select(.family==\"qwen3-vl-plus\")'",
		Action: runModels,
	}
}

type modelRow struct {
	tokens.Model
	Prices []tokens.Price `json:"prices"`
	// PricedAs names the price rows' model when the name has none of its
	// own and borrows the rows of the name it starts with.
	PricedAs string `json:"priced_as,omitempty"`
}

// priceCell renders the lowest tier as input/output per million tokens,
// "?" for an unknown output price and a leading "≈" when the rows are
// borrowed from another name (see tokens.PriceTable.Lookup).
func priceCell(name string, ps []tokens.Price) (cell string, borrowed bool) {
	if len(ps) == 0 {
		return "-", false
	}
	out := "?"
	if ps[0].Output != nil {
		out = fmt.Sprintf("%g", *ps[0].Output)
	}
	cell = fmt.Sprintf("%g/%s", ps[0].Input, out)
	if ps[0].Model != name {
		return "≈" + cell, true
	}
	return cell, false
}

func runModels(c *cli.Context) error {
	prices := tokens.DefaultPrices()
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		for _, m := range tokens.Models() {
			row := modelRow{Model: m}
			for _, r := range []string{"intl", "us", "cn", "hk"} {
				row.Prices = append(row.Prices, prices.Lookup(m.Name, r)...)
			}
			if len(row.Prices) > 0 && row.Prices[0].Model != m.Name {
				row.PricedAs = row.Prices[0].Model
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tFAMILY\tF\tIMAGE PX MIN/DEFAULT/MAX\tHIGH-RES PX\tVIDEO FRAME PX MIN/DEFAULT/MAX\tTOTAL PX\tMAX FRAMES\tLIST\tDURATION\tINTL $/M IN/OUT")
	var borrowed []string
	for _, m := range tokens.Models() {
		ps := prices.Lookup(m.Name, "intl")
		price, b := priceCell(m.Name, ps)
		if b {
			borrowed = append(borrowed, fmt.Sprintf("%s as %s", m.Name, ps[0].Model))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d/%d\t%d\t%d/%d/%d\t%.0f\t%d\t%d-%d\t%gs-%s\t%s\n",
			m.Name, m.Family, m.Factor, m.ImageMinPixels, m.ImageMaxPixelsDefault, m.ImageMaxPixels, m.HighResMaxPixels,
			m.VideoMinPixelsDefault, m.VideoMaxPixelsDefault, m.VideoMaxPixels, m.VideoTotalPixelsDefault, m.MaxFrames,
			m.ImageListMin, m.ImageListMax, m.VideoMinSeconds, duration(m.VideoMaxSeconds), price)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !c.Bool("quiet") {
		fmt.Fprintln(out, "\nSources for every number: vision models --json (field \"sources\"). Prices: per million tokens, as of the dates in --json; ? = not known.")
		if len(borrowed) > 0 {
			fmt.Fprintf(out, "≈ no price row of its own: priced as the name it extends (e.g. %s; %d models, \"priced_as\" in --json); check before relying on it.\n", borrowed[0], len(borrowed))
		}
	}
	return nil
}

// duration renders seconds as 40s, 10m or 2h.
func duration(s float64) string {
	switch {
	case s >= 3600 && int(s)%3600 == 0:
		return fmt.Sprintf("%dh", int(s)/3600)
	case s >= 60 && int(s)%60 == 0:
		return fmt.Sprintf("%dm", int(s)/60)
	}
	return fmt.Sprintf("%gs", s)
}
