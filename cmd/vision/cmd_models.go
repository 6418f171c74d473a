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
}

func runModels(c *cli.Context) error {
	prices := tokens.DefaultPrices()
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		for _, m := range tokens.Models() {
			var ps []tokens.Price
			for _, r := range []string{"intl", "us", "cn", "hk"} {
				ps = append(ps, prices.Lookup(m.Name, r)...)
			}
			if err := enc.Encode(modelRow{Model: m, Prices: ps}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tFAMILY\tF\tIMAGE PX (MIN/DEFAULT MAX/MAX)\tVIDEO FRAME PX (DEFAULT/MAX)\tTOTAL PX\tMAX FRAMES\tLIST\tDURATION\tINTL $/M IN/OUT")
	for _, m := range tokens.Models() {
		price := "-"
		if ps := prices.Lookup(m.Name, "intl"); len(ps) > 0 {
			price = fmt.Sprintf("%g/%g", ps[0].Input, ps[0].Output)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d/%d\t%d/%d\t%.0f\t%d\t%d-%d\t%gs-%s\t%s\n",
			m.Name, m.Family, m.Factor, m.ImageMinPixels, m.ImageMaxPixelsDefault, m.ImageMaxPixels,
			m.VideoMaxPixelsDefault, m.VideoMaxPixels, m.VideoTotalPixelsDefault, m.MaxFrames,
			m.ImageListMin, m.ImageListMax, m.VideoMinSeconds, duration(m.VideoMaxSeconds), price)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !c.Bool("quiet") {
		fmt.Fprintln(out, "\nSources for every number: vision models --json (field \"sources\"). Prices: per million tokens, as of the dates in --json.")
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
