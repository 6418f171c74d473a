package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// dryRequestFile is one request body written by a dry run.
type dryRequestFile struct {
	Path          string          `json:"path"`
	Page          int             `json:"page,omitempty"`
	Transport     string          `json:"transport"`
	Notes         []string        `json:"notes,omitempty"`
	Method        string          `json:"method"`
	URL           string          `json:"url"`
	Header        http.Header     `json:"header"` // the key redacted
	ContentLength int64           `json:"content_length"`
	Body          json.RawMessage `json:"body"` // base64 elided
}

// dryIndexName is the index of the request bodies a dry run wrote in its
// folder: the next dry run into the folder removes exactly the files it
// lists (and nothing else: --dry-run-dir may be a folder with other files)
// before writing its own, so the folder holds one dry run's bodies.
const dryIndexName = "index.json"

// dryIndex is index.json: the body files of the last dry run, in order.
type dryIndex struct {
	Files []dryIndexFile `json:"files"`
}

type dryIndexFile struct {
	File string `json:"file"` // name in the folder
	Path string `json:"path"` // the input
	Page int    `json:"page,omitempty"`
}

// dryRun prepares every request exactly as a run would (resized images,
// extracted frames, rendered pages; uploads shown as pending) and writes
// each one's preview to ro.DryRunDir as NNNN-NAME[-pPAGE].json, numbered in
// input order, replacing the bodies of the previous dry run there (listed
// in its index.json). Nothing is sent and the journal is not touched.
// Items that cannot be prepared count as failed.
func (r *runner) dryRun(ctx context.Context, items []*runItem, sum *RunSummary) error {
	var tasks []task
	for _, it := range items {
		switch it.action {
		case ActionSend:
			tasks = append(tasks, itemTasks(it)...)
		case ActionSkip:
			sum.Skipped++
		case ActionFail:
			sum.Failed++
			sum.FailuresByClass[it.code]++
		}
	}
	planned := make([]dryIndexFile, 0, len(tasks))
	for _, t := range tasks {
		planned = append(planned, dryIndexFile{File: dryFileName(t), Path: t.it.in.Path, Page: t.page})
	}
	if err := replaceDryIndex(r.ro.DryRunDir, planned); err != nil {
		return err
	}
	if len(tasks) == 0 {
		return nil
	}
	failedItems := map[int]bool{}
	written := make([]dryIndexFile, 0, len(tasks))
	type result struct {
		DryRunRequest
		item int
	}
	err := forEachOrdered(ctx, len(tasks), r.cfg.prepareWorkers(),
		func(ctx context.Context, i int) result { return result{r.dryOne(ctx, tasks[i]), tasks[i].it.idx} },
		func(d result) error {
			switch {
			case d.Error == "":
				sum.Requests++
			case !failedItems[d.item]: // one failed page fails its item once
				failedItems[d.item] = true
				sum.Failed++
				sum.FailuresByClass["prepare"]++
			}
			if d.File != "" {
				written = append(written, dryIndexFile{File: filepath.Base(d.File), Path: d.Path, Page: d.Page})
			}
			if r.hooks.DryRun != nil {
				r.hooks.DryRun(d.DryRunRequest)
			}
			return nil
		})
	if err != nil {
		return err // the index still lists every body planned, for the next dry run to remove
	}
	return writeDryIndex(r.ro.DryRunDir, written)
}

func (r *runner) dryOne(ctx context.Context, t task) DryRunRequest {
	d := DryRunRequest{Path: t.it.in.Path, Page: t.page}
	p, err := r.prepare(ctx, t, nil)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Transport = p.Transport
	pv, err := r.client.Preview(r.ro.API, r.request(p), false)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.ContentLength = pv.ContentLength
	out := dryRequestFile{Path: d.Path, Page: t.page, Transport: p.Transport, Notes: p.Notes,
		Method: pv.Method, URL: pv.URL, Header: pv.Header, ContentLength: pv.ContentLength, Body: pv.Body}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		d.Error = fmt.Sprintf("encode request preview: %v", err)
		return d
	}
	d.File = filepath.Join(r.ro.DryRunDir, dryFileName(t))
	if err := writeOutput(d.File, append(data, '\n')); err != nil {
		d.Error, d.File = err.Error(), ""
	}
	return d
}

// safeName keeps letters, digits, '.', '-' and '_' of a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	return strings.TrimLeft(s, ".-")
}

// dryFileName is the body file of one task: NNNN-NAME[-pPAGE].json.
func dryFileName(t task) string {
	name := fmt.Sprintf("%04d-%s", t.it.idx+1, safeName(filepath.Base(t.it.in.Path)))
	if t.page > 0 {
		name += fmt.Sprintf("-p%d", t.page)
	}
	return name + ".json"
}

// replaceDryIndex removes the bodies the index in dir lists (plain names
// of regular files in dir, never the index itself), then writes the index
// of the bodies the dry run plans to write, before any is written, so an
// interrupted dry run is replaced whole by the next. The dry run rewrites
// it at the end with the bodies it did write (writeDryIndex). A folder
// without an index is left as it is.
func replaceDryIndex(dir string, planned []dryIndexFile) error {
	index := filepath.Join(dir, dryIndexName)
	if data, err := os.ReadFile(index); err == nil {
		var old dryIndex
		if json.Unmarshal(data, &old) == nil {
			for _, f := range old.Files {
				name := f.File
				if name == "" || name != filepath.Base(name) || name == "." || name == ".." || name == dryIndexName {
					continue
				}
				if st, err := os.Lstat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
					os.Remove(filepath.Join(dir, name))
				}
			}
		}
	}
	return writeDryIndex(dir, planned)
}

// writeDryIndex replaces the index in dir (atomically) with files; with
// no files it removes the index.
func writeDryIndex(dir string, files []dryIndexFile) error {
	index := filepath.Join(dir, dryIndexName)
	if len(files) == 0 {
		if err := os.Remove(index); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dry run: %w", err)
		}
		return nil
	}
	data, err := json.MarshalIndent(dryIndex{Files: files}, "", "  ")
	if err == nil {
		err = writeOutput(index, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("dry run: index of the request bodies: %w", err)
	}
	return nil
}
