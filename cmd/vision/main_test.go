package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// runCLI runs the program in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"vision"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (go test ./cmd/vision -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTokensCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string // stdout golden file, if any
		stderr string // substring of stderr
	}{
		{"seed example", []string{"tokens", "--model", "qwen-vl-max", "2048x1365"}, 0, "tokens_dog.txt", ""},
		{"traps json", []string{"tokens", "--factor", "32", "1280x720", "80x80", "--json"}, 0, "tokens_traps32.jsonl", ""},
		{"traps 28 json", []string{"tokens", "--factor", "28", "70x70", "1024x406", "126x42", "--json"}, 0, "tokens_traps28.jsonl", ""},
		{"flags after args", []string{"tokens", "1280x720", "--model", "qwen2.5-vl-7b-instruct", "--json"}, 0, "tokens_after.jsonl", ""},
		{"video json", []string{"tokens", "--video", "--duration", "600", "--source-fps", "30", "1920x1080", "1080x1920", "--json"}, 0, "tokens_video.jsonl", ""},
		{"video nframes trap", []string{"tokens", "--video", "--factor", "28", "--nframes", "5", "--frames", "100", "640x480", "--json"}, 0, "tokens_nframes.jsonl", ""},
		{"rejected size exits 3", []string{"tokens", "--factor", "28", "11x2201", "640x480", "--json"}, 3, "tokens_ratio.jsonl", ""},
		{"high res", []string{"tokens", "--high-res", "3024x4032", "--json"}, 0, "tokens_highres.jsonl", ""},
		{"malformed size", []string{"tokens", "1920by1080"}, 2, "", "want WIDTHxHEIGHT"},
		{"fps out of range", []string{"tokens", "--video", "--frames", "100", "--fps", "20", "640x480"}, 2, "", "--fps 20"},
		{"min above max", []string{"tokens", "--min-pixels", "900000", "--max-pixels", "800000", "640x480"}, 2, "", "greater than max_pixels"},
		{"max above model max", []string{"tokens", "--max-pixels", "16777217", "640x480"}, 2, "", "above this model's maximum"},
		{"video without length", []string{"tokens", "--video", "640x480"}, 2, "", "--frames N or --duration"},
		{"video flag without video", []string{"tokens", "--fps", "2", "640x480"}, 2, "", "needs --video"},
		{"unknown model", []string{"tokens", "--model", "qwen3-vl-plsu", "640x480"}, 2, "", "did you mean qwen3-vl-plus"},
		{"forced family", []string{"tokens", "--model", "qwen9-vl", "--family", "qwen2.5-vl", "1024x406", "--json"}, 0, "tokens_family.jsonl", ""},
		{"no sizes", []string{"tokens"}, 2, "", "at least one size"},
		{"unknown flag", []string{"tokens", "--bogus", "1x1"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.stderr)
			}
		})
	}
}

func TestModelsCommand(t *testing.T) {
	code, out, _ := runCLI(t, "models", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 40 {
		t.Fatalf("%d models", len(lines))
	}
	for _, want := range []string{`"name":"qwen3-vl-plus"`, `"sources":{`, `"image_min_pixels":"seed 000 line 1330"`, `"currency":"USD"`} {
		if !strings.Contains(out, want) {
			t.Errorf("models --json lacks %s", want)
		}
	}
	code, out, _ = runCLI(t, "models")
	if code != 0 || !strings.Contains(out, "qwen-vl-max-2025-04-08") || !strings.Contains(out, "MODEL") {
		t.Fatalf("models table: exit %d\n%s", code, out)
	}
}

func TestIntersperse(t *testing.T) {
	cases := []struct{ in, want string }{
		{"vision tokens 1x1 --json", "vision tokens --json -- 1x1"},
		{"vision tokens 1x1 --model m 2x2", "vision tokens --model m -- 1x1 2x2"},
		{"vision tokens --model=m 1x1", "vision tokens --model=m -- 1x1"},
		{"vision tokens -- -1x1", "vision tokens -- -1x1"},
	}
	app := newAppForTest()
	for _, c := range cases {
		got := strings.Join(intersperse(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("intersperse(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func newAppForTest() *cli.App { return newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}) }
