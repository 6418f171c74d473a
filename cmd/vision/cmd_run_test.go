package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/pipeline"
)

// endless is an input that never ends a line (a terminal fed /dev/zero).
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.read += len(p)
	return len(p), nil
}

// TestConfirmReadsOneBoundedLine: the answer is one line of at most
// maxAnswer bytes; an endless input declines instead of filling memory.
func TestConfirmReadsOneBoundedLine(t *testing.T) {
	p := pipeline.Plan{Send: 1, Requests: 1}
	in := &endless{}
	var w strings.Builder
	ok, err := confirm(in, &w, p)
	if ok || err != nil || in.read > maxAnswer || !strings.Contains(w.String(), "taken as no") {
		t.Errorf("endless input: ok %v, err %v, read %d bytes (limit %d)\n%s", ok, err, in.read, maxAnswer, w.String())
	}
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, " y \r\n": true, "n\n": false, "\n": false, "": false, "yes please\n": false} {
		if ok, err := confirm(strings.NewReader(answer), io.Discard, p); ok != want || err != nil {
			t.Errorf("answer %q: %v, %v; want %v", answer, ok, err, want)
		}
	}
}

// TestPrintPlanListsItems: items to send are listed with their transport
// (the first maxListed, then a count), like skipped and failed ones; a dry
// run does not point at a results file it never writes.
func TestPrintPlanListsItems(t *testing.T) {
	p := pipeline.Plan{Journal: "r.jsonl", Transports: map[string]int{"base64": 24, "upload": 1}}
	for i := range 25 {
		it := pipeline.PlanItem{Path: fmt.Sprintf("in/%02d.png", i), Action: pipeline.ActionSend, Transport: "base64", Requests: 1}
		if i == 0 {
			it.Path, it.Transport, it.Requests, it.Reason = "in/doc.pdf", "upload", 3, "2 of 5 pages answered before"
		}
		p.Items = append(p.Items, it)
	}
	for i := range 22 {
		p.Items = append(p.Items, pipeline.PlanItem{Path: fmt.Sprintf("in/%02d.txt", i), Action: pipeline.ActionSkip, Reason: "not an image or video"})
	}
	var b strings.Builder
	printPlan(&b, p, "qwen3-vl-plus")
	out := b.String()
	for _, want := range []string{
		"vision: plan: send in/doc.pdf: upload, 3 requests (2 of 5 pages answered before)\n",
		"vision: plan: send in/01.png: base64\n",
		"vision: plan: … and 5 more to send (each gets a record in r.jsonl)\n",
		"vision: plan: skip in/00.txt: not an image or video\n",
		"vision: plan: … and 2 more skipped or failed (each gets a record in r.jsonl)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "in/24.png") || strings.Count(out, ": send ") != maxListed {
		t.Errorf("listed more than %d items to send:\n%s", maxListed, out)
	}
	p.DryRun = true
	b.Reset()
	printPlan(&b, p, "qwen3-vl-plus")
	if out := b.String(); strings.Contains(out, "r.jsonl") || strings.Contains(out, "results file") || !strings.Contains(out, "--json lists them all") {
		t.Errorf("dry run plan:\n%s", out)
	}
}
