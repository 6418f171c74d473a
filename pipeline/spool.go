package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/qwen-vision/vision/dashscope"
)

// spool keeps a request's prepared media in one temporary file instead of
// memory, so a request of 250 images costs a few chunks of memory while its
// body streams (issue 5: under 64 MiB). Items are appended from any
// goroutine and read back through io.SectionReaders, as often as retries
// need. The file is unlinked as soon as it is open where the system allows
// it (nothing is left behind even after a crash) and removed by Close
// otherwise.
type spool struct {
	mu     sync.Mutex
	f      *os.File
	size   int64
	remove bool // the file still has a name to remove on Close
}

// newSpool creates the spool file in the temporary folder.
func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "vision-ask-*.media")
	if err != nil {
		return nil, fmt.Errorf("temporary media file: %w", err)
	}
	s := &spool{f: f}
	// On Unix an open file outlives its name; elsewhere Close removes it.
	s.remove = os.Remove(f.Name()) != nil
	return s, nil
}

// add writes data to the spool and returns it as a Media read from there.
func (s *spool) add(mime string, data []byte) (dashscope.Media, error) {
	n := int64(len(data))
	s.mu.Lock()
	off := s.size
	s.size += n
	s.mu.Unlock()
	if _, err := s.f.WriteAt(data, off); err != nil {
		return dashscope.Media{}, fmt.Errorf("temporary media file: %w", err)
	}
	return dashscope.MediaReaderAt(mime, io.NewSectionReader(s.f, off, n), n), nil
}

// Close closes and, if it still exists, removes the file.
func (s *spool) Close() error {
	err := s.f.Close()
	if s.remove {
		if rerr := os.Remove(s.f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// mediaFor returns data as request media: from the spool when there is
// one, else in memory.
func mediaFor(sp *spool, mime string, data []byte) (dashscope.Media, error) {
	if sp == nil {
		return dashscope.MediaBytes(mime, data), nil
	}
	return sp.add(mime, data)
}
