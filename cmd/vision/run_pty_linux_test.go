//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/qwen-vision/vision/internal/dashtest"
)

// openPTY opens a pseudo-terminal pair with the standard library alone
// (posix_openpt, unlockpt, ptsname as ioctls).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyOutput collects what the program writes to the terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func readPTY(m *os.File) *ptyOutput {
	o := &ptyOutput{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

// startOnPTY runs vision with stdin and stderr on a new terminal (its
// controlling terminal, so Ctrl-C there is SIGINT) and stdout on out.
func startOnPTY(t *testing.T, dir, baseURL string, out io.Writer, args ...string) (*exec.Cmd, *os.File, *ptyOutput) {
	t.Helper()
	m, s := openPTY(t)
	cmd := visionCmd(t, dir, baseURL, args...)
	cmd.Stdin, cmd.Stderr, cmd.Stdout = s, s, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, m, readPTY(m)
}

// waitFor polls until cond or the deadline (a hang, not a speed check).
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// exitWithin waits for cmd; -1 when it is still running after d.
func exitWithin(cmd *exec.Cmd, d time.Duration) int {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return -2
		}
		return 0
	case <-time.After(d):
		return -1
	}
}

// TestRunConfirmCtrlC: Ctrl-C at the prompt ends the run (exit 130) without
// Enter, nothing is sent or written, and no progress line is drawn over
// the prompt while it waits (the progress ticker redraws every second).
func TestRunConfirmCtrlC(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 2)
	var stdout bytes.Buffer
	cmd, m, out := startOnPTY(t, dir, srv.URL, &stdout, "run", "in", "-p", "What is this?", "-o", "r.jsonl")
	if !waitFor(20*time.Second, func() bool { return strings.Contains(out.String(), "[y/N]") }) {
		t.Fatalf("no prompt:\n%s", out.String())
	}
	time.Sleep(1500 * time.Millisecond) // more than one progress tick
	if s := out.String(); strings.Contains(s, "█") || strings.Contains(s, "·") || strings.Contains(s, "\033[K") {
		t.Errorf("progress drawn while the prompt waits:\n%q", s)
	}
	m.Write([]byte{3}) // Ctrl-C
	if code := exitWithin(cmd, 10*time.Second); code != exitInterrupted {
		t.Fatalf("exit %d after Ctrl-C at the prompt, want 130 (-1: still waiting for Enter)\n%s", code, out.String())
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal written: %v", err)
	}
}

// TestRunConfirmWithJSON: --json on a terminal still asks (on stderr)
// unless --yes; "y" sends, and the JSON on stdout is untouched by it.
func TestRunConfirmWithJSON(t *testing.T) {
	srv := dashtest.New(t, e2eKey)
	dir := t.TempDir()
	distinctPNGs(t, filepath.Join(dir, "in"), 2)
	var stdout bytes.Buffer
	cmd, m, out := startOnPTY(t, dir, srv.URL, &stdout, "run", "in", "-p", "What is this?", "-o", "r.jsonl", "--json")
	if !waitFor(20*time.Second, func() bool { return strings.Contains(out.String(), "[y/N]") }) {
		cmd.Process.Kill()
		t.Fatalf("--json on a terminal did not ask:\nterminal: %s\nstdout: %s", out.String(), stdout.String())
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent before the answer", n)
	}
	m.Write([]byte("y\n"))
	if code := exitWithin(cmd, 20*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if !strings.HasPrefix(lastLine(stdout.String()), `{"summary":`) || strings.Contains(stdout.String(), "[y/N]") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	// --yes does not ask.
	cmd, _, out = startOnPTY(t, dir, srv.URL, io.Discard, "run", "in", "-p", "What is this?", "-o", "r2.jsonl", "--json", "--yes")
	if code := exitWithin(cmd, 20*time.Second); code != 0 || strings.Contains(out.String(), "[y/N]") {
		t.Errorf("--yes: exit %d\n%s", code, out.String())
	}
}

// TestIsTTY: only a terminal is one; /dev/null, /dev/zero (character
// devices too), files and pipes are not.
func TestIsTTY(t *testing.T) {
	_, s := openPTY(t)
	if !isTTY(s) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	for _, name := range []string{os.DevNull, "/dev/zero"} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if isTTY(f) {
			t.Errorf("%s is taken for a terminal", name)
		}
		f.Close()
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var nilFile *os.File
	for _, v := range []any{f, r, w, nilFile, &bytes.Buffer{}} {
		if isTTY(v) {
			t.Errorf("%T %v is taken for a terminal", v, v)
		}
	}
}
