package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runState is what a run found in its journal and page journal before
// planning, with the journal's lock held from then on.
type runState struct {
	path   string
	f      *os.File // the journal, locked; nil before it exists (and in a dry run)
	latest map[string]Record
	pages  map[pageKey]PageRecord
}

// openState locks the journal (not in a dry run, which only reads it) and
// reads its records and pages. Without --resume an existing journal, or a
// page journal left by a killed run, is refused (ErrJournalExists).
func openState(ro RunOptions) (*runState, error) {
	st := &runState{path: ro.Journal, latest: map[string]Record{}, pages: map[pageKey]PageRecord{}}
	var recs []Record
	var err error
	if ro.DryRun {
		recs, err = loadJournal(ro.Journal)
	} else if st.f, err = openLocked(ro.Journal, false); err == nil && st.f != nil {
		if recs, _, _, err = readRecords(st.f); err != nil {
			err = fmt.Errorf("%s is not a vision results file: %w", ro.Journal, err)
		}
	}
	if err != nil {
		st.close()
		return nil, err
	}
	pages, err := readPages(PagesPath(ro.Journal))
	if err != nil {
		st.close()
		return nil, err
	}
	if !ro.Resume && !ro.DryRun && (len(recs) > 0 || len(pages) > 0) {
		st.close()
		what := fmt.Sprintf("%s has %d records", ro.Journal, len(recs))
		if len(recs) == 0 {
			what = fmt.Sprintf("%s has %d answered PDF pages", PagesPath(ro.Journal), len(pages))
		}
		return nil, fmt.Errorf("%w: %s; pass --resume to continue it, or -o a new file", ErrJournalExists, what)
	}
	for _, r := range recs {
		st.latest[r.ID] = r // the last record per id wins
	}
	for _, p := range pages {
		st.pages[pageKey{doneKey{p.ID, p.SHA256, p.Settings}, p.Page}] = p
	}
	return st, nil
}

// journal opens the journal for appending (creating and locking it when
// it did not exist), taking over the lock.
func (st *runState) journal() (*Journal, error) {
	f := st.f
	st.f = nil
	if f == nil {
		var err error
		if f, err = openLocked(st.path, true); err != nil {
			return nil, err
		}
	}
	return journalOn(f, st.path)
}

func (st *runState) close() {
	if st.f != nil {
		st.f.Close()
		st.f = nil
	}
}

// loadJournal reads the records of an existing journal (none when the
// file does not exist), without locking it.
func loadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	recs, err := ReadJournal(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a vision results file: %w", path, err)
	}
	return recs, nil
}

// markResumed applies the journal to the items to send, by each item's
// latest record with the same content hash and settings: ok → resumed
// (nothing sent, no new record); failed writing its output with the answer
// kept → rebuilt from that answer (nothing sent); a PDF → its pages in the
// page journal are reused and only the others sent.
func markResumed(items []*runItem, st *runState, settings string, cfg Config) {
	for _, it := range items {
		if it.action != ActionSend {
			continue
		}
		last, ok := st.latest[it.id]
		if ok && last.SHA256 == it.sha && last.Settings == settings {
			switch {
			case last.Status == StatusOK:
				it.noSend(ActionResume, "already ok in the journal")
				continue
			case rebuildable(last):
				it.prev = &last
				it.noSend(ActionRebuild, "answered before; the output is written from the journal ("+last.Error+")")
				continue
			}
		}
		if it.pdf != nil {
			reusePages(cfg, it, st.pages, settings)
		}
	}
}

// rebuildable: the answer arrived but its output could not be written.
func rebuildable(r Record) bool {
	return r.Status == StatusFailed && r.Stage == StageOutput && r.Answer != ""
}

// noSend gives an item an action that sends nothing.
func (it *runItem) noSend(action, reason string) {
	it.action, it.reason = action, reason
	it.reqs, it.inTok, it.outTok, it.cost, it.trans = 0, 0, 0, nil, ""
}

// reusePages takes the PDF's pages already answered (page journal) out of
// what will be sent.
func reusePages(cfg Config, it *runItem, pages map[pageKey]PageRecord, settings string) {
	done := map[int]PageRecord{}
	for p := 1; p <= it.pdf.pages(); p++ {
		if pr, ok := pages[pageKey{doneKey{it.id, it.sha, settings}, p}]; ok {
			done[p] = pr
		}
	}
	if len(done) == 0 {
		return
	}
	it.pdf.done = done
	it.pdf.totals(cfg, it)
	it.reason = fmt.Sprintf("%d of %d pages answered before (kept in the page journal), not sent again", len(done), it.pdf.pages())
}

// checkOutputs refuses an output folder that is the journal (or its page
// journal) or inside it, and, unless in a dry run, one that cannot be
// created: before anything is sent, so no answer is paid for and then lost.
func checkOutputs(ro RunOptions) error {
	if ro.OutDir == "" || Presets[ro.Preset].OutputExt == "" {
		return nil
	}
	out := absPath(ro.OutDir)
	for _, f := range []string{ro.Journal, PagesPath(ro.Journal)} {
		if within(out, absPath(f)) || strings.EqualFold(out, absPath(f)) {
			return fmt.Errorf("run: the output folder %s is the results file %s or inside it; pass --out-dir DIR", ro.OutDir, f)
		}
	}
	if ro.DryRun {
		return nil
	}
	return checkOutDir(ro.OutDir)
}

// defaultOutDir is the journal's path without its extension plus ext
// ("results.jsonl" → "results.md"), or, when that is the journal itself
// ("events.json" with .json), the journal's path plus ".d".
func defaultOutDir(journal, ext string) string {
	d := strings.TrimSuffix(journal, filepath.Ext(journal)) + ext
	if strings.EqualFold(absPath(d), absPath(journal)) {
		d = journal + ".d"
	}
	return d
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
