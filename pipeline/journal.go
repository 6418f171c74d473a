package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one line of the results journal: one input, how it ended, what
// it cost. Core fields are always written (zero or null when unknown) so the
// schema is the same on every line; Outputs, Pages and SettingsDetail only
// when set.
type Record struct {
	ID             string          `json:"id"`       // ItemID(path, sha256)
	Path           string          `json:"path"`     // as the user named it
	SHA256         string          `json:"sha256"`   // hex content hash
	Settings       string          `json:"settings"` // SettingsKey of what changes an answer
	SettingsDetail json.RawMessage `json:"settings_detail,omitempty"`
	Status         string          `json:"status"` // StatusOK, StatusFailed or StatusSkipped
	Answer         string          `json:"answer"`
	Usage          *RecordUsage    `json:"usage"`    // as reported by the API; null without a response
	Estimate       *RecordEstimate `json:"estimate"` // what the plan expected
	Cost           *float64        `json:"cost"`     // actual, from Usage and prices; null if unknown
	Currency       string          `json:"currency"`
	Error          string          `json:"error"`
	ErrorClass     string          `json:"error_class"` // e.g. "rate_limit", "invalid_input", "canceled"
	Stage          string          `json:"stage"`       // the stage that failed or skipped it
	RequestID      string          `json:"request_id"`
	Started        Stamp           `json:"started"`
	Finished       Stamp           `json:"finished"`
	Outputs        []string        `json:"outputs,omitempty"` // files written (e.g. the .md)
	Pages          int             `json:"pages,omitempty"`   // PDF pages sent
}

// RecordUsage is the token usage the API reported for an item (summed over
// its requests, e.g. the pages of a PDF).
type RecordUsage struct {
	InputTokens     int `json:"input_tokens"`
	OutputTokens    int `json:"output_tokens"`
	TextTokens      int `json:"text_tokens,omitempty"`
	ImageTokens     int `json:"image_tokens,omitempty"`
	VideoTokens     int `json:"video_tokens,omitempty"`
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
	CachedTokens    int `json:"cached_tokens,omitempty"`
}

// RecordEstimate is what the plan expected an item to use and cost.
type RecordEstimate struct {
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	Cost         float64 `json:"cost"`
}

// Stamp is a time that encodes as RFC 3339 in UTC with milliseconds
// ("2026-07-01T09:30:00.250Z"), and as null when zero.
type Stamp struct{ time.Time }

const stampLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON implements json.Marshaler.
func (s Stamp) MarshalJSON() ([]byte, error) {
	if s.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(s.UTC().Format(stampLayout))
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (s *Stamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = Stamp{}
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		return err
	}
	*s = Stamp{t}
	return nil
}

// Journal is an append-only JSONL file of Records.
//
// Durability: each Append is one write(2) of one whole line followed by an
// fsync, before Append returns. A process crash (SIGKILL, panic, Ctrl-C)
// therefore loses only items whose Append had not happened, i.e. requests
// in flight; the fsync extends that to an OS crash or power loss. The cost
// (one fsync per finished request) is small next to a model request.
//
// Concurrency: Append may be called from many goroutines; a mutex makes
// one caller at a time the file's writer, and Append returns that caller's
// own error, which a channel-owning goroutine would have to send back anyway.
// Two processes must not append to the same journal (shards write their own
// files and are concatenated afterwards).
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	size int64 // bytes of complete lines; a failed write is cut back to it
	err  error // sticky: set when a failed write could not be cut back
	done map[doneKey]Record
	n    int // records read at open
}

type doneKey struct{ id, sha, settings string }

// OpenJournal opens path for appending, creating it if needed. It first
// reads the records already there: an incomplete last line (a write cut off
// by a crash) is truncated away, or completed with its newline if it is a
// whole record; any other line that is not a record is an error, so a file
// that is not a journal is never appended to.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j, err := openJournal(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return j, nil
}

func openJournal(f *os.File) (*Journal, error) {
	recs, good, tail, err := readRecords(f)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, size: good, done: map[doneKey]Record{}, n: len(recs)}
	switch tail {
	case tailWhole: // a whole record that only lacks its newline
		if _, err := f.Write([]byte("\n")); err != nil {
			return nil, fmt.Errorf("complete last line: %w", err)
		}
		j.size++
	case tailTorn:
		if err := f.Truncate(good); err != nil {
			return nil, fmt.Errorf("cut incomplete last line: %w", err)
		}
	}
	if tail != tailNone {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
	}
	for _, r := range recs {
		j.index(r)
	}
	return j, nil
}

func (j *Journal) index(r Record) {
	if r.Status == StatusOK {
		j.done[doneKey{r.ID, r.SHA256, r.Settings}] = r
	}
}

// Loaded is the number of records the journal held when it was opened.
func (j *Journal) Loaded() int { return j.n }

// Done reports whether an ok record exists for this item with the same
// content hash and settings; a resumed run skips such items and retries
// failed or skipped ones.
func (j *Journal) Done(id, sha256, settingsKey string) bool {
	_, ok := j.Lookup(id, sha256, settingsKey)
	return ok
}

// Lookup returns the latest ok record for the item, hash and settings, e.g.
// to count a resumed item's cost in the summary. The journal keeps its ok
// records in memory for this (answers included).
func (j *Journal) Lookup(id, sha256, settingsKey string) (Record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.done[doneKey{id, sha256, settingsKey}]
	return r, ok
}

// Append writes r as one line and syncs it to disk before returning.
func (j *Journal) Append(r Record) error {
	switch r.Status {
	case StatusOK, StatusFailed, StatusSkipped:
	default:
		return fmt.Errorf("journal: record %q has status %q, want ok, failed or skipped", r.Path, r.Status)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: encode record %q: %w", r.Path, err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal: append after close")
	}
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(line); err != nil {
		// Cut a partial line away so the next record starts on its own line.
		if terr := j.f.Truncate(j.size); terr != nil {
			j.err = fmt.Errorf("journal: unusable after failed write: %w", errors.Join(err, terr))
		}
		return fmt.Errorf("journal: write record %q: %w", r.Path, err)
	}
	j.size += int64(len(line))
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync record %q: %w", r.Path, err)
	}
	j.index(r)
	return nil
}

// Close syncs and closes the file. Later Appends fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// ReadJournal reads every record from r. An incomplete last line (no
// newline, not a whole record) is ignored, as after a crash; any other line
// that is not a record is an error naming its line number. Blank lines are
// skipped.
func ReadJournal(r io.Reader) ([]Record, error) {
	recs, _, _, err := readRecords(r)
	return recs, err
}

type tailKind int

const (
	tailNone  tailKind = iota // the input ends with a newline
	tailWhole                 // the last line is a record without its newline
	tailTorn                  // the last line is an incomplete record
)

// readRecords parses lines and returns the byte length to keep (good: the
// complete lines, plus a whole last record lacking its newline) and what the
// last line without a newline was.
func readRecords(r io.Reader) (recs []Record, good int64, tail tailKind, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadBytes('\n') // no length cap: answers can be long
		if rerr != nil && rerr != io.EOF {
			return nil, 0, 0, fmt.Errorf("read line %d: %w", lineNo, rerr)
		}
		complete := rerr == nil
		if len(line) > 0 {
			body := bytes.TrimSpace(line)
			var rec Record
			switch {
			case len(body) == 0 && !complete:
				tail = tailTorn // trailing spaces: cut, so the next line starts clean
			case len(body) == 0:
			case json.Unmarshal(body, &rec) == nil && rec.Status != "":
				recs = append(recs, rec)
				if !complete {
					tail = tailWhole
					good += int64(len(line))
				}
			case !complete:
				tail = tailTorn
			default:
				return nil, 0, 0, fmt.Errorf("line %d is not a journal record: %.60q", lineNo, body)
			}
			if complete {
				good += int64(len(line))
			}
		}
		if !complete {
			return recs, good, tail, nil
		}
	}
}
