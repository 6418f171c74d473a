package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/internal/dashtest"
)

// TestRunPlanShowsTheFix: a failed item's plan line is followed by its
// fix, as vision check shows a problem's, and its journal record keeps the
// fix.
func TestRunPlanShowsTheFix(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	put(t, filepath.Join(images, "png.png"), filepath.Join(in, "ok.png"))
	putBytes(t, filepath.Join(in, "zero.jpg"), nil)
	t.Setenv("DASHSCOPE_API_KEY", e2eKey)
	t.Setenv("DASHSCOPE_BASE_URL", srv.URL)
	journal := filepath.Join(dir, "r.jsonl")
	code, stdout, stderr := runCLI(t, "run", in, "-p", "What is this?", "-o", journal, "--yes")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (an item failed)\n%s\n%s", code, stdout, stderr)
	}
	zero := filepath.Join(in, "zero.jpg")
	const fix = "the file is empty: re-export or remove it"
	if want := "vision: plan: fail " + zero + ": probe " + zero + ": media: empty file\nvision: plan:     fix: " + fix + "\n"; !strings.Contains(stderr, want) {
		t.Errorf("missing %q in\n%s", want, stderr)
	}
	for _, r := range journalRecords(t, journal) {
		switch filepath.Base(r.Path) {
		case "zero.jpg":
			if r.Status != "failed" || r.ErrorClass != "file.empty" || r.Fix != fix {
				t.Errorf("zero.jpg: %+v", r)
			}
		case "ok.png":
			if r.Status != "ok" || r.Fix != "" {
				t.Errorf("ok.png: %+v", r)
			}
		}
	}
	data, err := os.ReadFile(journal)
	if err != nil || strings.Count(string(data), `"fix":`) != 1 {
		t.Errorf("journal (fix only on the failure): %s %v", data, err)
	}
}
