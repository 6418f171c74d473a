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
//
// The lock is the journal's own flock, taken before anything is planned,
// also when the journal does not exist yet: it is then created (empty, its
// missing folders too) and locked at once, so that a second run on the
// same new -o stops at its start, as on an existing journal, instead of
// planning and sending the same items. The records and pages are read only
// once the lock is held. A run that ends before anything is sent (a
// refused budget, a declined prompt, an error while planning) removes the
// empty journal and the folders it created, leaving the disk as it was.
type runState struct {
	path    string
	f       *os.File // the journal, locked; nil in a dry run, and once journal() took it
	created bool     // this run created the (empty) journal
	dirs    []string // folders created for it, deepest first
	latest  map[string]Record
	claims  outputClaims
	pages   map[pageKey]PageRecord
}

// openState creates the journal's folder, creates and locks the journal
// (not in a dry run, which only reads it) and reads its records and
// pages. Without --resume an existing journal, or a page journal left by a
// killed run, is refused (ErrJournalExists).
func openState(ro RunOptions) (*runState, error) {
	st := &runState{path: ro.Journal, latest: map[string]Record{}, pages: map[pageKey]PageRecord{}}
	var recs []Record
	var err error
	if ro.DryRun {
		recs, err = loadJournal(ro.Journal)
	} else if st.dirs, err = makeDirs(filepath.Dir(ro.Journal)); err != nil {
		err = fmt.Errorf("results file %s: cannot create its folder: %w; pass -o a file in a folder you can write", ro.Journal, err)
	} else if st.f, st.created, err = openLocked(ro.Journal, true); err == nil {
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
	st.claims = claimedOutputs(recs)
	for _, p := range pages {
		st.pages[pageKey{doneKey{p.ID, p.SHA256, p.Settings}, p.Page}] = p
	}
	return st, nil
}

// journal hands the locked journal over for appending, with its lock.
func (st *runState) journal() (*Journal, error) {
	f := st.f
	st.f = nil
	if f == nil {
		return nil, fmt.Errorf("open journal %s: not locked", st.path)
	}
	return journalOn(f, st.path)
}

// close releases the journal unless journal() took it; a journal this run
// created and never wrote to is removed (under its lock), with the folders
// made for it.
func (st *runState) close() {
	if st.f != nil {
		if info, err := st.f.Stat(); err == nil && st.created && info.Size() == 0 {
			os.Remove(st.path)
		}
		st.f.Close()
		st.f = nil
	}
	if _, err := os.Stat(st.path); errors.Is(err, os.ErrNotExist) {
		for _, d := range st.dirs {
			os.Remove(d) // only if empty
		}
	}
	st.dirs = nil
}

// makeDirs creates dir and its missing parents and returns those it
// created, deepest first.
func makeDirs(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return missing, nil
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
