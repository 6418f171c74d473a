//go:build unix

package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestProbeNamedPipe: Probe and the decoder refuse a named pipe (a real
// mkfifo) with ErrNotRegular instead of blocking in open until something
// writes. Should they block, the test opens the pipe's write end after a
// minute to free them and fails.
func TestProbeNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.jpg")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan [2]error)
	go func() {
		_, perr := Probe(context.Background(), fifo)
		_, derr := DecodeUpright(context.Background(), fifo, Info{}, 0)
		done <- [2]error{perr, derr}
	}()
	select {
	case errs := <-done:
		for i, err := range errs {
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("call %d: err = %v, want ErrNotRegular", i, err)
			}
		}
	case <-time.After(time.Minute):
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("Probe blocked opening a named pipe")
	}
}
