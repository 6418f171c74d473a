package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/dashtest"
)

// latestByPath is the last record of each path.
func latestByPath(recs []Record) map[string]Record {
	out := map[string]Record{}
	for _, r := range Latest(recs) {
		out[r.Path] = r
	}
	return out
}

// TestRunPDFKeepsFinishedPages: a 500 on page 2 fails the PDF, but page 1
// (answered and billed) is kept in the page journal and in the record's
// page_results; --resume sends page 2 only and ends with one ok record,
// pages merged in order. Pages are prepared in parallel, so either may be
// sent first: the fault is keyed on the page itself (the test PDF's
// page 1 renders at 2:1, page 2 at about 1.2:1), the first time it arrives.
func TestRunPDFKeepsFinishedPages(t *testing.T) {
	needTool(t, "pdftoppm")
	needTool(t, "pdfinfo")
	srv := dashtest.New(t, testKey)
	var failed atomic.Bool
	isPage2 := func(r dashtest.Request) bool { return 2*r.Width < 3*r.Height } // narrower than 1.5:1
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault {
			if isPage2(r) && failed.CompareAndSwap(false, true) {
				return dashtest.ServerError
			}
			return dashtest.None
		}
	})
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	copyFile(t, "../testdata/pdf/two-pages.pdf", filepath.Join(in, "doc.pdf"))
	journal := filepath.Join(dir, "r.jsonl")
	ro := RunOptions{Journal: journal, Preset: "ocr", Concurrency: 1}
	sum, err := Run(context.Background(), testConfig(t), ro, testClient(t, srv.URL, dashscope.WithMaxRetries(0)), []string{in}, nil, Hooks{})
	if err != nil || sum.Failed != 1 {
		t.Fatalf("first run: %+v, %v", sum, err)
	}
	recs := loadRecords(t, journal)
	if len(recs) != 1 {
		t.Fatalf("%d records for one PDF", len(recs))
	}
	r := recs[0]
	if r.Status != StatusFailed || !strings.HasPrefix(r.Error, "page 2:") || r.Pages != 1 || len(r.PageResults) != 1 ||
		r.PageResults[0].Page != 1 || r.PageResults[0].Usage == nil || r.Usage == nil || r.Usage.InputTokens == 0 {
		t.Errorf("failed record: %+v", r)
	}
	pages, err := readPages(PagesPath(journal))
	if err != nil || len(pages) != 1 || pages[0].Page != 1 || !strings.HasPrefix(pages[0].Answer, "# Page ") {
		t.Fatalf("page journal: %+v, %v", pages, err)
	}
	first := srv.Requests()
	if len(first) != 2 || isPage2(first[0]) == isPage2(first[1]) {
		t.Fatalf("first run sent %+v, want each page once", first)
	}
	page1 := first[0].Key()
	if isPage2(first[0]) {
		page1 = first[1].Key()
	}

	ro.Resume = true
	var plan Plan
	sum, err = Run(context.Background(), testConfig(t), ro, testClient(t, srv.URL), []string{in}, nil, Hooks{Plan: func(p Plan) { plan = p }})
	if err != nil || sum.OK != 1 {
		t.Fatalf("resumed run: %+v, %v", sum, err)
	}
	reqs := srv.Requests()[2:]
	if plan.Requests != 1 || len(reqs) != 1 || reqs[0].Key() == page1 {
		t.Fatalf("resume planned %d and sent %d requests (page 1 again: %v)", plan.Requests, len(reqs), len(reqs) > 0 && reqs[0].Key() == page1)
	}
	recs = loadRecords(t, journal)
	last := recs[len(recs)-1]
	if len(recs) != 2 || last.Status != StatusOK || last.Pages != 2 || len(last.PageResults) != 2 ||
		!last.PageResults[0].Reused || last.PageResults[1].Reused || last.PageResults[0].RequestID != r.PageResults[0].RequestID {
		t.Fatalf("resumed record: %+v", last)
	}
	want := mergePages([]string{pages[0].Answer, dashtest.DefaultAnswer(reqs[0])})
	if last.Answer != want || strings.Index(last.Answer, "<!-- page 1 -->") > strings.Index(last.Answer, "<!-- page 2 -->") {
		t.Errorf("answer:\n%s\nwant:\n%s", last.Answer, want)
	}
	if md, err := os.ReadFile(last.Outputs[0]); err != nil || string(md) != want {
		t.Errorf("output %s: %q %v", last.Outputs[0], md, err)
	}
	if sum.Requests != 1 || sum.Usage.InputTokens >= last.Usage.InputTokens {
		t.Errorf("this run billed %+v; the record's usage %+v counts both pages", sum.Usage, last.Usage)
	}
}

// TestRunPDFInterruptedKeepsPages: Ctrl-C while page 2 of a PDF is in
// flight keeps page 1; the resumed run sends page 2 only.
func TestRunPDFInterruptedKeepsPages(t *testing.T) {
	needTool(t, "pdftoppm")
	needTool(t, "pdfinfo")
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) { c.Delay = 500 * time.Millisecond })
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	copyFile(t, "../testdata/pdf/two-pages.pdf", filepath.Join(in, "doc.pdf"))
	journal := filepath.Join(dir, "r.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv.Set(func(c *dashtest.Settings) {
		c.OnRequest = func(r dashtest.Request) {
			if r.N == 2 {
				cancel() // page 2 is on the wire; the grace period is shorter than its answer
			}
		}
	})
	ro := RunOptions{Journal: journal, Preset: "ocr", Concurrency: 1, Grace: 50 * time.Millisecond}
	if _, err := Run(ctx, testConfig(t), ro, testClient(t, srv.URL), []string{in}, nil, Hooks{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	recs := loadRecords(t, journal)
	if len(recs) != 1 || recs[0].Status != StatusFailed || recs[0].Stage != StageInterrupted || recs[0].Pages != 1 {
		t.Fatalf("interrupted record: %+v", recs)
	}
	srv.Set(func(c *dashtest.Settings) { c.Delay, c.OnRequest = 0, nil })
	ro.Resume = true
	sum, err := Run(context.Background(), testConfig(t), ro, testClient(t, srv.URL), []string{in}, nil, Hooks{})
	if err != nil || sum.OK != 1 || sum.Requests != 1 || len(srv.Requests()) != 3 {
		t.Fatalf("resume: %+v, %v, %d requests in all", sum, err, len(srv.Requests()))
	}
	if last := loadRecords(t, journal)[1]; last.Pages != 2 || !strings.Contains(last.Answer, "<!-- page 2 -->") {
		t.Errorf("resumed record %+v", last)
	}
}

// TestRunResumeDoesNotRepeatPlanRecords: a skipped and a failed input are
// recorded once, not again on every --resume; a retried item gets a newer
// record, and the last record per id wins.
func TestRunResumeDoesNotRepeatPlanRecords(t *testing.T) {
	f := newFixture(t, 2)
	copyFile(t, "../testdata/images/garbage.jpg", filepath.Join(f.in, "corrupt.jpg"))
	if err := os.WriteFile(filepath.Join(f.in, "notes.txt"), []byte("text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	f.srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(dashtest.Request) dashtest.Fault {
			if n.Add(1) == 1 {
				return dashtest.ServerError
			}
			return dashtest.None
		}
	})
	client := testClient(t, f.srv.URL, dashscope.WithMaxRetries(0))
	ro := RunOptions{Journal: f.journal, Concurrency: 1}
	if _, err := Run(context.Background(), f.cfg, ro, client, []string{f.in}, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if got := len(loadRecords(t, f.journal)); got != 4 {
		t.Fatalf("%d records after the first run, want 4", got)
	}
	ro.Resume = true
	for i := range 2 {
		var done []Record
		sum, err := Run(context.Background(), f.cfg, ro, client, []string{f.in}, nil, Hooks{Done: func(r Record) { done = append(done, r) }})
		if err != nil || sum.Skipped != 1 || sum.Failed != 1 || len(done) != 2+1-i {
			t.Fatalf("resume %d: %+v, %v, %d records seen", i+1, sum, err, len(done))
		}
	}
	recs := loadRecords(t, f.journal)
	if len(recs) != 5 { // 4, plus the retried image's newer record
		t.Errorf("%d records after two resumes, want 5", len(recs))
	}
	for p, r := range latestByPath(recs) {
		want := map[string]string{"corrupt.jpg": StatusFailed, "notes.txt": StatusSkipped}[filepath.Base(p)]
		if want == "" {
			want = StatusOK
		}
		if r.Status != want {
			t.Errorf("%s: latest record %s, want %s", p, r.Status, want)
		}
	}
}

// TestRunOutputsDoNotCollide: the same relative path under two roots
// outside the working directory gives two outputs, each with its answer.
func TestRunOutputsDoNotCollide(t *testing.T) {
	srv := dashtest.New(t, testKey)
	top := t.TempDir()
	var roots []string
	for _, name := range []string{"a", "b"} {
		root := filepath.Join(top, name, "scans")
		writePNGs(t, root, 2)
		roots = append(roots, root)
	}
	// Different content under the same name.
	copyFile(t, filepath.Join(roots[0], "img-001.png"), filepath.Join(roots[1], "img-000.png"))
	work := filepath.Join(top, "run")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	var plan Plan
	sum, err := Run(context.Background(), testConfig(t), RunOptions{Journal: "r.jsonl", Preset: "ocr"}, testClient(t, srv.URL),
		roots, nil, Hooks{Plan: func(p Plan) { plan = p }})
	if err != nil || sum.OK != 4 {
		t.Fatalf("%+v %v", sum, err)
	}
	seen := map[string]bool{}
	for _, it := range plan.Items {
		if it.Output == "" || seen[it.Output] {
			t.Errorf("%s: output %q (planned twice: %v)", it.Path, it.Output, seen[it.Output])
		}
		seen[it.Output] = true
	}
	recs := loadRecords(t, "r.jsonl")
	for _, r := range recs {
		rel, _ := filepath.Rel(top, r.Path)
		if want := filepath.Join("r.md", rel+".md"); len(r.Outputs) != 1 || r.Outputs[0] != want {
			t.Errorf("%s: outputs %v, want %s", r.Path, r.Outputs, want)
			continue
		}
		if md, err := os.ReadFile(r.Outputs[0]); err != nil || string(md) != string(markdownOutput(r.Answer)) {
			t.Errorf("%s: %q (%v), answer %q", r.Outputs[0], md, err, r.Answer)
		}
	}
}

func TestOutputPathsDisambiguate(t *testing.T) {
	t.Chdir(t.TempDir())
	in := []Input{{Path: "x/A.png"}, {Path: "x/a.png"}, {Path: "x/b"}, {Path: "x/b.png"}, {Path: "r.md/x/c.png"}, {Path: "bad", Err: errors.New("x")}}
	// Case-insensitive clashes and a reserved path (the journal) get "~2".
	got := outputPaths(in, "r.md", ".md", outputClaims{}, filepath.Join("r.md", "x", "b.md"))
	want := map[string]string{
		"x/A.png": filepath.Join("r.md", "x", "A.png.md"), "x/a.png": filepath.Join("r.md", "x", "a.png~2.md"),
		"x/b": filepath.Join("r.md", "x", "b~2.md"), "x/b.png": filepath.Join("r.md", "x", "b.png.md"),
		"r.md/x/c.png": filepath.Join("r.md", "r.md", "x", "c.png.md"),
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s → %s, want %s", p, got[p], w)
		}
	}
	// An output never lies below another output (a file), nor is one a
	// folder of another.
	got = outputPaths([]Input{{Path: "d.md"}, {Path: "d.md.md/e"}, {Path: "f/g"}, {Path: "f.md/h"}, {Path: "f"}}, "o", ".md", outputClaims{})
	for p, w := range map[string]string{"d.md": "o/d.md.md", "d.md.md/e": "o/d.md.md~2/e.md", "f/g": "o/f/g.md", "f.md/h": "o/f.md/h.md", "f": "o/f~2.md"} {
		if got[p] != filepath.FromSlash(w) {
			t.Errorf("%s → %s, want %s", p, got[p], w)
		}
	}
	if outputPaths(in, "", ".md", outputClaims{}) != nil || outputPaths(in, "r.md", "", outputClaims{}) != nil {
		t.Error("outputs without a folder or an extension")
	}
}

// TestRunOutputFolderNotTheJournal: the default folder for -o events.json
// with .json outputs is events.json.d, not the journal; a --out-dir that is
// the journal, or cannot be created, stops the run before anything is sent.
func TestRunOutputFolderNotTheJournal(t *testing.T) {
	f := newFixture(t, 1)
	t.Chdir(f.dir)
	ro := RunOptions{Journal: "r.md", Preset: "ocr"}.withDefaults(f.cfg)
	if ro.OutDir != "r.md.d" {
		t.Errorf("default output folder for r.md: %s", ro.OutDir)
	}
	if err := os.WriteFile("afile", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{"r2.jsonl", "r2.jsonl/sub", "afile/sub", "r2.jsonl.pages"} {
		_, err := Run(context.Background(), f.cfg, RunOptions{Journal: "r2.jsonl", Preset: "ocr", OutDir: out},
			testClient(t, f.srv.URL), []string{"in"}, nil, Hooks{})
		if err == nil || !strings.Contains(err.Error(), "output folder") || len(f.srv.Requests()) != 0 {
			t.Errorf("--out-dir %s: %v, %d requests", out, err, len(f.srv.Requests()))
		}
	}
	sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: "r.md", Preset: "ocr"}, testClient(t, f.srv.URL), []string{"in"}, nil, Hooks{})
	if err != nil || sum.OK != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	if recs := loadRecords(t, "r.md"); len(recs) != 1 || len(recs[0].Outputs) != 1 || !strings.HasPrefix(recs[0].Outputs[0], "r.md.d"+string(filepath.Separator)) {
		t.Errorf("records %+v", recs)
	}
}

// TestRunRebuildsOutputsFromStoredAnswers: an answer whose output cannot
// be written is kept in its failed record; --resume writes the output
// from it and sends nothing.
func TestRunRebuildsOutputsFromStoredAnswers(t *testing.T) {
	f := newFixture(t, 2)
	t.Chdir(f.dir)
	// A file where the outputs' folder (r.md/in/) must go.
	if err := os.MkdirAll("r.md", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("r.md", "in"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := RunOptions{Journal: "r.jsonl", Preset: "ocr"}
	sum, err := Run(context.Background(), f.cfg, ro, testClient(t, f.srv.URL), []string{"in"}, nil, Hooks{})
	if err != nil || sum.Failed != 2 || sum.FailuresByClass["output"] != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	first := loadRecords(t, "r.jsonl")
	for _, r := range first {
		if r.Stage != StageOutput || !strings.HasPrefix(r.Answer, "answer ") {
			t.Errorf("%s: stage %s, answer %q", r.Path, r.Stage, r.Answer)
		}
	}
	os.Remove(filepath.Join("r.md", "in"))
	ro.Resume = true
	var plan Plan
	sum, err = Run(context.Background(), f.cfg, ro, testClient(t, f.srv.URL), []string{"in"}, nil, Hooks{Plan: func(p Plan) { plan = p }})
	if err != nil || sum.OK != 2 || plan.Rebuild != 2 || plan.Requests != 0 || len(f.srv.Requests()) != 2 || sum.Usage.InputTokens != 0 {
		t.Fatalf("resume: %+v, plan %+v, %d requests in all, %v", sum, plan, len(f.srv.Requests()), err)
	}
	for _, r := range loadRecords(t, "r.jsonl")[2:] {
		prev := latestByPath(first)[r.Path]
		if r.Status != StatusOK || !r.Reused || r.Answer != prev.Answer || r.RequestID != prev.RequestID || len(r.Outputs) != 1 {
			t.Errorf("rebuilt record %+v", r)
			continue
		}
		if md, err := os.ReadFile(r.Outputs[0]); err != nil || string(md) != string(markdownOutput(r.Answer)) {
			t.Errorf("%s: %q %v", r.Outputs[0], md, err)
		}
	}
}

// TestRunJournalLocked: a second run on a journal in use stops before
// sending, with a clear error.
func TestRunJournalLocked(t *testing.T) {
	f := newFixture(t, 1)
	j, err := OpenJournal(f.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, resume := range []bool{false, true} {
		_, err = Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, Resume: resume}, testClient(t, f.srv.URL), []string{f.in}, nil, Hooks{})
		if !errors.Is(err, ErrJournalLocked) || !strings.Contains(err.Error(), "another") || len(f.srv.Requests()) != 0 {
			t.Errorf("resume %v: %v, %d requests", resume, err, len(f.srv.Requests()))
		}
	}
	j.Close()
	if _, err := Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, Resume: true}, testClient(t, f.srv.URL), []string{f.in}, nil, Hooks{}); err != nil {
		t.Errorf("after the lock is released: %v", err)
	}
}

// TestRunNewJournalLockedBeforePlanning: a second run on the same new -o,
// started while the first is at its confirmation (planned, nothing sent),
// stops at once with ErrJournalLocked, with or without --resume: the new
// journal is locked before planning, not after the prompt. The first run
// then sends each item once: 5 records, 5 requests.
func TestRunNewJournalLockedBeforePlanning(t *testing.T) {
	for _, resume := range []bool{false, true} {
		f := newFixture(t, 5)
		var errB error
		var planB bool
		confirmA := func(Plan) (bool, error) {
			_, errB = Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, Resume: resume}, testClient(t, f.srv.URL),
				[]string{f.in}, nil, Hooks{Plan: func(Plan) { planB = true }})
			return true, nil
		}
		sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: f.journal, Resume: resume}, testClient(t, f.srv.URL),
			[]string{f.in}, nil, Hooks{Confirm: confirmA})
		if err != nil || sum.OK != 5 {
			t.Fatalf("resume %v: run A: %+v %v", resume, sum, err)
		}
		if !errors.Is(errB, ErrJournalLocked) || planB {
			t.Errorf("resume %v: run B on the same new journal: %v (planned: %v), want ErrJournalLocked before planning", resume, errB, planB)
		}
		if recs, reqs := len(loadRecords(t, f.journal)), len(f.srv.Requests()); recs != 5 || reqs != 5 {
			t.Errorf("resume %v: %d records and %d requests for 5 items", resume, recs, reqs)
		}
	}
}

// TestRunJournalFolder: -o in a folder that does not exist creates it
// before planning; a run that sends nothing (declined) leaves neither the
// journal nor the folder; a folder that cannot be made stops the run
// before planning, naming the results file.
func TestRunJournalFolder(t *testing.T) {
	f := newFixture(t, 1)
	t.Chdir(f.dir)
	declined := false
	_, err := Run(context.Background(), f.cfg, RunOptions{Journal: "w1/w2/r.jsonl"}, testClient(t, f.srv.URL), []string{"in"}, nil,
		Hooks{Confirm: func(Plan) (bool, error) {
			_, serr := os.Stat("w1/w2/r.jsonl") // created and locked while the user decides
			declined = serr == nil
			return false, nil
		}})
	if !errors.Is(err, ErrDeclined) || !declined {
		t.Fatalf("declined: %v, journal there at the prompt: %v", err, declined)
	}
	if _, err := os.Stat("w1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a declined run left w1/: %v", err)
	}
	sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: "w1/w2/r.jsonl"}, testClient(t, f.srv.URL), []string{"in"}, nil, Hooks{})
	if err != nil || sum.OK != 1 || len(loadRecords(t, "w1/w2/r.jsonl")) != 1 {
		t.Fatalf("new folder: %+v %v", sum, err)
	}
	if err := os.WriteFile("afile", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	planned := false
	_, err = Run(context.Background(), f.cfg, RunOptions{Journal: "afile/r.jsonl"}, testClient(t, f.srv.URL), []string{"in"}, nil,
		Hooks{Plan: func(Plan) { planned = true }})
	if err == nil || planned || !strings.Contains(err.Error(), "afile/r.jsonl") || !strings.Contains(err.Error(), "folder") {
		t.Errorf("folder below a file: %v (planned: %v)", err, planned)
	}
}

// TestRunResumeKeepsOtherItemsOutputs: day2's scans, added to day1's
// journal by a resumed run, would take day1's output names (both are
// OUT/img-000.png.md, relative to their own folder): the names day1's
// records claim are kept for day1, day2's items get "~2", and a third run
// over both, re-sending all (a new prompt), writes each item to the
// output it had.
func TestRunResumeKeepsOtherItemsOutputs(t *testing.T) {
	srv := dashtest.New(t, testKey)
	top := t.TempDir()
	day1, day2 := filepath.Join(top, "day1"), filepath.Join(top, "day2")
	writePNGs(t, day1, 2)
	writePNGs(t, day2, 3)
	copyFile(t, filepath.Join(day1, "img-001.png"), filepath.Join(day2, "img-000.png")) // other content, same name
	work := filepath.Join(top, "run")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	cfg := testConfig(t)
	run := func(resume bool, args ...string) {
		t.Helper()
		if _, err := Run(context.Background(), cfg, RunOptions{Journal: "all.jsonl", Preset: "ocr", Resume: resume}, testClient(t, srv.URL), args, nil, Hooks{}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) map[string]string {
		t.Helper()
		owner := map[string]string{}
		latest := latestByPath(loadRecords(t, "all.jsonl"))
		for _, r := range latest {
			if len(r.Outputs) != 1 {
				t.Fatalf("%s: %s: outputs %v", when, r.Path, r.Outputs)
			}
			if o, dup := owner[r.Outputs[0]]; dup {
				t.Errorf("%s: %s and %s both claim %s", when, o, r.Path, r.Outputs[0])
			}
			owner[r.Outputs[0]] = r.Path
			if md, err := os.ReadFile(r.Outputs[0]); err != nil || string(md) != string(markdownOutput(r.Answer)) {
				t.Errorf("%s: %s holds %q (%v), not the answer for %s", when, r.Outputs[0], md, err, r.Path)
			}
		}
		out := map[string]string{}
		for o, p := range owner {
			out[p] = o
		}
		return out
	}
	run(false, day1)
	first := check("day1")
	if got := first[filepath.Join(day1, "img-000.png")]; got != filepath.Join("all.md", "img-000.png.md") {
		t.Fatalf("day1 output %s", got)
	}
	run(true, day2)
	second := check("day2 added")
	if got := second[filepath.Join(day2, "img-000.png")]; got != filepath.Join("all.md", "img-000.png~2.md") {
		t.Errorf("day2/img-000.png → %s, want all.md/img-000.png~2.md", got)
	}
	cfg.Prompt = "qwenvl markdown, again"
	run(true, day1, day2)
	third := check("both again")
	for p, o := range second {
		if third[p] != o {
			t.Errorf("%s moved from %s to %s", p, o, third[p])
		}
	}
	if n := len(srv.Requests()); n != 2+3+5 {
		t.Errorf("%d requests, want 10", n)
	}
}

// TestRunRedactsEveryRecord: every string of every record and page record
// goes through the run's Redactor before it reaches the journal, the page
// journal or the Done hook (paths, answers, errors).
func TestRunRedactsEveryRecord(t *testing.T) {
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) { c.Answer = func(dashtest.Request) string { return "answer SECRET" } })
	dir := t.TempDir()
	in := filepath.Join(dir, "SECRET-in")
	writePNGs(t, in, 2)
	copyFile(t, "../testdata/images/garbage.jpg", filepath.Join(in, "SECRET-broken.jpg"))
	if _, err := exec.LookPath("pdftoppm"); err == nil {
		copyFile(t, "../testdata/pdf/two-pages.pdf", filepath.Join(in, "doc.pdf"))
	}
	journal := filepath.Join(dir, "r.jsonl")
	seams := runSeams{redact: func(s string) string { return strings.ReplaceAll(s, "SECRET", "[redacted]") }}
	var done []Record
	sum, err := run(context.Background(), testConfig(t), RunOptions{Journal: journal, Preset: "ocr"}, testClient(t, srv.URL),
		[]string{in}, nil, Hooks{Done: func(r Record) { done = append(done, r) }}, seams)
	if err != nil || sum.OK < 2 || sum.Failed != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	for _, f := range []string{journal, PagesPath(journal)} {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "SECRET") {
			t.Errorf("%s holds the secret:\n%s", f, data)
		}
	}
	if len(done) != sum.OK+sum.Failed {
		t.Errorf("%d records reported", len(done))
	}
	for _, r := range done {
		if b, _ := json.Marshal(r); strings.Contains(string(b), "SECRET") || !strings.Contains(string(b), "[redacted]") {
			t.Errorf("Done got %s", b)
		}
	}
}
