//go:build unix

package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExpandNamedPipe: a named pipe (a real mkfifo) named directly,
// matched by a glob, met in a folder or behind a symbolic link is listed as
// skipped, never opened (opening a pipe with no writer would block the run
// forever); the estimate says so too.
func TestExpandNamedPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.jpg")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fifo, filepath.Join(dir, "sub", "link.jpg")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{fifo}, {filepath.Join(dir, "*.jpg")}, {dir}, {filepath.Join(dir, "sub")}} {
		got, err := Expand(context.Background(), args, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("%v: no inputs", args)
		}
		for _, in := range got {
			if in.Skip != "not a regular file (a named pipe)" {
				t.Errorf("%v: %s: skip %q, err %v", args, in.Path, in.Skip, in.Err)
			}
		}
		var reasons []string
		if _, err := EstimateInputs(context.Background(), testConfig(t), got, func(e Estimate) error {
			reasons = append(reasons, e.Status+": "+e.Reason)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if r := strings.Join(reasons, "; "); !strings.HasPrefix(r, "skipped: not a regular file") {
			t.Errorf("%v: estimate %s", args, r)
		}
	}
}
