package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwen-vision/vision/internal/dashtest"
	"github.com/qwen-vision/vision/pipeline"
)

// The end-to-end tests run the built binary against the strict stand-in
// (internal/dashtest), with the key in the environment as a user would.

const e2eKey = "sk-e2e-SECRET-4f9a8b7c6d5e"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// visionBin builds the binary once per test process.
func visionBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vision-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vision")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// visionCmd prepares the binary in dir against the stand-in.
func visionCmd(t *testing.T, dir, baseURL string, args ...string) *exec.Cmd {
	cmd := exec.Command(visionBin(t), args...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DASHSCOPE_") && !strings.HasPrefix(kv, "VISION_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "DASHSCOPE_BASE_URL="+baseURL, "DASHSCOPE_API_KEY="+e2eKey)
	return cmd
}

// runVision runs the binary to completion.
func runVision(t *testing.T, dir, baseURL string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := visionCmd(t, dir, baseURL, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func journalRecords(t *testing.T, path string) []pipeline.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := pipeline.ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func put(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	putBytes(t, dst, data)
}

func putBytes(t *testing.T, dst string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// distinctPNGs writes n small PNGs that differ in content.
func distinctPNGs(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for y := range 48 {
			for x := range 64 {
				img.Set(x, y, color.RGBA{uint8(i * 23), uint8(x * 3), uint8(y * 5), 255})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		putBytes(t, filepath.Join(dir, "p"+string(rune('a'+i/26))+string(rune('a'+i%26))+".png"), buf.Bytes())
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

func TestRunE2EMixedFolder(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe", "pdftoppm", "pdfinfo")
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	put(t, "../../testdata/images/png.png", filepath.Join(dir, "in", "scans", "page.png"))
	put(t, "../../testdata/images/jpeg.jpg", filepath.Join(dir, "in", "photo.jpg"))
	put(t, "../../testdata/images/orient6.jpg", filepath.Join(dir, "in", "scans", "rotated.jpg"))
	put(t, "../../testdata/video/cfr_h264.mp4", filepath.Join(dir, "in", "clip.mp4"))
	put(t, "../../testdata/pdf/two-pages.pdf", filepath.Join(dir, "in", "doc.pdf"))
	put(t, "../../testdata/images/garbage.jpg", filepath.Join(dir, "in", "corrupt.jpg"))
	putBytes(t, filepath.Join(dir, "in", "notes.txt"), []byte("not media\n"))

	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "ocr", "-o", "results.jsonl", "--json")
	if code != exitItemsFailed {
		t.Fatalf("exit %d, want 3 (the corrupt file)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	recs := journalRecords(t, filepath.Join(dir, "results.jsonl"))
	want := map[string]string{
		"in/scans/page.png": "ok", "in/photo.jpg": "ok", "in/scans/rotated.jpg": "ok", "in/clip.mp4": "ok",
		"in/doc.pdf": "ok", "in/corrupt.jpg": "failed", "in/notes.txt": "skipped",
	}
	if len(recs) != len(want) {
		t.Errorf("%d records for %d inputs", len(recs), len(want))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		p := filepath.ToSlash(r.Path)
		if seen[p] {
			t.Errorf("two records for %s", p)
		}
		seen[p] = true
		if want[p] != r.Status {
			t.Errorf("%s: status %s, want %s (%s)", p, r.Status, want[p], r.Error)
		}
		if r.ID == "" || r.SHA256 == "" || r.Settings == "" || r.Started.IsZero() || r.Finished.IsZero() {
			t.Errorf("%s: incomplete record %+v", p, r)
		}
		if r.Status != "ok" {
			continue
		}
		if r.Usage == nil || r.Estimate == nil || r.Cost == nil || r.RequestID == "" {
			t.Errorf("%s: usage/estimate/cost/request id missing: %+v", p, r)
		}
		wantOut := filepath.Join("results.md", filepath.FromSlash(p)+".md")
		if len(r.Outputs) != 1 || r.Outputs[0] != wantOut {
			t.Errorf("%s: outputs %v, want %s", p, r.Outputs, wantOut)
			continue
		}
		md, err := os.ReadFile(filepath.Join(dir, wantOut))
		if err != nil || !strings.HasPrefix(string(md), "# Page ") && !strings.HasPrefix(string(md), "<!-- page 1 -->") {
			t.Errorf("%s: %q %v", wantOut, md, err)
		}
	}
	for _, r := range recs {
		if filepath.ToSlash(r.Path) == "in/doc.pdf" {
			if r.Pages != 2 || strings.Count(r.Answer, "# Page ") != 2 || !strings.Contains(r.Answer, "<!-- page 2 -->") {
				t.Errorf("pdf pages not merged in order: %+v", r)
			}
		}
		if filepath.ToSlash(r.Path) == "in/corrupt.jpg" && (r.Stage != "probe" || r.ErrorClass != "file.corrupt") {
			t.Errorf("corrupt: stage %s class %s", r.Stage, r.ErrorClass)
		}
	}
	if n := len(srv.Requests()); n != 6 { // 3 images, 1 video, 2 PDF pages
		t.Errorf("%d requests, want 6", n)
	}
	var sum struct {
		Summary pipeline.RunSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lastLine(stdout)), &sum); err != nil {
		t.Fatalf("last line is not the summary: %v\n%s", err, stdout)
	}
	s := sum.Summary
	if s.Items != 7 || s.OK != 5 || s.Failed != 1 || s.Skipped != 1 || s.Requests != 6 || s.FailuresByClass["file.corrupt"] != 1 ||
		s.Usage.InputTokens == 0 || s.EstimatedInputTokens == 0 || s.Cost <= 0 {
		t.Errorf("summary %+v", s)
	}
	// The key never leaves the environment.
	files := []string{stdout, stderr}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			files = append(files, string(b))
		}
		return nil
	})
	for _, f := range files {
		if strings.Contains(f, e2eKey) || strings.Contains(f, "SECRET") {
			t.Fatal("the API key appears in the output or in a written file")
		}
	}
}

// TestRunE2EKillAndResume kills the process (SIGKILL) after a few records,
// resumes, and checks that the final results equal one clean run and that
// no finished item was sent again.
func TestRunE2EKillAndResume(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 10)
	journal := filepath.Join(dir, "r.jsonl")

	srv.Set(func(c *dashtest.Settings) { c.Delay = 250 * time.Millisecond })
	cmd := visionCmd(t, dir, srv.URL, "run", "in", "-p", "What is this?", "-o", "r.jsonl", "--concurrency", "2", "--quiet")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for countLines(journal) < 3 {
		select {
		case err := <-exited:
			t.Fatalf("vision exited before the kill: %v\n%s", err, errb.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("no records after 20 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Kill() // SIGKILL: no cleanup runs
	<-exited
	finished := map[string]bool{} // media keys (answer suffix) already recorded ok
	for _, r := range journalRecords(t, journal) {
		if r.Status == "ok" {
			finished[strings.TrimPrefix(r.Answer, "answer ")] = true
		}
	}
	if len(finished) < 3 || len(finished) == 10 {
		t.Fatalf("%d items finished before the kill; want some but not all", len(finished))
	}

	srv.Set(func(c *dashtest.Settings) { c.Delay = 0 })
	before := len(srv.Requests())
	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "-p", "What is this?", "-o", "r.jsonl", "--resume", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, r := range srv.Requests()[before:] {
		if finished[r.Key()[:12]] {
			t.Errorf("resume sent finished item %s again", r.Key()[:12])
		}
	}
	// One clean run for comparison.
	code, _, stderr = runVision(t, dir, srv.URL, "run", "in", "-p", "What is this?", "-o", "clean.jsonl", "--quiet")
	if code != 0 {
		t.Fatalf("clean run: exit %d\n%s", code, stderr)
	}
	got, want := finalOK(journalRecords(t, journal)), finalOK(journalRecords(t, filepath.Join(dir, "clean.jsonl")))
	if len(want) != 10 || !equalMaps(got, want) {
		t.Errorf("resumed results differ from a clean run:\n got %v\nwant %v", got, want)
	}
}

// finalOK maps id → answer of the latest record of each item that is ok.
func finalOK(recs []pipeline.Record) map[string]string {
	latest := map[string]pipeline.Record{}
	for _, r := range recs {
		latest[r.ID] = r
	}
	out := map[string]string{}
	for id, r := range latest {
		if r.Status == "ok" {
			out[id] = r.Answer
		}
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// TestRunE2EShards checks that three shard journals together equal one
// unsharded run.
func TestRunE2EShards(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 9)
	putBytes(t, filepath.Join(dir, "in", "readme.txt"), []byte("text"))
	code, _, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "describe", "-o", "all.jsonl", "--quiet")
	if code != 0 {
		t.Fatalf("unsharded: exit %d\n%s", code, stderr)
	}
	var sharded []pipeline.Record
	for i := 1; i <= 3; i++ {
		name := "shard" + string(rune('0'+i)) + ".jsonl"
		code, _, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "describe", "-o", name, "--shard", string(rune('0'+i))+"/3", "--quiet")
		if code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, stderr)
		}
		recs := journalRecords(t, filepath.Join(dir, name))
		if len(recs) == 10 {
			t.Errorf("shard %d kept everything", i)
		}
		sharded = append(sharded, recs...)
	}
	key := func(recs []pipeline.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.ID+" "+r.Path+" "+r.Status+" "+r.Settings+" "+r.Answer)
		}
		sort.Strings(out)
		return out
	}
	all := key(journalRecords(t, filepath.Join(dir, "all.jsonl")))
	got := key(sharded)
	if strings.Join(all, "\n") != strings.Join(got, "\n") || len(all) != 10 {
		t.Errorf("shards differ from one run:\n%s\n---\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}
}

// TestRunE2ERefusals: an existing journal without --resume and a plan above
// --max-cost stop before anything is sent, with exit 1 and a hint.
func TestRunE2ERefusals(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 2)
	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "describe", "-o", "r.jsonl", "--max-cost", "0.0000001")
	if code != exitError || !strings.Contains(stderr, "max-cost") || len(srv.Requests()) != 0 {
		t.Errorf("max-cost: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "describe", "-o", "r.jsonl"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = runVision(t, dir, srv.URL, "run", "in", "--preset", "describe", "-o", "r.jsonl")
	if code != exitError || !strings.Contains(stderr, "--resume") || len(journalRecords(t, filepath.Join(dir, "r.jsonl"))) != 2 {
		t.Errorf("existing journal: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runVision(t, dir, srv.URL, "run", "in", "-o", "x.jsonl")
	if code != exitUsage {
		t.Errorf("no prompt: exit %d\n%s", code, stderr)
	}
}

// TestRunE2EInterrupt sends SIGINT mid-run: requests in flight get --grace,
// every input still has exactly one record, and the exit status is 130.
func TestRunE2EInterrupt(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	srv.Set(func(c *dashtest.Settings) { c.Delay = 400 * time.Millisecond })
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 8)
	journal := filepath.Join(dir, "r.jsonl")
	cmd := visionCmd(t, dir, srv.URL, "run", "in", "-p", "What is this?", "-o", "r.jsonl", "--concurrency", "2", "--grace", "100ms", "--json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); countLines(journal) < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no record after 10 s")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want 130\n%s", err, errb.String())
	}
	recs := journalRecords(t, journal)
	ids := map[string]bool{}
	interrupted := 0
	for _, r := range recs {
		if ids[r.ID] {
			t.Errorf("two records for %s", r.Path)
		}
		ids[r.ID] = true
		if r.Stage == "interrupted" {
			interrupted++
		}
	}
	if len(ids) != 8 || interrupted == 0 {
		t.Errorf("%d records (%d interrupted) for 8 inputs", len(ids), interrupted)
	}
	if !strings.HasPrefix(lastLine(out.String()), `{"summary":`) {
		t.Errorf("no summary line after the interrupt:\n%s", out.String())
	}
}

// TestRunE2ESecondInterruptAborts: the first SIGINT starts the grace
// period (a minute here, with answers that take longer) and says that a
// second one stops at once; the second one does: the process dies of the
// signal instead of waiting out the grace. The records written before
// it are all there (the stalled requests in flight have none).
func TestRunE2ESecondInterruptAborts(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 6)
	var first atomic.Bool
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault { // the third and later never answer
			if r.N > 2 {
				first.Store(true)
				return dashtest.Stall
			}
			return dashtest.None
		}
	})
	cmd := visionCmd(t, dir, srv.URL, "run", "in", "-p", "What is this?", "-o", "r.jsonl", "--concurrency", "2", "--grace", "1m",
		"--request-timeout", "10m")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(20 * time.Second); !first.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no stalled request after 20 s")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	noticed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var all strings.Builder
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ctrl-C again stops at once") {
				noticed <- all.String()
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-noticed:
	case <-time.After(20 * time.Second):
		t.Fatal("no notice after the first SIGINT")
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != -1 || !strings.Contains(cmd.ProcessState.String(), "interrupt") {
		t.Fatalf("after the second SIGINT: %v (%v), want killed by SIGINT", err, cmd.ProcessState)
	}
	ok := 0
	for _, r := range journalRecords(t, filepath.Join(dir, "r.jsonl")) {
		switch {
		case r.Status == pipeline.StatusOK:
			ok++
		case r.Stage != pipeline.StageInterrupted: // not started when the first signal came
			t.Errorf("%s: %s at %s", r.Path, r.Status, r.Stage)
		}
	}
	if ok != 2 {
		t.Errorf("%d ok records, want the 2 answered before the signal", ok)
	}
}

// TestRunE2EKillMidPDFAndResume kills the process (SIGKILL) while a
// six-page PDF is half done: the pages answered before the kill are in the
// page journal, and the resumed run sends only the others and writes one
// ok record with every page in order.
func TestRunE2EKillMidPDFAndResume(t *testing.T) {
	needTools(t, "pdftoppm", "pdfinfo", "pdfunite")
	srv := dashtest.New(t, e2eKey)
	srv.Set(func(c *dashtest.Settings) { c.Delay = 300 * time.Millisecond })
	dir := t.TempDir()
	src, _ := filepath.Abs("../../testdata/pdf/two-pages.pdf")
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("pdfunite", src, src, src, filepath.Join(dir, "in", "six.pdf")).CombinedOutput(); err != nil {
		t.Fatalf("pdfunite: %v\n%s", err, out)
	}
	pages := filepath.Join(dir, "r.jsonl.pages")
	cmd := visionCmd(t, dir, srv.URL, "run", "in", "--preset", "ocr", "-o", "r.jsonl", "--concurrency", "1", "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); countLines(pages) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no pages kept after 30 s")
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	kept := countLines(pages)
	// The pages kept are the ones whose answers came back before the kill:
	// usually the first ones, but under load a page may finish out of order.
	keptPages := map[int]bool{}
	if data, err := os.ReadFile(pages); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var pr struct {
				Page int `json:"page"`
			}
			if json.Unmarshal([]byte(line), &pr) == nil {
				keptPages[pr.Page] = true
			}
		}
	}
	if n := countLines(filepath.Join(dir, "r.jsonl")); n != 0 || kept >= 6 || len(keptPages) != kept {
		t.Fatalf("before the resume: %d records, %d pages kept", n, kept)
	}
	srv.Set(func(c *dashtest.Settings) { c.Delay = 0 })
	before := len(srv.Requests())
	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "ocr", "-o", "r.jsonl", "--resume", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if sent := len(srv.Requests()) - before; sent != 6-kept {
		t.Errorf("resume sent %d requests; %d of 6 pages were kept", sent, kept)
	}
	recs := journalRecords(t, filepath.Join(dir, "r.jsonl"))
	if len(recs) != 1 || recs[0].Status != "ok" || recs[0].Pages != 6 || len(recs[0].PageResults) != 6 {
		t.Fatalf("records %+v", recs)
	}
	last := -1
	for p := 1; p <= 6; p++ {
		i := strings.Index(recs[0].Answer, fmt.Sprintf("<!-- page %d -->", p))
		if i <= last {
			t.Errorf("page %d missing or out of order", p)
		}
		last = i
		if reused := recs[0].PageResults[p-1].Reused; reused != keptPages[p] {
			t.Errorf("page %d reused %v; pages kept: %v", p, reused, keptPages)
		}
	}
}

// TestRunE2EOutputsOutsideTheWorkingDirectory is the collision of two
// roots' same-named files (the audit's /x/a/scans /x/b/scans).
func TestRunE2EOutputsOutsideTheWorkingDirectory(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	top := t.TempDir()
	distinctPNGs(t, filepath.Join(top, "a", "scans"), 1)
	distinctPNGs(t, filepath.Join(top, "b", "scans"), 2)
	os.Remove(filepath.Join(top, "b", "scans", "paa.png"))
	os.Rename(filepath.Join(top, "b", "scans", "pab.png"), filepath.Join(top, "b", "scans", "paa.png")) // same name, other content
	work := filepath.Join(top, "work")
	os.MkdirAll(work, 0o755)
	code, _, stderr := runVision(t, work, srv.URL, "run", filepath.Join(top, "a", "scans"), filepath.Join(top, "b", "scans"), "--preset", "ocr", "-o", "r.jsonl", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	answers := map[string]bool{}
	for _, r := range journalRecords(t, filepath.Join(work, "r.jsonl")) {
		md, err := os.ReadFile(filepath.Join(work, r.Outputs[0]))
		if err != nil || string(md) != r.Answer {
			t.Errorf("%s → %v: %q %v", r.Path, r.Outputs, md, err)
		}
		answers[string(md)] = true
	}
	if len(answers) != 2 {
		t.Errorf("two inputs, %d distinct outputs", len(answers))
	}
	for _, p := range []string{"r.md/a/scans/paa.png.md", "r.md/b/scans/paa.png.md"} {
		if _, err := os.Stat(filepath.Join(work, p)); err != nil {
			t.Error(err)
		}
	}
}

// TestRunE2EVideoEventsJournalNamedJSON: -o events.json with the .json
// outputs of video-events writes them to events.json.d/, not into the
// journal, with start_time/end_time as HH:mm:ss and exact seconds beside.
func TestRunE2EVideoEventsJournalNamedJSON(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	put(t, "../../testdata/video/cfr_h264.mp4", filepath.Join(dir, "in", "clip.mp4"))
	code, stdout, stderr := runVision(t, dir, srv.URL, "run", "in", "--preset", "video-events", "-o", "events.json", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	recs := journalRecords(t, filepath.Join(dir, "events.json"))
	if len(recs) != 1 || recs[0].Status != "ok" || len(recs[0].Outputs) != 1 || recs[0].Outputs[0] != filepath.Join("events.json.d", "in", "clip.mp4.json") {
		t.Fatalf("records %+v", recs)
	}
	var out struct {
		Events []map[string]any `json:"events"`
	}
	data, err := os.ReadFile(filepath.Join(dir, recs[0].Outputs[0]))
	if err != nil || json.Unmarshal(data, &out) != nil || len(out.Events) != 1 {
		t.Fatalf("events file %s: %v", data, err)
	}
	e := out.Events[0]
	for _, k := range []string{"start_time", "end_time"} {
		if s, _ := e[k].(string); len(s) != 8 || s[2] != ':' || s[5] != ':' {
			t.Errorf("%s = %q, want HH:mm:ss", k, s)
		}
	}
	if _, ok := e["start_s"].(float64); !ok {
		t.Errorf("no exact start_s: %v", e)
	}
}
