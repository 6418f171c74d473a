package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/internal/dashtest"
	"github.com/qwen-vision/vision/pipeline"
	"github.com/qwen-vision/vision/tokens"
)

// planFixtures are videos whose header frame count is estimated or wrong:
// a cut MKV, a VFR MKV, an MPEG-PS and a trimmed MP4.
var planFixtures = []string{"cut.mkv", "vfr.mkv", "mpeg2.mpg", "trimmed.mp4"}

// ffprobeShim puts an ffprobe first on PATH that logs each packet scan
// (-show_entries packet=…) to a file and runs the real one; it returns the
// PATH setting and the log.
func ffprobeShim(t *testing.T) (env, log string) {
	t.Helper()
	real, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	dir := t.TempDir()
	log = filepath.Join(dir, "scans.log")
	script := "#!/bin/sh\ncase \"$*\" in *packet=*) echo scan >>" + log + ";; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "ffprobe"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), log
}

// dryRunLine is ask --dry-run's line for one video on stderr.
var dryRunLine = regexp.MustCompile(`→ (\d+)x(\d+), (\d+) tokens, sent as [^,]+, (\d+) frames at ([0-9.]+) fps`)

// sentFrames reads a request body: the frame list of its one video and
// its fps.
func sentFrames(t *testing.T, body []byte) (int, float64) {
	t.Helper()
	var req struct {
		Input struct {
			Messages []struct{ Content []map[string]any }
		}
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Input.Messages) != 1 {
		t.Fatalf("body: %v\n%s", err, body)
	}
	for _, c := range req.Input.Messages[0].Content {
		if list, ok := c["video"].([]any); ok {
			fps, _ := c["fps"].(float64)
			return len(list), fps
		}
	}
	t.Fatalf("no frame list in the body:\n%s", body)
	return 0, 0
}

// TestAskDryRunShowsWhatIsSent: for videos whose header count is not the
// real one, the dry run's frames, fps and tokens (and the total) are those
// of the body it would send, and the packets are scanned once.
func TestAskDryRunShowsWhatIsSent(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	path, log := ffprobeShim(t)
	m, err := tokens.Lookup("qwen3-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range planFixtures {
		t.Run(name, func(t *testing.T) {
			os.Remove(log)
			code, out, errOut := runBinary(t, []string{"DASHSCOPE_API_KEY=", "DASHSCOPE_BASE_URL=", path},
				"ask", "--dry-run", filepath.Join(videos, name), "-p", "hi")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			_, body, ok := strings.Cut(out, "\n\n")
			if !ok {
				t.Fatalf("no body:\n%s", out)
			}
			n, fps := sentFrames(t, []byte(body))
			g := dryRunLine.FindStringSubmatch(errOut)
			if g == nil {
				t.Fatalf("no dry-run line:\n%s", errOut)
			}
			w, _ := strconv.Atoi(g[1])
			h, _ := strconv.Atoi(g[2])
			shownTokens, _ := strconv.Atoi(g[3])
			shownFrames, _ := strconv.Atoi(g[4])
			if shownFrames != n || g[5] != strconv.FormatFloat(fps, 'g', 4, 64) {
				t.Errorf("shown %s frames at %s fps; sent %d at %g", g[4], g[5], n, fps)
			}
			if want := tokens.VideoTokens(n, h, w, m.Spec.Factor); shownTokens != want {
				t.Errorf("shown %d tokens; the %d frames sent at %dx%d are %d", shownTokens, n, w, h, want)
			}
			total := regexp.MustCompile(`; (\d+) input tokens`).FindStringSubmatch(errOut)
			if want := shownTokens + tokens.VisionMarkers + pipeline.PromptTokens("hi"); total == nil || total[1] != strconv.Itoa(want) {
				t.Errorf("total %v, want %d input tokens", total, want)
			}
			if scans, _ := os.ReadFile(log); strings.Count(string(scans), "scan") != 1 {
				t.Errorf("the packets were scanned %d times, want once", strings.Count(string(scans), "scan"))
			}
		})
	}
}

// TestRunPlansWhatIsSent: run's plan (what --max-cost gates and the
// journal records) has the tokens of the frames sent: the stand-in counts
// the frames it received.
func TestRunPlansWhatIsSent(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	for _, name := range planFixtures {
		put(t, filepath.Join(videos, name), filepath.Join(dir, "in", name))
	}
	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "-p", "hi", "-o", "results.jsonl", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var plan struct{ Plan pipeline.Plan }
	first, _, _ := strings.Cut(stdout, "\n")
	if err := json.Unmarshal([]byte(first), &plan); err != nil || len(plan.Plan.Items) != len(planFixtures) {
		t.Fatalf("plan line: %v\n%s", err, first)
	}
	planned := map[string]int{}
	for _, it := range plan.Plan.Items {
		planned[filepath.Base(it.Path)] = it.InputTokens
	}
	prompt := pipeline.PromptTokens("hi")
	for _, r := range journalRecords(t, filepath.Join(dir, "results.jsonl")) {
		name := filepath.Base(r.Path)
		if r.Status != "ok" || r.Usage == nil || r.Estimate == nil {
			t.Errorf("%s: %+v", name, r)
			continue
		}
		// The stand-in's video_tokens are the visual tokens of the frames
		// it received, plus the two markers.
		if got := r.Usage.VideoTokens + prompt; planned[name] != got || r.Estimate.InputTokens != got {
			t.Errorf("%s: planned %d input tokens, journal estimate %d; the frames sent are %d", name, planned[name], r.Estimate.InputTokens, got)
		}
	}
}

// TestAskToolMissing: without ffmpeg or without ffprobe, ask refuses the
// video the same way: exit 3, naming the tool, with the install command.
func TestAskToolMissing(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		t.Run("only "+tool, func(t *testing.T) {
			real, _ := exec.LookPath(tool)
			bin := t.TempDir()
			if err := os.Symlink(real, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"cfr_h264.mp4", "clip.mkv"} {
				code, _, errOut := runBinary(t, []string{"PATH=" + bin, "DASHSCOPE_API_KEY=" + secretKey, "DASHSCOPE_BASE_URL=http://127.0.0.1:9"},
					"ask", filepath.Join(videos, name), "-p", "hi")
				missing := map[string]string{"ffmpeg": "ffprobe", "ffprobe": "ffmpeg"}[tool]
				if code != exitItemsFailed || !strings.Contains(errOut, missing+" not found") || !strings.Contains(errOut, "vision: hint: apt-get install ffmpeg") {
					t.Errorf("%s: exit %d\n%s", name, code, errOut)
				}
			}
		})
	}
}
