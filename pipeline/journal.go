package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	ErrorClass     string          `json:"error_class"`   // e.g. "rate_limit", "invalid_input", "canceled"
	Fix            string          `json:"fix,omitempty"` // how to repair a failure found before sending, when vision knows
	Stage          string          `json:"stage"`         // the stage that failed or skipped it
	RequestID      string          `json:"request_id"`
	Started        Stamp           `json:"started"`
	Finished       Stamp           `json:"finished"`
	Outputs        []string        `json:"outputs,omitempty"` // files written (e.g. the .md)
	Pages          int             `json:"pages,omitempty"`   // PDF pages answered (page_results)
	// PageResults are the answered pages of a PDF, in order: each page's
	// request, usage and cost. Usage and Cost above are their sums.
	PageResults []PageResult `json:"page_results,omitempty"`
	// FrameTimes are the source times (s) of the video frames sent, which
	// map the model's event times (video-events).
	FrameTimes []float64 `json:"frame_times,omitempty"`
	// Reused marks an ok record whose answer was taken from an earlier
	// record (whose output could not be written): nothing was sent for it,
	// and its usage and cost are that earlier request's.
	Reused bool `json:"reused,omitempty"`
}

// PageResult is one answered page of a PDF in its record.
type PageResult struct {
	Page      int          `json:"page"`
	RequestID string       `json:"request_id"`
	Usage     *RecordUsage `json:"usage"`
	Cost      *float64     `json:"cost"`
	// Reused: the answer was kept in the page journal by an earlier,
	// failed, interrupted or killed attempt, and not sent again.
	Reused bool `json:"reused,omitempty"`
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

// add adds o to u.
func (u *RecordUsage) add(o RecordUsage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.TextTokens += o.TextTokens
	u.ImageTokens += o.ImageTokens
	u.VideoTokens += o.VideoTokens
	u.ReasoningTokens += o.ReasoningTokens
	u.CachedTokens += o.CachedTokens
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
// The last record per id wins: an item tried again (a failed one retried
// by --resume, or one sent again with other settings) gets a newer record
// below its older ones, which stay as its history. Readers take the last
// record of each id as the item's result ([Latest]); --resume does.
//
// Durability: each Append is one write(2) of one whole line followed by an
// fsync, before Append returns; creating the file also syncs its folder. A
// process crash (SIGKILL, panic, Ctrl-C) therefore loses only items whose
// Append had not happened, i.e. requests in flight; the fsync extends that
// to an OS crash or power loss. The cost (one fsync per finished request)
// is small next to a model request.
//
// Concurrency: Append may be called from many goroutines; a mutex makes
// one caller at a time the file's writer, and Append returns that caller's
// own error, which a channel-owning goroutine would have to send back anyway.
// Two processes cannot append to the same journal: OpenJournal takes an
// exclusive lock on the file (flock on Unix; elsewhere, best effort: no
// lock) and fails with ErrJournalLocked while another holds it. Shards
// write their own files and are concatenated afterwards.
type Journal struct {
	mu   sync.Mutex
	lf   lineFile
	last map[string]Record // the latest record per id
	n    int               // records read at open
}

// ErrJournalLocked means another process has the journal open.
var ErrJournalLocked = errors.New("pipeline: the results file is in use by another vision run")

type doneKey struct{ id, sha, settings string }

// OpenJournal opens path for appending, creating it if needed, and locks
// it. It first reads the records already there: an incomplete last line (a
// write cut off by a crash) is truncated away, or completed with its
// newline if it is a whole record; any other line that is not a record is
// an error, so a file that is not a journal is never appended to.
func OpenJournal(path string) (*Journal, error) {
	f, _, err := openLocked(path, true)
	if err != nil {
		return nil, err
	}
	return journalOn(f, path)
}

// journalOn reads and repairs the locked file f, taking it over.
func journalOn(f *os.File, path string) (*Journal, error) {
	j, err := openJournal(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return j, nil
}

// openLocked opens a journal file for appending and takes its exclusive
// lock; with create it is created if missing (and its folder synced, so
// the new name survives a power loss; created reports it), else a missing
// file gives (nil, false, nil). The lock is checked to be on the file the
// path names once it is held: a run that removed its empty journal (see
// runState) may have unlinked the file this one opened, which is then
// opened again.
func openLocked(path string, create bool) (f *os.File, created bool, err error) {
	for range 10 {
		if f, created, err = openLockedOnce(path, create); err != nil || f == nil {
			return f, created, err
		}
		fi, ferr := f.Stat()
		pi, perr := os.Stat(path)
		if ferr == nil && perr == nil && os.SameFile(fi, pi) {
			return f, created, nil
		}
		f.Close()
	}
	return nil, false, fmt.Errorf("%w: %s keeps being replaced by another process; -o another file", ErrJournalLocked, path)
}

func openLockedOnce(path string, create bool) (*os.File, bool, error) {
	flag := os.O_RDWR | os.O_APPEND
	_, statErr := os.Stat(path)
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if !create && errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open journal: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrJournalLocked) {
			return nil, false, fmt.Errorf("%w: %s is locked by another process; wait for that run to end, or -o another file", ErrJournalLocked, path)
		}
		return nil, false, fmt.Errorf("lock journal %s: %w", path, err)
	}
	created := errors.Is(statErr, os.ErrNotExist)
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("create journal %s: %w", path, err)
		}
	}
	return f, created, nil
}

func openJournal(f *os.File) (*Journal, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	recs, good, tail, err := readRecords(f)
	if err != nil {
		return nil, err
	}
	j := &Journal{lf: lineFile{f: f}, last: map[string]Record{}, n: len(recs)}
	if err := j.lf.repair(good, tail); err != nil {
		return nil, err
	}
	for _, r := range recs {
		j.last[r.ID] = r
	}
	return j, nil
}

// Loaded is the number of records the journal held when it was opened.
func (j *Journal) Loaded() int { return j.n }

// Done reports whether the item's latest record is ok with the same
// content hash and settings; a resumed run skips such items and retries
// the others.
func (j *Journal) Done(id, sha256, settingsKey string) bool {
	_, ok := j.Lookup(id, sha256, settingsKey)
	return ok
}

// Lookup returns the item's latest record when it is ok with this hash and
// settings, e.g. to count a resumed item's cost in the summary. The
// journal keeps the latest record per id in memory for this (answers
// included).
func (j *Journal) Lookup(id, sha256, settingsKey string) (Record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.last[id]
	if !ok || r.Status != StatusOK || r.SHA256 != sha256 || r.Settings != settingsKey {
		return Record{}, false
	}
	return r, true
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
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.lf.append(line, "record "+strconv.Quote(r.Path)); err != nil {
		return err
	}
	j.last[r.ID] = r
	return nil
}

// Close syncs and closes the file (releasing its lock). Later Appends fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lf.close()
}

// Redactor rewrites a string before it leaves the process: every string
// of every record and page record passes through it on its way to the
// journal, the page journal and the Done hook (which --json prints), so
// the API key can never be written, whatever an error message quotes. A
// nil Redactor keeps strings as they are.
type Redactor func(string) string

func (f Redactor) apply(ss ...*string) {
	for _, s := range ss {
		*s = f(*s)
	}
}

// record is r with f applied to each of its strings.
func (f Redactor) record(r Record) Record {
	if f == nil {
		return r
	}
	f.apply(&r.ID, &r.Path, &r.SHA256, &r.Settings, &r.Status, &r.Answer, &r.Currency, &r.Error, &r.ErrorClass, &r.Fix, &r.Stage, &r.RequestID)
	if r.SettingsDetail != nil {
		r.SettingsDetail = json.RawMessage(f(string(r.SettingsDetail)))
	}
	r.Outputs = slices.Clone(r.Outputs)
	for i := range r.Outputs {
		f.apply(&r.Outputs[i])
	}
	r.PageResults = slices.Clone(r.PageResults)
	for i := range r.PageResults {
		f.apply(&r.PageResults[i].RequestID)
	}
	return r
}

// page is p with f applied to each of its strings.
func (f Redactor) page(p PageRecord) PageRecord {
	if f != nil {
		f.apply(&p.ID, &p.Path, &p.SHA256, &p.Settings, &p.Answer, &p.Currency, &p.RequestID)
	}
	return p
}

// Latest is the last record of each id, in the order the ids first appear:
// the result of each item when records were appended by several runs.
func Latest(recs []Record) []Record {
	pos := map[string]int{}
	var out []Record
	for _, r := range recs {
		if i, ok := pos[r.ID]; ok {
			out[i] = r
			continue
		}
		pos[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// recordRedactor is what scrubs the records of a run (the run's Redactor,
// field by field, and each journal line again): cfg.Redact, else the
// client's Redact method, if it has one.
func recordRedactor(cfg Config, client Sender) func(string) string {
	if cfg.Redact != nil {
		return cfg.Redact
	}
	if r, ok := client.(interface{ Redact(string) string }); ok {
		return r.Redact
	}
	return nil
}

// lineFile is an append-only file of JSON lines, each written whole and
// synced (see Journal). Its owner serializes calls.
type lineFile struct {
	f    *os.File
	size int64 // bytes of complete lines; a failed write is cut back to it
	err  error // sticky: set when a failed write could not be cut back

	redact func(string) string // applied to each line (nil: none); see Config.Redact
}

// repair completes or cuts the last line as readLines found it.
func (lf *lineFile) repair(good int64, tail tailKind) error {
	lf.size = good
	switch tail {
	case tailWhole: // a whole line that only lacks its newline
		if _, err := lf.f.Write([]byte("\n")); err != nil {
			return fmt.Errorf("complete last line: %w", err)
		}
		lf.size++
	case tailTorn:
		if err := lf.f.Truncate(good); err != nil {
			return fmt.Errorf("cut incomplete last line: %w", err)
		}
	}
	if tail != tailNone {
		if err := lf.f.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	return nil
}

// append writes line and a newline in one write and syncs.
func (lf *lineFile) append(line []byte, what string) error {
	if lf.f == nil {
		return errors.New("journal: append after close")
	}
	if lf.err != nil {
		return lf.err
	}
	if lf.redact != nil {
		line = []byte(lf.redact(string(line)))
	}
	line = append(line, '\n')
	if _, err := lf.f.Write(line); err != nil {
		// Cut a partial line away so the next one starts on its own line.
		if terr := lf.f.Truncate(lf.size); terr != nil {
			lf.err = fmt.Errorf("journal: unusable after failed write: %w", errors.Join(err, terr))
		}
		return fmt.Errorf("journal: write %s: %w", what, err)
	}
	lf.size += int64(len(line))
	if err := lf.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", what, err)
	}
	return nil
}

func (lf *lineFile) close() error {
	if lf.f == nil {
		return nil
	}
	err := lf.f.Sync()
	if cerr := lf.f.Close(); err == nil {
		err = cerr
	}
	lf.f = nil
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

// readRecords parses the lines of a journal (see readLines).
func readRecords(r io.Reader) (recs []Record, good int64, tail tailKind, err error) {
	good, tail, err = readLines(r, func(body []byte) bool {
		var rec Record
		if json.Unmarshal(body, &rec) != nil || rec.Status == "" {
			return false
		}
		recs = append(recs, rec)
		return true
	})
	if err != nil {
		return nil, 0, 0, err
	}
	return recs, good, tail, nil
}

// readLines calls parse with each non-blank line (without its newline),
// which reports whether the line is a valid entry, and returns the byte
// length to keep (good: the complete lines, plus a whole last entry
// lacking its newline) and what the last line without a newline was. A
// complete line that is not an entry is an error naming its line number.
func readLines(r io.Reader, parse func(body []byte) bool) (good int64, tail tailKind, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadBytes('\n') // no length cap: answers can be long
		if rerr != nil && rerr != io.EOF {
			return 0, 0, fmt.Errorf("read line %d: %w", lineNo, rerr)
		}
		complete := rerr == nil
		if len(line) > 0 {
			body := bytes.TrimSpace(line)
			switch {
			case len(body) == 0 && !complete:
				tail = tailTorn // trailing spaces: cut, so the next line starts clean
			case len(body) == 0:
			case parse(body):
				if !complete {
					tail = tailWhole
					good += int64(len(line))
				}
			case !complete:
				tail = tailTorn
			default:
				return 0, 0, fmt.Errorf("line %d is not a journal record: %.60q", lineNo, body)
			}
			if complete {
				good += int64(len(line))
			}
		}
		if !complete {
			return good, tail, nil
		}
	}
}
