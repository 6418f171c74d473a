package pipeline

import (
	"context"
	"encoding/json"
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

// dryRun prepares every request exactly as a run would (resized images,
// extracted frames, rendered pages; uploads shown as pending) and writes
// each one's preview to ro.DryRunDir as NNNN-NAME[-pPAGE].json, numbered in
// input order. Nothing is sent and the journal is not touched. Items that
// cannot be prepared count as failed.
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
	if len(tasks) == 0 {
		return nil
	}
	if err := os.MkdirAll(r.ro.DryRunDir, 0o755); err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	failedItems := map[int]bool{}
	type result struct {
		DryRunRequest
		item int
	}
	return forEachOrdered(ctx, len(tasks), r.cfg.prepareWorkers(),
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
			if r.hooks.DryRun != nil {
				r.hooks.DryRun(d.DryRunRequest)
			}
			return nil
		})
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
	name := fmt.Sprintf("%04d-%s", t.it.idx+1, safeName(filepath.Base(t.it.in.Path)))
	if t.page > 0 {
		name += fmt.Sprintf("-p%d", t.page)
	}
	d.File = filepath.Join(r.ro.DryRunDir, name+".json")
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
