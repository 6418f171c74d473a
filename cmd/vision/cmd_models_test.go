package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestModelsTableMarksBorrowedAndUnknownPrices(t *testing.T) {
	code, out, _ := runCLI(t, "models")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	rows := map[string][]string{}
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	last := func(name string) string { f := rows[name]; return f[len(f)-1] }
	for name, want := range map[string]string{
		"qwen-vl-max":            "0.8/3.2",
		"qwen-vl-max-2025-04-08": "≈0.8/3.2", // a Qwen2.5-VL snapshot priced as qwen-vl-max
		"qwen3-vl-plus":          "0.2/1.6",
		"qwen3.5-flash":          "0.1/?",
		"qwen3-vl-flash":         "-",
	} {
		if got := last(name); got != want {
			t.Errorf("%s price cell %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(lines[0], "HIGH-RES PX") || !strings.Contains(lines[0], "VIDEO FRAME PX MIN/DEFAULT/MAX") {
		t.Errorf("header %q", lines[0])
	}
	if f := rows["qwen3-vl-plus"]; f[4] != "16777216" || f[5] != "65536/655360/2048000" {
		t.Errorf("qwen3-vl-plus high-res and video cells %v", f[4:6])
	}
	if !strings.Contains(out, "≈ no price row of its own: priced as the name it extends") {
		t.Errorf("no footnote for ≈\n%s", out)
	}

	_, js, _ := runCLI(t, "models", "--json")
	priced := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(js), "\n") {
		var m struct {
			Name     string `json:"name"`
			PricedAs string `json:"priced_as"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		priced[m.Name] = m.PricedAs
	}
	if priced["qwen-vl-max-2025-04-08"] != "qwen-vl-max" || priced["qwen-vl-max"] != "" {
		t.Errorf("priced_as: snapshot %q, own %q", priced["qwen-vl-max-2025-04-08"], priced["qwen-vl-max"])
	}
	if !strings.Contains(js, `"model":"qwen3.5-flash","region":"intl","currency":"USD","max_input_tokens":128000,"input":0.1,"output":null`) {
		t.Errorf("qwen3.5-flash's unknown output price is not null in --json")
	}
}
