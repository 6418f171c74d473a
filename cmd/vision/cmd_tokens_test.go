package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// TestTokensBadNumbersExitUsage: settings that cannot work are usage errors
// (exit 2) with a message naming the flag, never a row of garbage or exit 1.
func TestTokensBadNumbersExitUsage(t *testing.T) {
	video := []string{"tokens", "--json", "--video"}
	tests := []struct {
		args []string
		says []string
	}{
		// min_pixels above max_pixels once the defaults are filled in.
		{append(video, "--frames", "300", "--max-pixels", "50000", "640x480"), []string{"--max-pixels: 50000", "default video min_pixels 65536"}},
		{append(video, "--frames", "300", "--factor", "28", "--max-pixels", "50000", "640x480"), []string{"--max-pixels", "default video min_pixels 100352"}},
		{append(video, "--frames", "300", "--min-pixels", "700000", "640x480"), []string{"--min-pixels: 700000", "default video max_pixels 655360"}},
		{[]string{"tokens", "--max-pixels", "3000", "640x480"}, []string{"--max-pixels: 3000", "default image min_pixels 65536"}},
		// NaN, Inf and absurd floats.
		{append(video, "--frames", "300", "--total-pixels", "NaN", "640x480"), []string{"--total-pixels NaN"}},
		{append(video, "--frames", "300", "--total-pixels", "Inf", "640x480"), []string{"--total-pixels +Inf"}},
		{append(video, "--frames", "300", "--total-pixels", "-1", "640x480"), []string{"--total-pixels -1"}},
		{append(video, "--frames", "300", "--fps", "NaN", "640x480"), []string{"--fps NaN"}},
		{append(video, "--frames", "300", "--fps", "0", "640x480"), []string{"--fps 0"}},
		{append(video, "--duration", "NaN", "640x480"), []string{"--duration NaN"}},
		{append(video, "--duration", "Inf", "640x480"), []string{"--duration +Inf"}},
		{append(video, "--duration", "1e300", "640x480"), []string{"--duration 1e+300", "want 1 to"}},
		{append(video, "--duration", "0.001", "640x480"), []string{"--duration 0.001", "want 1 to"}},
		{append(video, "--frames", "300", "--start", "NaN", "640x480"), []string{"--start NaN"}},
		{append(video, "--frames", "300", "--end", "-Inf", "640x480"), []string{"--end -Inf"}},
		{append(video, "--frames", "300", "--start", "-1", "640x480"), []string{"--start -1"}},
		{append(video, "--frames", "300", "--source-fps", "NaN", "640x480"), []string{"--source-fps NaN"}},
		{append(video, "--frames", "300", "--source-fps", "1e-300", "640x480"), []string{"--source-fps 1e-300", "from 0.001 to 1000"}},
		{append(video, "--frames", "300", "--source-fps", "1e300", "640x480"), []string{"--source-fps 1e+300", "from 0.001 to 1000"}},
		{append(video, "--frames", "300", "--source-fps", "0", "640x480"), []string{"--source-fps 0"}},
		{append(video, "--frames", "3000000000", "640x480"), []string{"--frames 3000000000"}},
		{append(video, "--frames", "300", "--nframes", "0", "640x480"), []string{"--nframes 0"}},
		{[]string{"tokens", "--min-pixels", "-5", "640x480"}, []string{"--min-pixels -5"}},
		// nframes above the model's max_frames or sampling outside [0.1, 10] fps.
		{append(video, "--frames", "5000", "--nframes", "3000", "1920x1080"), []string{"nframes", "max_frames 2000"}},
		{append(video, "--frames", "2500", "--nframes", "1500", "1920x1080"), []string{"nframes", "sample 18 fps", "between 10 and 832"}},
		{append(video, "--frames", "108000", "--nframes", "100", "1920x1080"), []string{"nframes", "between 360 and 2000"}},
		{append(video, "--frames", "60", "--min-frames", "40", "640x480"), []string{"--min-frames", "sample 20 fps"}},
		// Every suggested nframes works after rounding half to even (5 → 4).
		{append(video, "--frames", "1500", "--nframes", "2", "640x480"), []string{"between 6 and 500"}},
		{append(video, "--frames", "60", "--nframes", "30", "640x480"), []string{"between 2 and 20"}},
		// min_frames alone against the model's default max_frames (also its maximum).
		{append(video, "--frames", "100000", "--min-frames", "3000", "640x480"), []string{"3000", "default max_frames 2000", "at most 2000"}},
		// A factor or side so large the arithmetic would overflow int.
		{[]string{"tokens", "--json", "--factor", "33558530", "640x480"}, []string{"--factor 33558530", "from 2 to 1024"}},
		{[]string{"tokens", "--json", "--factor", "3037000498", "640x480"}, []string{"--factor 3037000498", "from 2 to 1024"}},
		{[]string{"tokens", "--json", "--factor", "1026", "640x480"}, []string{"--factor 1026"}},
		{[]string{"tokens", "--json", "--factor", "29", "640x480"}, []string{"--factor 29", "even"}},
		{[]string{"tokens", "--json", "--factor", "0", "640x480"}, []string{"--factor 0"}},
		{[]string{"tokens", "--json", "9223372036854775807x9223372036854775807"}, []string{"at most 2147483648 px"}},
		{[]string{"tokens", "--json", "640x2147483649"}, []string{"at most 2147483648 px"}},
		// Text-only models.
		{[]string{"tokens", "--model", "qwen3.7-max", "640x480"}, []string{"text-only", "seed 003 line 572", "qwen3.7-max-2026-06-08"}},
		{[]string{"tokens", "--model", "qwen3.6-max-preview", "640x480"}, []string{"text-only"}},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args[1:], " ")
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitUsage || out != "" {
				t.Fatalf("exit %d, want 2 and no output\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			for _, w := range tt.says {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not say %q", errOut, w)
				}
			}
		})
	}
}

// TestTokensErrorsNameFlags: a setting the model refuses is reported with the
// flag that set it (--min-pixels, --nframes/--fps), not the API parameter
// (min_pixels, nframes), and the fix, where one is known, as a hint in flag
// names.
func TestTokensErrorsNameFlags(t *testing.T) {
	video := []string{"tokens", "--video", "--frames", "300"}
	tests := []struct {
		args        []string
		error, hint string
	}{
		{[]string{"tokens", "--min-pixels", "100", "640x480"}, "--min-pixels: 100 is below this model's minimum 65536", "give --min-pixels of at least 65536"},
		{[]string{"tokens", "--max-pixels", "99999999", "640x480"}, "--max-pixels: 99999999 is above this model's maximum 16777216", "give --max-pixels of at most 16777216"},
		{[]string{"tokens", "--model", "qwen2.5-vl-7b-instruct", "--max-pixels", "99999999", "640x480"}, "--max-pixels: 99999999 is above this model's maximum 12845056", "give --max-pixels of at most 12845056"},
		{append(video, "--fps", "2", "--nframes", "4", "640x480"), "--nframes/--fps: both are given", "give either --fps or --nframes, not both"},
		{append(video, "--nframes", "3000", "640x480"), "--nframes: 3000", "give --nframes of at most 2000"},
		{append(video, "--max-frames", "2001", "640x480"), "--max-frames: 2001 is above this model's maximum 2000", "give --max-frames of at most 2000"},
		{append(video, "--min-frames", "30", "--max-frames", "20", "640x480"), "--min-frames: 30 is greater than max_frames 20", "lower --min-frames or raise --max-frames"},
		{append(video, "--min-pixels", "1000", "640x480"), "--min-pixels: 1000 is below this model's minimum 4096 for video frames", "give --min-pixels of at least 4096"},
		{append(video, "--total-pixels", "1000", "640x480"), "--total-pixels: 1000 is below this model's minimum 134217728", "give --total-pixels of at least 134217728"},
		{append(video, "--start", "11", "--end", "12", "640x480"), "--start/--end: invalid time range", "give a --start before --end, both within the video's 10.00s"},
		{append(video, "--nframes", "200", "640x480"), "--nframes: 200 frames of 300", "for this length give --nframes between 2 and 100"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != exitUsage || out != "" {
			t.Errorf("%v: exit %d, want 2\n%s%s", tt.args, code, out, errOut)
			continue
		}
		if !strings.Contains(errOut, "vision: error: "+tt.error) || !strings.Contains(errOut, "vision: hint: "+tt.hint) {
			t.Errorf("%v: stderr\n%s\nwant error %q and hint %q", tt.args, errOut, tt.error, tt.hint)
		}
	}
}

func TestTokensValidEdgesStillPlan(t *testing.T) {
	// Custom deployments keep qwen-vl-utils' behaviour: nframes is not bound
	// by the API's fps range.
	code, out, errOut := runCLI(t, "tokens", "--json", "--video", "--factor", "28", "--frames", "5000", "--nframes", "3000", "640x480")
	if code != 0 || !strings.Contains(out, `"frames":3000`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// The largest factor and side accepted still plan (2^31 px sides are
	// far beyond real images but exact in the arithmetic).
	for _, tc := range []struct{ args, want []string }{
		{[]string{"--factor", "1024", "640x480"}, []string{`"resized_width":3072,"resized_height":2048`}},
		{[]string{"2147483648x2147483648"}, []string{`"resized_width":1600,"resized_height":1600`}},
	} {
		code, out, errOut := runCLI(t, append([]string{"tokens", "--json"}, tc.args...)...)
		if code != 0 || !strings.Contains(out, tc.want[0]) {
			t.Errorf("%v: exit %d\n%s%s", tc.args, code, out, errOut)
		}
	}
	// 10 fps exactly is inside the range.
	code, out, errOut = runCLI(t, "tokens", "--json", "--video", "--frames", "300", "--nframes", "100", "640x480")
	if code != 0 || !strings.Contains(out, `"sample_fps":10`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestExitCodeBoundsIsUsage(t *testing.T) {
	err := fmt.Errorf("plan: %w", tokens.ErrBounds)
	if got := exitCode(context.Background(), err); got != exitUsage {
		t.Fatalf("exitCode(ErrBounds) = %d, want %d", got, exitUsage)
	}
}

// columnEdges returns where each header column ends; the tables are right
// aligned, so every cell of a column ends at the same offset.
func columnEdges(t *testing.T, header string, names ...string) []int {
	t.Helper()
	var edges []int
	from := 0
	for _, n := range names {
		i := strings.Index(header[from:], n)
		if i < 0 {
			t.Fatalf("header %q lacks %q", header, n)
		}
		from += i + len(n)
		edges = append(edges, from)
	}
	return edges
}

func TestTokensTableAlignsErrorRows(t *testing.T) {
	tests := []struct {
		args    []string
		columns []string
	}{
		{[]string{"tokens", "--factor", "28", "2201x11", "4x4", "1024x406"}, []string{"SIZE", "RESIZED", "TOKENS", "INPUT TOKENS"}},
		{[]string{"tokens", "--video", "--frames", "300", "--factor", "28", "2201x11", "4x4"}, []string{"SIZE", "RESIZED", "FRAMES", "SAMPLE FPS", "TOKENS", "INPUT TOKENS"}},
	}
	for _, tt := range tests {
		code, out, _ := runCLI(t, tt.args...)
		if code != exitItemsFailed {
			t.Fatalf("%v: exit %d, want 3", tt.args, code)
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		edges := columnEdges(t, lines[0], tt.columns...)
		errorRows := 0
		for _, l := range lines[1:] {
			for i, e := range edges {
				if len(l) < e || l[e-1] == ' ' || (len(l) > e && l[e] != ' ') {
					t.Errorf("%v: row %q: column %s does not end at offset %d\n%s", tt.args, l, tt.columns[i], e, out)
				}
			}
			if strings.Contains(l, "error:") {
				errorRows++
				if strings.Index(l, "error:") < edges[len(edges)-1] {
					t.Errorf("error text inside the columns: %q", l)
				}
			}
		}
		if errorRows != 1 {
			t.Errorf("%v: %d error rows\n%s", tt.args, errorRows, out)
		}
	}
}

func TestTokensWarnsAboutIgnoredFlags(t *testing.T) {
	tests := []struct {
		args []string
		warn string // "" means no warning
	}{
		{[]string{"tokens", "--video", "--frames", "300", "--high-res", "640x480"}, "--high-res (vl_high_resolution_images) applies to images only"},
		{[]string{"tokens", "--factor", "28", "--model", "qwen-vl-max", "640x480"}, "registry defaults and caps of --model qwen-vl-max are off"},
		{[]string{"tokens", "--high-res", "--max-pixels", "1000000", "640x480"}, "--max-pixels is ignored with --high-res"},
		{[]string{"tokens", "--high-res", "640x480"}, ""},
		{[]string{"tokens", "--factor", "28", "640x480"}, ""},
		{[]string{"tokens", "--quiet", "--video", "--frames", "300", "--high-res", "640x480"}, ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != 0 || out == "" {
			t.Fatalf("%v: exit %d\n%s%s", tt.args, code, out, errOut)
		}
		if tt.warn == "" {
			if errOut != "" {
				t.Errorf("%v: unexpected stderr %q", tt.args, errOut)
			}
			continue
		}
		if !strings.HasPrefix(errOut, "vision: warning: ") || !strings.Contains(errOut, tt.warn) {
			t.Errorf("%v: stderr %q, want a warning containing %q", tt.args, errOut, tt.warn)
		}
	}
}

// TestEstimateErrorsNameFlags: estimate and check name the flag too.
func TestEstimateErrorsNameFlags(t *testing.T) {
	for _, cmd := range []string{"estimate", "check"} {
		code, out, errOut := runCLI(t, cmd, "--min-pixels", "100", images+"/jpeg.jpg")
		if code != exitUsage || out != "" || !strings.Contains(errOut, "vision: error: --min-pixels: 100 is below") ||
			!strings.Contains(errOut, "vision: hint: give --min-pixels of at least 65536") {
			t.Errorf("%s: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
}
