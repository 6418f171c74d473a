package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
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

// last returns the last kept line, the one that usually names the failure.
func (t *tailBuffer) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) > 0 {
		return string(t.partial)
	}
	if len(t.lines) == 0 {
		return ""
	}
	return t.lines[len(t.lines)-1]
}

// ToolError is a failed ffmpeg or ffprobe run: the exit error and the tail
// of what the tool wrote to stderr.
type ToolError struct {
	Tool   string
	Err    error  // usually *exec.ExitError
	Stderr string // last lines of stderr
}

func (e *ToolError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg == "" {
		return fmt.Sprintf("%s: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("%s: %s (%v)", e.Tool, msg, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }
