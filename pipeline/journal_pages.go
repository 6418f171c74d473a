package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The page journal keeps every answered page of a PDF as soon as it
// arrives, in RESULTS.pages next to the results journal (append-only,
// fsynced like it, written only by the run holding the results journal's
// lock). A PDF still ends as one record in the results journal, its pages
// merged in order; the page journal is what lets a run that fails on page
// 7, is interrupted, or is killed keep pages 1–6: --resume takes them from
// here (same id, content hash and settings) and sends only the others. A
// partial answer (cut at the service's time limit) is not kept. The file
// only grows; delete it together with the results journal.

// PageRecord is one line of the page journal: one answered page of a PDF.
type PageRecord struct {
	ID        string       `json:"id"`
	Path      string       `json:"path"`
	SHA256    string       `json:"sha256"`
	Settings  string       `json:"settings"`
	Page      int          `json:"page"`  // from 1
	Pages     int          `json:"pages"` // of the PDF
	Answer    string       `json:"answer"`
	Usage     *RecordUsage `json:"usage"`
	Cost      *float64     `json:"cost"`
	Currency  string       `json:"currency"`
	RequestID string       `json:"request_id"`
	Started   Stamp        `json:"started"`
	Finished  Stamp        `json:"finished"`
}

// PagesPath is the page journal of a results journal.
func PagesPath(journal string) string { return journal + ".pages" }

// pageKey names one page of one item with one content and settings.
type pageKey struct {
	doneKey
	page int
}

// readPages reads a page journal; none when the file does not exist.
func readPages(path string) ([]PageRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open page journal: %w", err)
	}
	defer f.Close()
	var out []PageRecord
	_, _, err = readLines(f, func(body []byte) bool {
		p, ok := parsePage(body)
		if ok {
			out = append(out, p)
		}
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("%s is not a vision page journal: %w", path, err)
	}
	return out, nil
}

func parsePage(body []byte) (PageRecord, bool) {
	var p PageRecord
	if json.Unmarshal(body, &p) != nil || p.ID == "" || p.Page < 1 {
		return p, false
	}
	return p, true
}

// pageJournal appends to a page journal, created on the first page (a run
// without PDFs leaves none). Its caller (the run's collector) is its only
// writer.
type pageJournal struct {
	path string
	lf   lineFile
}

// Append writes p and syncs it.
func (pj *pageJournal) Append(p PageRecord) error {
	if pj.lf.f == nil {
		f, err := os.OpenFile(pj.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("page journal: %w", err)
		}
		pj.lf.f = f
		good, tail, err := readLines(f, func(b []byte) bool { _, ok := parsePage(b); return ok })
		if err == nil {
			err = pj.lf.repair(good, tail)
		}
		if err == nil {
			err = syncDir(filepath.Dir(pj.path))
		}
		if err != nil {
			pj.lf.close()
			return fmt.Errorf("page journal %s: %w", pj.path, err)
		}
	}
	line, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("page journal: encode page %d of %q: %w", p.Page, p.Path, err)
	}
	return pj.lf.append(line, "page "+strconv.Itoa(p.Page)+" of "+strconv.Quote(p.Path))
}

// Close syncs and closes the file, if it was opened.
func (pj *pageJournal) Close() error { return pj.lf.close() }
