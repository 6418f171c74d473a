package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ErrToolMissing is wrapped by every error about ffmpeg or ffprobe not being
// installed.
var ErrToolMissing = errors.New("media: required tool not found")

// ToolInstallHint is the command that installs ffmpeg and ffprobe.
const ToolInstallHint = "apt-get install ffmpeg"

// MissingToolError says which external tool is missing and how to install it.
type MissingToolError struct {
	Tool string // "ffmpeg" or "ffprobe"
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("media: %s not found in PATH (install it: %s)", e.Tool, ToolInstallHint)
}

func (e *MissingToolError) Unwrap() error { return ErrToolMissing }

// lookTool finds an external tool on PATH.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &MissingToolError{Tool: name}
	}
	return p, nil
}

// FindTool checks that an external tool ("ffmpeg" or "ffprobe") is on
// PATH: nil, or a *MissingToolError naming the install command. Callers
// check before creating outputs that the tool would fill.
func FindTool(tool string) error {
	_, err := lookTool(tool)
	return err
}

// fileURL turns a path into an absolute file: URL, so that ffmpeg reads it
// as a plain file whatever its name ("-i.mp4", "http:x.mp4", "concat:a|b").
// ffmpeg's file protocol takes the rest of the URL verbatim, unescaped.
func fileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return "file:" + abs, nil
}

// toolCommand builds a command for tool that ctx kills, with no shell and
// no stdin.
func toolCommand(ctx context.Context, tool string, args []string) (*exec.Cmd, error) {
	bin, err := lookTool(tool)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	return cmd, nil
}

// stderrTailLines is how many of a tool's last stderr lines errors quote.
const stderrTailLines = 20

// tailBuffer keeps the last lines written to it; it is an io.Writer for a
// command's stderr, safe for one writer and concurrent readers.
type tailBuffer struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	max     int
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 4096 { // a runaway line without newline
		t.add(string(t.partial))
		t.partial = nil
	}
	return len(p), nil
}

func (t *tailBuffer) add(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// String returns the kept lines joined by newlines.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.partial))
	}
	return strings.Join(lines, "\n")
}

// ToolError is a failed ffmpeg or ffprobe run: the exit error and the tail
// of what the tool wrote to stderr.
type ToolError struct {
	Tool   string
	Err    error  // usually *exec.ExitError
	Stderr string // last lines of stderr
}

// Error quotes the meaningful end of stderr (tailSummary): the last line
// alone often hides the cause, e.g. "Invalid data found when processing
// input" after "moov atom not found".
func (e *ToolError) Error() string {
	msg := tailSummary(e.Stderr)
	if msg == "" {
		return fmt.Sprintf("%s: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("%s: %s (%v)", e.Tool, msg, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }

// Bounds of the stderr quoted in a ToolError's message.
const (
	summaryLines   = 3   // distinct lines, the last ones
	summaryLineLen = 160 // bytes per line
)

// ffmpegContext is the " @ 0x55d…" address ffmpeg prints in a log line's
// "[demuxer @ address]" prefix; it differs per run and per instance.
var ffmpegContext = regexp.MustCompile(` @ 0x[0-9a-fA-F]+\]`)

// tailSummary is the last summaryLines distinct non-empty lines of stderr,
// oldest first, joined by "; ", each cut to summaryLineLen bytes, with
// ffmpeg's per-run object addresses and level tags ("[error] ") removed so
// repeats are seen as such.
func tailSummary(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var out []string
	seen := map[string]bool{}
	for i := len(lines) - 1; i >= 0 && len(out) < summaryLines; i-- {
		l := strings.TrimSpace(logLevel.ReplaceAllString(ffmpegContext.ReplaceAllString(lines[i], "]"), ""))
		if l == "" || seen[l] || strings.HasPrefix(l, "Last message repeated") {
			continue
		}
		seen[l] = true
		if len(l) > summaryLineLen {
			l = strings.ToValidUTF8(l[:summaryLineLen], "") + "…"
		}
		out = append(out, l)
	}
	slices.Reverse(out)
	return strings.Join(out, "; ")
}
