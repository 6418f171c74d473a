package main

import (
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
