package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const images = "../../testdata/images"
const videos = "../../testdata/video"

// jsonLines splits JSON Lines output into objects.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s: %v", sc.Text(), err)
		}
		objs = append(objs, m)
	}
	return objs
}

func num(m map[string]any, k string) int { f, _ := m[k].(float64); return int(f) }

// TestEstimateAgreesWithTokens: for each image, estimate reports the resized
// size and tokens `vision tokens` gives for its upright size, and the totals
// add up.
func TestEstimateAgreesWithTokens(t *testing.T) {
	for _, model := range []string{"qwen3-vl-plus", "qwen-vl-max", "qwen2.5-vl-7b-instruct"} {
		code, out, errOut := runCLI(t, "estimate", "--model", model, "--json", images)
		if code != exitItemsFailed { // the fixtures include corrupt files
			t.Fatalf("%s: exit %d, stderr %s", model, code, errOut)
		}
		objs := jsonLines(t, out)
		sum := objs[len(objs)-1]["summary"].(map[string]any)
		var tokens, input, ok int
		for _, o := range objs[:len(objs)-1] {
			if o["status"] != "ok" {
				// Not sent, but a planned size is still the calculator's.
				if num(o, "width") > 0 && num(o, "resized_width") > 0 {
					_, tout, _ := runCLI(t, "tokens", "--model", model, "--json", fmt.Sprintf("%dx%d", num(o, "width"), num(o, "height")))
					var want map[string]any
					json.Unmarshal([]byte(tout), &want)
					got := fmt.Sprintf("%dx%d", num(o, "resized_width"), num(o, "resized_height"))
					if w := fmt.Sprintf("%dx%d", num(want, "resized_width"), num(want, "resized_height")); got != w && !strings.Contains(tout, "becomes "+got) {
						t.Errorf("%s %s: estimate resized %s, tokens says %s", model, o["path"], got, tout)
					}
				}
				continue
			}
			ok++
			tokens += num(o, "tokens")
			input += num(o, "input_tokens")
			size := fmt.Sprintf("%dx%d", num(o, "width"), num(o, "height"))
			_, tout, _ := runCLI(t, "tokens", "--model", model, "--json", size)
			var want map[string]any
			json.Unmarshal([]byte(tout), &want)
			for _, k := range []string{"resized_width", "resized_height", "tokens", "input_tokens"} {
				if num(o, k) != num(want, k) {
					t.Errorf("%s %s: estimate %s=%d, tokens says %d", model, o["path"], k, num(o, k), num(want, k))
				}
			}
		}
		if ok < 25 || num(sum, "ok") != ok || num(sum, "tokens") != tokens || num(sum, "input_tokens") != input {
			t.Errorf("%s: summary %v, counted ok=%d tokens=%d input=%d", model, sum, ok, tokens, input)
		}
	}
}

// TestEstimateFixtureCodes: every fixture yields its expected status and
// problem codes (testdata/images/README.md).
func TestEstimateFixtureCodes(t *testing.T) {
	want := map[string]string{
		"jpeg.jpg":                     "ok",
		"orient6.jpg":                  "ok",
		"cmyk.jpg":                     "ok",
		"png16.png":                    "ok",
		"photo é 1.jpg":                "ok",
		"-dash.png":                    "ok",
		"animated.gif":                 "ok image.format_unsupported image.animated",
		"png_named.jpg":                "ok image.mislabelled",
		"bmp_5000x3000.bmp":            "ok image.format_4k",
		"over8k_8000x4500.png":         "ok image.over_8k",
		"ratio_200.png":                "ok",
		"ratio_201.png":                "failed image.aspect_ratio",
		"tall_100x20000.png":           "failed image.aspect_ratio_resized image.over_8k",
		"tiny_10x10.png":               "failed image.too_small",
		"bomb_100000x100000.png":       "failed image.decode_limit image.over_8k",
		"heic.heic":                    "ok",
		"heic_grid.heic":               "ok",
		"avif.avif":                    "ok image.format_unsupported",
		"webp_animated.webp":           "ok image.sent_original",
		"webp_animated_5000x3000.webp": "failed image.decode_unsupported",
		"truncated.jpg":                "failed file.corrupt",
		"truncated.png":                "failed file.corrupt",
		"empty.jpg":                    "failed file.empty",
		"text.png":                     "failed file.not_media",
		"README.md":                    "skipped",
	}
	_, out, _ := runCLI(t, "estimate", "--json", images)
	seen := 0
	for _, o := range jsonLines(t, out) {
		path, _ := o["path"].(string)
		w, ok := want[filepath.Base(path)]
		if !ok {
			continue
		}
		seen++
		got := o["status"].(string)
		for _, p := range o["problems"].([]any) {
			got += " " + p.(map[string]any)["code"].(string)
		}
		if got != w {
			t.Errorf("%s: %q, want %q", filepath.Base(path), got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of %d fixtures", seen, len(want))
	}
}

func TestEstimateVideosAgreeWithTokens(t *testing.T) {
	code, out, errOut := runCLI(t, "estimate", "--json", filepath.Join(videos, "cfr_h264.mp4"), filepath.Join(videos, "rotated_90.mp4"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	objs := jsonLines(t, out)
	for _, o := range objs[:len(objs)-1] {
		args := []string{"tokens", "--video", "--json", "--frames", fmt.Sprint(num(o, "source_frames")), "--source-fps", fmt.Sprint(o["source_fps"]),
			fmt.Sprintf("%dx%d", num(o, "width"), num(o, "height"))}
		if num(o, "source_frames") == 0 {
			// estimate's JSON has no source_frames: derive from duration.
			args = []string{"tokens", "--video", "--json", "--duration", fmt.Sprint(o["duration_s"]), "--source-fps", fmt.Sprint(o["source_fps"]),
				fmt.Sprintf("%dx%d", num(o, "width"), num(o, "height"))}
		}
		_, tout, terr := runCLI(t, args...)
		var want map[string]any
		if err := json.Unmarshal([]byte(tout), &want); err != nil {
			t.Fatalf("%v: %s %s", args, tout, terr)
		}
		for _, k := range []string{"resized_width", "resized_height", "frames", "tokens", "input_tokens"} {
			if num(o, k) != num(want, k) {
				t.Errorf("%s: estimate %s=%d, tokens says %d", o["path"], k, num(o, k), num(want, k))
			}
		}
		fl := o["frame_list"].(map[string]any)
		if num(fl, "tokens") != num(o, "tokens") {
			t.Errorf("%s: frame list %v tokens, video %d", o["path"], fl["tokens"], num(o, "tokens"))
		}
	}
}

func TestCheck(t *testing.T) {
	if code, out, _ := runCLI(t, "check", filepath.Join(images, "jpeg.jpg")); code != 0 || strings.TrimSpace(out) != "" && !strings.Contains(out, "1 files") {
		t.Fatalf("clean file: exit %d\n%s", code, out)
	}
	code, out, _ := runCLI(t, "check", filepath.Join(images, "ratio_201.png"), filepath.Join(images, "png_named.jpg"))
	if code != exitItemsFailed || !strings.Contains(out, "image.aspect_ratio") || !strings.Contains(out, "fix: crop or pad") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Warnings alone pass, unless --strict.
	if code, _, _ := runCLI(t, "check", filepath.Join(images, "png_named.jpg")); code != 0 {
		t.Fatalf("warning only: exit %d", code)
	}
	if code, _, _ := runCLI(t, "check", "--strict", filepath.Join(images, "png_named.jpg")); code != exitItemsFailed {
		t.Fatalf("--strict warning: exit %d", code)
	}
	code, out, _ = runCLI(t, "check", "--json", filepath.Join(images, "tiny_10x10.png"))
	if objs := jsonLines(t, out); code != exitItemsFailed || len(objs) != 2 || objs[0]["code"] != "image.too_small" || objs[0]["fix"] == "" {
		t.Fatalf("check --json: exit %d\n%s", code, out)
	}
}

// TestResizeWritesPlannedUprightImages decodes every output: exactly the
// planned size, upright (red block top-left), structure mirrored.
func TestResizeWritesPlannedUprightImages(t *testing.T) {
	out := t.TempDir()
	code, stdout, errOut := runCLI(t, "resize", "--json", images, "-o", out)
	if code != exitItemsFailed { // corrupt fixtures fail, the rest are written
		t.Fatalf("exit %d: %s", code, errOut)
	}
	written := 0
	for _, o := range jsonLines(t, stdout) {
		if o["status"] != "ok" || o["output"] == nil {
			continue
		}
		written++
		img := decodeFile(t, o["output"].(string))
		if b := img.Bounds(); b.Dx() != num(o, "resized_width") || b.Dy() != num(o, "resized_height") {
			t.Errorf("%s: %v, planned %dx%d", o["output"], b, num(o, "resized_width"), num(o, "resized_height"))
		}
		if base := filepath.Base(o["path"].(string)); strings.HasPrefix(base, "orient") {
			r, g, b, _ := img.At(img.Bounds().Dx()/10, img.Bounds().Dy()/10).RGBA()
			if r>>8 < 180 || g>>8 > 80 || b>>8 > 80 {
				t.Errorf("%s: top-left is %d,%d,%d, want red (upright)", base, r>>8, g>>8, b>>8)
			}
		}
	}
	if written < 25 {
		t.Fatalf("only %d images written", written)
	}
	if _, err := os.Stat(filepath.Join(out, "photo é 1.jpg")); err != nil {
		t.Errorf("unicode name not mirrored: %v", err)
	}
}

func TestResizeNeverOverwritesInput(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(images, "orient6.jpg"))
	in := filepath.Join(dir, "a.jpg")
	os.WriteFile(in, src, 0o644)
	code, out, _ := runCLI(t, "resize", in, "-o", dir)
	after, _ := os.ReadFile(in)
	if code != exitItemsFailed || string(after) != string(src) || !strings.Contains(out, "overwrite an input") {
		t.Fatalf("exit %d, input changed=%v\n%s", code, string(after) != string(src), out)
	}
}

// TestFramesManifestMatchesPlan: the written frames are the planned ones
// (indices as `vision tokens --video` plans them), at the planned size.
func TestFramesManifestMatchesPlan(t *testing.T) {
	out := t.TempDir()
	video := filepath.Join(videos, "cfr_h264.mp4")
	code, _, errOut := runCLI(t, "frames", video, "-o", out, "--fps", "1", "--contact-sheet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(out, "cfr_h264.mp4", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		SampleFPS     float64 `json:"sample_fps"`
		Width, Height int
		Tokens        int
		Source        struct {
			Frames        int
			FPS           float64
			Width, Height int
		}
		Plan   struct{ Indices []int }
		Frames []struct {
			Index int
			TimeS float64 `json:"time_s"`
			File  string
		}
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	_, tout, _ := runCLI(t, "tokens", "--video", "--json", "--fps", "1", "--frames", fmt.Sprint(m.Source.Frames), "--source-fps", fmt.Sprint(m.Source.FPS), fmt.Sprintf("%dx%d", m.Source.Width, m.Source.Height))
	var want map[string]any
	json.Unmarshal([]byte(tout), &want)
	if m.Width != num(want, "resized_width") || m.Height != num(want, "resized_height") || len(m.Frames) != num(want, "frames") || m.Tokens != num(want, "tokens") {
		t.Fatalf("manifest %dx%d %d frames %d tokens; tokens says %v", m.Width, m.Height, len(m.Frames), m.Tokens, want)
	}
	for i, f := range m.Frames {
		if f.Index != m.Plan.Indices[i] || abs(f.TimeS-float64(f.Index)/m.Source.FPS) > 1e-3 {
			t.Errorf("frame %d: index %d at %gs, planned %d", i, f.Index, f.TimeS, m.Plan.Indices[i])
		}
		fh, err := os.Open(filepath.Join(out, "cfr_h264.mp4", f.File))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(fh)
		fh.Close()
		if err != nil || cfg.Width != m.Width || cfg.Height != m.Height {
			t.Errorf("%s: %dx%d %v, want %dx%d", f.File, cfg.Width, cfg.Height, err, m.Width, m.Height)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "cfr_h264.mp4", "contact.jpg")); err != nil {
		t.Error(err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestEstimateFramesFolder: frames written by `vision frames` estimate, as a
// frame list, to the same tokens as the video they came from.
func TestEstimateFramesFolder(t *testing.T) {
	out := t.TempDir()
	video := filepath.Join(videos, "cfr_h264.mp4")
	if code, _, errOut := runCLI(t, "frames", video, "-o", out, "--contact-sheet"); code != 0 {
		t.Fatalf("frames: %d %s", code, errOut)
	}
	_, vout, _ := runCLI(t, "estimate", "--json", video)
	_, fout, ferr := runCLI(t, "estimate", "--as-frames", "--json", filepath.Join(out, "cfr_h264.mp4"))
	v, f := jsonLines(t, vout)[0], jsonLines(t, fout)
	if len(f) != 1 || f[0]["status"] != "ok" {
		t.Fatalf("as-frames: %s %s", fout, ferr)
	}
	for _, k := range []string{"frames", "resized_width", "resized_height", "tokens"} {
		if num(v, k) != num(f[0], k) {
			t.Errorf("%s: video %d, frame folder %d", k, num(v, k), num(f[0], k))
		}
	}
}

// TestUnknownCommandAndHelp: an unknown command is a usage error (exit 2)
// listing the commands; "vision help [COMMAND]" is --help; a usage error's
// hint names the command that was run.
func TestUnknownCommandAndHelp(t *testing.T) {
	code, out, errOut := runCLI(t, "nosuch")
	if code != exitUsage || out != "" || !strings.Contains(errOut, `unknown command "nosuch"`) || !strings.Contains(errOut, "models, tokens, estimate") {
		t.Errorf("nosuch: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "help", "tokens"); code != 0 || !strings.Contains(out, "vision tokens - ") {
		t.Errorf("help tokens: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "help"); code != 0 || !strings.Contains(out, "COMMANDS:") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "tokens", "abc"); code != exitUsage || !strings.Contains(errOut, "run 'vision tokens --help'") {
		t.Errorf("tokens abc: exit %d\n%s", code, errOut)
	}
}
