package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/dashscope"
)

// leakySender answers the first request with the key in the answer and
// fails the others with the key in the error, as a client that did not
// scrub would.
type leakySender struct{ n int }

func (s *leakySender) Send(_ context.Context, _ dashscope.API, _ *dashscope.Request, _ func(dashscope.Delta) error) (*dashscope.Response, error) {
	if s.n++; s.n == 1 {
		return &dashscope.Response{Text: "the key is " + testKey, RequestID: "r-" + testKey}, nil
	}
	return nil, errors.New("upstream saw " + testKey)
}

func (s *leakySender) Upload(context.Context, string, dashscope.Media) (string, error) {
	return "", errors.New("no uploads here")
}

func (s *leakySender) Preview(dashscope.API, *dashscope.Request, bool) (*dashscope.RequestPreview, error) {
	return nil, errors.New("no previews here")
}

// redactingSender is a leakySender with a Redact method, as
// *dashscope.Client has.
type redactingSender struct{ leakySender }

func (s *redactingSender) Redact(text string) string {
	return strings.ReplaceAll(text, testKey, dashscope.RedactKey(testKey))
}

// TestJournalNeverHoldsTheKey: the records Run writes are scrubbed with
// Config.Redact, or by default with the client's own Redact, whatever the
// client returned.
func TestJournalNeverHoldsTheKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client Sender
		redact func(string) string
	}{
		{"Config.Redact", &leakySender{}, func(s string) string { return strings.ReplaceAll(s, testKey, "[redacted]") }},
		{"the client's Redact", &redactingSender{}, nil},
	} {
		dir := t.TempDir()
		writePNGs(t, filepath.Join(dir, "in"), 3)
		cfg := testConfig(t)
		cfg.Prompt = "What is this?"
		cfg.Redact = tc.redact
		journal := filepath.Join(dir, "r.jsonl")
		sum, err := Run(context.Background(), cfg, RunOptions{Journal: journal, Concurrency: 1}, tc.client, []string{filepath.Join(dir, "in")}, nil, Hooks{})
		if err != nil || sum.OK != 1 || sum.Failed != 2 {
			t.Fatalf("%s: %+v %v", tc.name, sum, err)
		}
		data, err := os.ReadFile(journal)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), testKey[3:]) || !strings.Contains(string(data), "upstream saw") {
			t.Errorf("%s: journal:\n%s", tc.name, data)
		}
		if recs := loadRecords(t, journal); len(recs) != 3 {
			t.Errorf("%s: %d records", tc.name, len(recs))
		}
	}
}
