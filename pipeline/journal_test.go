package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func journalRecord(id string, st string) Record {
	t0 := time.Date(2026, 7, 1, 9, 30, 0, 250_000_000, time.UTC)
	cost := 0.0012
	return Record{
		ID: id, Path: "scans/" + id + ".png", SHA256: "sha-" + id, Settings: "set1", Status: st,
		Answer:   "# Title\n\ntext with \"quotes\" and\nnewlines",
		Usage:    &RecordUsage{InputTokens: 1200, OutputTokens: 80, ImageTokens: 1196},
		Estimate: &RecordEstimate{InputTokens: 1210, OutputTokens: 100, Cost: 0.0013},
		Cost:     &cost, Currency: "USD", RequestID: "req-" + id,
		Started: Stamp{t0}, Finished: Stamp{t0.Add(1500 * time.Millisecond)},
	}
}

func openTempJournal(t *testing.T, content string) (string, *Journal) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if content != "" {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return path, j
}

func recordLine(t *testing.T, r Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func readJournalFile(t *testing.T, path string) []Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("journal does not end with a newline: %q", b[max(0, len(b)-20):])
	}
	recs, err := ReadJournal(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ReadJournal: %v", err)
	}
	return recs
}

func TestJournalAppendReopenResume(t *testing.T) {
	path, j := openTempJournal(t, "")
	ok, failed := journalRecord("a", StatusOK), journalRecord("b", StatusFailed)
	failed.Error, failed.ErrorClass, failed.Stage = "dashscope: 500", "server", "submit"
	for _, r := range []Record{ok, failed} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if !j.Done("a", "sha-a", "set1") {
		t.Error("Done(a) false right after Append")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j2, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if j2.Loaded() != 2 {
		t.Errorf("Loaded = %d, want 2", j2.Loaded())
	}
	cases := []struct {
		id, sha, set string
		want         bool
	}{
		{"a", "sha-a", "set1", true},
		{"a", "sha-a", "set2", false},  // settings changed: redo
		{"a", "sha-a2", "set1", false}, // content changed: redo
		{"b", "sha-b", "set1", false},  // failed: retry
		{"c", "sha-c", "set1", false},  // unknown
	}
	for _, c := range cases {
		if got := j2.Done(c.id, c.sha, c.set); got != c.want {
			t.Errorf("Done(%s, %s, %s) = %v, want %v", c.id, c.sha, c.set, got, c.want)
		}
	}
	got, _ := j2.Lookup("a", "sha-a", "set1")
	if got.Answer != ok.Answer || *got.Cost != *ok.Cost || !got.Started.Equal(ok.Started.Time) {
		t.Errorf("Lookup round trip: got %+v", got)
	}
	recs := readJournalFile(t, path)
	if len(recs) != 2 || recs[1].Error != "dashscope: 500" || recs[1].Stage != "submit" {
		t.Errorf("records = %+v", recs)
	}
}

func TestJournalRecordSchema(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(recordLine(t, Record{ID: "x", Status: StatusSkipped})), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "path", "sha256", "settings", "status", "answer", "usage", "estimate", "cost",
		"currency", "error", "error_class", "stage", "request_id", "started", "finished"}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %v\nwant %v", keys, want)
	}
	for _, k := range []string{"usage", "estimate", "cost", "started", "finished"} {
		if m[k] != nil {
			t.Errorf("%s = %v, want null when unknown", k, m[k])
		}
	}
	l := recordLine(t, journalRecord("a", StatusOK))
	for _, s := range []string{`"started":"2026-07-01T09:30:00.250Z"`, `"finished":"2026-07-01T09:30:01.750Z"`, `"cost":0.0012`} {
		if !strings.Contains(l, s) {
			t.Errorf("line lacks %s:\n%s", s, l)
		}
	}
	r := journalRecord("p", StatusOK)
	r.Outputs, r.Pages = []string{"out/p.md"}, 3
	r.SettingsDetail = json.RawMessage(`{"model":"qwen3-vl-plus"}`)
	l = recordLine(t, r)
	for _, s := range []string{`"outputs":["out/p.md"]`, `"pages":3`, `"settings_detail":{"model":"qwen3-vl-plus"}`} {
		if !strings.Contains(l, s) {
			t.Errorf("line lacks %s:\n%s", s, l)
		}
	}
}

func TestJournalTornLastLine(t *testing.T) {
	good := recordLine(t, journalRecord("a", StatusOK)) + recordLine(t, journalRecord("b", StatusFailed))
	full := recordLine(t, journalRecord("c", StatusOK))
	for _, cut := range []int{1, 10, len(full) / 2, len(full) - 2} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path, j := openTempJournal(t, good+full[:cut])
			if j.Loaded() != 2 {
				t.Errorf("Loaded = %d, want 2", j.Loaded())
			}
			if j.Done("c", "sha-c", "set1") {
				t.Error("torn record c counted as done")
			}
			b, _ := os.ReadFile(path)
			if string(b) != good {
				t.Errorf("after open, file = %q\nwant the two complete lines", b)
			}
			if err := j.Append(journalRecord("d", StatusOK)); err != nil {
				t.Fatal(err)
			}
			recs := readJournalFile(t, path)
			if len(recs) != 3 || recs[0].ID != "a" || recs[1].ID != "b" || recs[2].ID != "d" {
				t.Errorf("records after append = %v", recordIDs(recs))
			}
		})
	}
}

func TestJournalWholeLastLineWithoutNewline(t *testing.T) {
	a, b := recordLine(t, journalRecord("a", StatusOK)), recordLine(t, journalRecord("b", StatusOK))
	path, j := openTempJournal(t, a+strings.TrimSuffix(b, "\n"))
	if !j.Done("b", "sha-b", "set1") {
		t.Error("a whole last record without newline was dropped")
	}
	if err := j.Append(journalRecord("c", StatusOK)); err != nil {
		t.Fatal(err)
	}
	if recs := readJournalFile(t, path); len(recs) != 3 {
		t.Errorf("records = %v, want a b c", recordIDs(recs))
	}
}

func TestJournalRefusesForeignFile(t *testing.T) {
	for name, content := range map[string]string{
		"text":        "hello\nworld\n",
		"other json":  `{"name":"x"}` + "\n",
		"middle torn": recordLine(t, journalRecord("a", StatusOK)) + `{"id":"b","pa` + "\n" + recordLine(t, journalRecord("c", StatusOK)),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.jsonl")
			os.WriteFile(path, []byte(content), 0o644)
			if j, err := OpenJournal(path); err == nil {
				j.Close()
				t.Fatal("OpenJournal accepted a file that is not a journal")
			} else if !strings.Contains(err.Error(), "line") {
				t.Errorf("error %q does not name the line", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Error("a refused file was modified")
			}
		})
	}
}

func TestJournalConcurrentAppend(t *testing.T) {
	path, j := openTempJournal(t, "")
	const workers, each = 16, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r := journalRecord(fmt.Sprintf("w%d-%d", w, i), StatusOK)
				r.Answer = strings.Repeat("x", 5000) // large enough to expose interleaving
				if err := j.Append(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	recs := readJournalFile(t, path)
	if len(recs) != workers*each {
		t.Fatalf("%d records, want %d", len(recs), workers*each)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.ID] {
			t.Errorf("duplicate %s", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestJournalAppendErrors(t *testing.T) {
	_, j := openTempJournal(t, "")
	if err := j.Append(Record{ID: "a", Status: "done"}); err == nil {
		t.Error("Append accepted status \"done\"")
	}
	if err := j.Append(Record{ID: "a"}); err == nil {
		t.Error("Append accepted an empty status")
	}
	j.Close()
	if err := j.Append(journalRecord("a", StatusOK)); err == nil {
		t.Error("Append after Close succeeded")
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestJournalReadLongLines(t *testing.T) {
	r := journalRecord("big", StatusOK)
	r.Answer = strings.Repeat("ü", 1<<20) // far beyond bufio.Scanner's 64 KiB
	in := "\n" + recordLine(t, r) + "  \n" + recordLine(t, journalRecord("b", StatusOK))
	recs, err := ReadJournal(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Answer != r.Answer {
		t.Errorf("got %d records", len(recs))
	}
}

func TestJournalOpenErrors(t *testing.T) {
	if _, err := OpenJournal(filepath.Join(t.TempDir(), "no", "such", "dir", "r.jsonl")); err == nil {
		t.Error("OpenJournal in a missing directory succeeded")
	}
}

func recordIDs(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestItemID(t *testing.T) {
	const h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	id := ItemID("scans/a.png", h)
	if len(id) != 16 {
		t.Errorf("ItemID = %q, want 16 hex digits", id)
	}
	if ItemID("./scans//a.png", h) != id || ItemID("scans/x/../a.png", h) != id {
		t.Error("ItemID depends on how the same path is spelled")
	}
	if ItemID("scans/b.png", h) == id || ItemID("scans/a.png", "00"+h[2:]) == id {
		t.Error("ItemID ignores the path or the hash")
	}
	// The separator keeps ("ab", "c") and ("a", "bc") apart.
	if ItemID("ab", "c") == ItemID("a", "bc") {
		t.Error("ItemID is ambiguous without a separator")
	}
}

func TestItemIDHashFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "abc.txt")
	os.WriteFile(p, []byte("abc"), 0o644)
	got, err := HashFile(t.Context(), p)
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Errorf("HashFile = %q, %v; want %q", got, err, want)
	}
	if _, err := HashFile(t.Context(), p+".missing"); err == nil || !strings.Contains(err.Error(), "abc.txt.missing") {
		t.Errorf("missing file: err = %v", err)
	}
	// Several chunks hash as one stream.
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*hashChunk/16+5)
	os.WriteFile(p, big, 0o644)
	sum := sha256.Sum256(big)
	if got, err := HashFile(t.Context(), p); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("big file: %q, %v", got, err)
	}
	// A file that never ends (a large video, here /dev/zero) stops at Ctrl-C.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := HashFile(ctx, "/dev/zero"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("canceled hash: err = %v", err)
	}
}

func TestItemIDSettingsKey(t *testing.T) {
	type settings struct {
		Model     string  `json:"model"`
		Prompt    string  `json:"prompt"`
		MaxPixels int     `json:"max_pixels"`
		FPS       float64 `json:"fps"`
	}
	s := settings{"qwen3-vl-plus", "qwenvl markdown", 2097152, 2}
	k := SettingsKey(s)
	if len(k) != 16 {
		t.Errorf("SettingsKey = %q", k)
	}
	m := map[string]any{"fps": 2, "prompt": "qwenvl markdown", "max_pixels": 2097152, "model": "qwen3-vl-plus"}
	if SettingsKey(m) != k {
		t.Error("a struct and a map with the same fields give different keys")
	}
	if SettingsKey(s) != k {
		t.Error("SettingsKey is not deterministic")
	}
	s2 := s
	s2.Prompt = "qwenvl html"
	if SettingsKey(s2) == k {
		t.Error("changing the prompt does not change the key")
	}
	// Unencodable values do not panic and stay deterministic.
	bad := map[string]any{"f": func() {}}
	if SettingsKey(bad) == "" {
		t.Error("empty key for an unencodable value")
	}
}

// TestJournalKilledWriter kills a process that is appending (SIGKILL on
// Unix) and checks that every record it finished is intact and that the
// journal opens and accepts appends.
func TestJournalKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalHelperProcess$")
	cmd.Env = append(os.Environ(), "VISION_JOURNAL_HELPER="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for { // until the helper has written a few hundred records
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= 300 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("helper exited early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited

	j, err := OpenJournal(path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer j.Close()
	n := j.Loaded()
	for i := range n { // in order, none lost or torn before the last
		if !j.Done(fmt.Sprintf("k%d", i), "sha", "set") {
			t.Fatalf("record k%d of %d missing", i, n)
		}
	}
	if err := j.Append(journalRecord("after", StatusOK)); err != nil {
		t.Fatal(err)
	}
	if recs := readJournalFile(t, path); len(recs) != n+1 {
		t.Errorf("%d records after one append, want %d", len(recs), n+1)
	}
}

// TestJournalHelperProcess is the writer TestJournalKilledWriter kills.
func TestJournalHelperProcess(t *testing.T) {
	path := os.Getenv("VISION_JOURNAL_HELPER")
	if path == "" {
		t.Skip("helper for TestJournalKilledWriter")
	}
	j, err := OpenJournal(path)
	if err != nil {
		os.Exit(2)
	}
	for i := 0; ; i++ {
		r := journalRecord("x", StatusOK)
		r.ID, r.SHA256, r.Settings = fmt.Sprintf("k%d", i), "sha", "set"
		r.Answer = strings.Repeat("answer ", 2000)
		if j.Append(r) != nil {
			os.Exit(3)
		}
	}
}

// TestJournalLastRecordWins: a newer record of an id replaces the older as
// the item's result, for Done, Lookup and Latest.
func TestJournalLastRecordWins(t *testing.T) {
	path, j := openTempJournal(t, "")
	ok := journalRecord("a", StatusOK)
	failed := journalRecord("a", StatusFailed)
	for _, r := range []Record{ok, journalRecord("b", StatusFailed), failed, journalRecord("b", StatusOK)} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if j.Done("a", ok.SHA256, ok.Settings) || !j.Done("b", "sha-b", "set1") {
		t.Error("Done does not follow the last record per id")
	}
	j.Close()
	j2, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if j2.Done("a", ok.SHA256, ok.Settings) || !j2.Done("b", "sha-b", "set1") {
		t.Error("after reopening, Done does not follow the last record per id")
	}
	latest := Latest(readJournalFile(t, path))
	if len(latest) != 2 || latest[0].ID != "a" || latest[0].Status != StatusFailed || latest[1].Status != StatusOK {
		t.Errorf("Latest = %+v", latest)
	}
}

// TestJournalLock: a journal open in one place cannot be opened for
// appending in another until it is closed.
func TestJournalLock(t *testing.T) {
	path, j := openTempJournal(t, "")
	if _, err := OpenJournal(path); !errors.Is(err, ErrJournalLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v", err)
	}
	j.Close()
	j2, err := OpenJournal(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	j2.Close()
}

// TestPageJournal: pages are appended and read back; a torn last line (a
// killed writer) is ignored and cut before the next append.
func TestPageJournal(t *testing.T) {
	path := PagesPath(filepath.Join(t.TempDir(), "r.jsonl"))
	pj := &pageJournal{path: path}
	for p := 1; p <= 2; p++ {
		if err := pj.Append(PageRecord{ID: "x", Path: "doc.pdf", Page: p, Pages: 3, Answer: fmt.Sprintf("page %d", p)}); err != nil {
			t.Fatal(err)
		}
	}
	pj.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"x","page":3,"answ`)
	f.Close()
	pages, err := readPages(path)
	if err != nil || len(pages) != 2 || pages[1].Answer != "page 2" {
		t.Fatalf("%+v %v", pages, err)
	}
	pj = &pageJournal{path: path}
	if err := pj.Append(PageRecord{ID: "x", Path: "doc.pdf", Page: 3, Pages: 3, Answer: "page 3"}); err != nil {
		t.Fatal(err)
	}
	pj.Close()
	if pages, err = readPages(path); err != nil || len(pages) != 3 || pages[2].Answer != "page 3" {
		t.Errorf("after repair: %+v %v", pages, err)
	}
	if pages, err := readPages(path + ".missing"); err != nil || pages != nil {
		t.Errorf("missing file: %v %v", pages, err)
	}
}
