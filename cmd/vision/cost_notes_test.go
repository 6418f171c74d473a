package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writePrices writes a one-row price table for qwen3-vl-plus in intl with
// the given tier and output price (a JSON number or null).
func writePrices(t *testing.T, maxInput int, output string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prices.json")
	table := `{"prices":[{"model":"qwen3-vl-plus","region":"intl","currency":"USD","max_input_tokens":` + strconv.Itoa(maxInput) +
		`,"input":0.2,"output":` + output + `,"as_of":"2026-06-27","source":"test"}]}`
	if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// costFiles are an image and a video that plan on qwen3-vl-plus.
var costFiles = []string{images + "/jpeg.jpg", videos + "/cfr_h264.mp4"}

// TestEstimateCostLowerBounds: a cost priced at the highest known tier
// while the input is above it, or without an output price, is carried
// through with its note (JSON cost_note, priced_as, cost_lower_bound, also
// in frame_list), marked "≥" in the table, and makes the summary
// incomplete with the note and the right reason (not "no price for this
// model"). Both once came out as plain, complete costs or as "unknown".
func TestEstimateCostLowerBounds(t *testing.T) {
	tests := []struct {
		name   string
		prices string
		args   []string
		note   string
	}{
		{"input above the highest tier", writePrices(t, 10, "1.6"), nil, "input above 10 tokens, the highest tier known for qwen3-vl-plus in intl"},
		{"no output price", writePrices(t, 0, "null"), []string{"--output-tokens", "10"}, "output price of qwen3-vl-plus in intl is not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"estimate", "--json", "--prices", tt.prices}, tt.args...)
			code, out, errOut := runCLI(t, append(args, costFiles...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			objs := jsonLines(t, out)
			for _, o := range objs[:len(objs)-1] {
				if o["cost"] == nil || o["cost_lower_bound"] != true || !strings.Contains(str(o, "cost_note"), tt.note) || o["priced_as"] != "qwen3-vl-plus" {
					t.Errorf("%s: cost %v, lower bound %v, note %q, priced_as %v; want a lower bound noting %q",
						o["path"], o["cost"], o["cost_lower_bound"], o["cost_note"], o["priced_as"], tt.note)
				}
				if fl, ok := o["frame_list"].(map[string]any); ok && (fl["cost_lower_bound"] != true || !strings.Contains(str(fl, "cost_note"), tt.note)) {
					t.Errorf("%s: frame list %v carries no lower bound", o["path"], fl)
				}
			}
			sum := objs[len(objs)-1]["summary"].(map[string]any)
			notes, _ := sum["cost_notes"].(map[string]any)
			if sum["cost_complete"] != false || len(notes) != 1 || fnum(sum, "cost") <= 0 {
				t.Errorf("summary %v: want cost_complete false and one cost note", sum)
			}
			for n, count := range notes {
				if !strings.Contains(n, tt.note) || count != 2.0 {
					t.Errorf("summary note %q ×%v, want %q ×2", n, count, tt.note)
				}
			}

			code, out, _ = runCLI(t, append(append([]string{"estimate", "--prices", tt.prices}, tt.args...), costFiles...)...)
			lines := strings.Split(out, "\n")
			if code != 0 || !strings.Contains(lines[1], " ≥$") || !strings.Contains(lines[2], " ≥$") {
				t.Errorf("exit %d; rows do not mark the lower bound:\n%s", code, out)
			}
			if !strings.Contains(out, "cost: ≥$") || !strings.Contains(out, "(a lower bound)") ||
				!strings.Contains(out, "cost note (2 files): "+tt.note) || strings.Contains(out, "no price for this model") {
				t.Errorf("summary does not give the lower bound and its reason:\n%s", out)
			}
		})
	}
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// TestEstimateSummaryJSONShape: the summary's cost is rounded like each
// file's (1.32e-05 + 3 × 1.44e-05 once printed 5.6399999999999995e-05),
// problems_by_code is {} rather than null without problems, and a cost
// from the file's own tier is complete and carries no note.
func TestEstimateSummaryJSONShape(t *testing.T) {
	code, out, errOut := runCLI(t, "estimate", "--json", images+"/small_11x11.png", images+"/jpeg.jpg", images+"/png.png", images+"/gray.jpg")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, `"cost":0.0000564,`) || !strings.Contains(out, `"problems_by_code":{}`) || !strings.Contains(out, `"cost_complete":true`) {
		t.Errorf("summary line: want cost 0.0000564, problems_by_code {} and cost_complete true:\n%s", out)
	}
	if strings.Contains(out, "cost_note") || strings.Contains(out, "cost_lower_bound") {
		t.Errorf("a cost within its tier carries a note:\n%s", out)
	}
}

// TestPricesFileMustHoldPrices: a --prices table that would leave every
// price unknown ({} or a misspelt key) is a usage error saying what the
// format is, not a run with every cost unknown.
func TestPricesFileMustHoldPrices(t *testing.T) {
	dir := t.TempDir()
	for name, table := range map[string]string{
		"empty.json":    `{}`,
		"misspelt.json": `{"price": [{"model":"qwen3-vl-plus","region":"intl","currency":"USD","max_input_tokens":0,"input":0.2,"output":1.6,"as_of":"x","source":"y"}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "estimate", "--prices", p, images+"/jpeg.jpg")
		if code != exitUsage || out != "" || !strings.Contains(errOut, p) || !strings.Contains(errOut, `want {"prices": [{"model"`) ||
			strings.Contains(errOut, "tokens: ") {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", name, code, out, errOut)
		}
	}
}

// TestSummaryCostUnknownIsNull: when no file has a known price, the
// summary's cost is null, as each file's is, never 0.
func TestSummaryCostUnknownIsNull(t *testing.T) {
	code, out, _ := runCLI(t, "estimate", "--json", "--model", "qwen3-vl-flash", images+"/jpeg.jpg", images+"/png.png")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != 0 || !strings.Contains(last, `"cost":null`) || !strings.Contains(last, `"cost_complete":false`) {
		t.Errorf("exit %d, summary %s", code, last)
	}
	_, out, _ = runCLI(t, "estimate", "--json", images+"/jpeg.jpg")
	if !strings.Contains(out, `"cost":0.0000144,"currency":"USD","cost_complete":true`) {
		t.Errorf("priced summary:\n%s", out)
	}
}
