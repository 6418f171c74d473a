package media

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped when a path names something other than a regular
// file: a named pipe, a device or a socket. Such a file is never opened for
// reading, since opening a pipe with no writer blocks forever.
var ErrNotRegular = errors.New("media: not a regular file")

// NonRegularKind names a file mode that is not a regular file or folder
// ("a named pipe", "a device", "a socket"), or "" for those two.
func NonRegularKind(m fs.FileMode) string {
	switch {
	case m.IsRegular(), m.IsDir():
		return ""
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// openRegular opens path for reading only if it is a regular file (after
// following links). The open does not block (openFlags), so a named pipe is
// opened, found to be one and closed at once.
func openRegular(path string) (*os.File, error) {
	if openFlags == os.O_RDONLY { // no O_NONBLOCK here: look before opening
		if st, err := os.Stat(path); err == nil {
			if k := NonRegularKind(st.Mode()); k != "" {
				return nil, fmt.Errorf("%w (%s)", ErrNotRegular, k)
			}
		}
	}
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if k := NonRegularKind(st.Mode()); k != "" {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", ErrNotRegular, k)
	}
	return f, nil
}

// readRegular is os.ReadFile for regular files only (see openRegular).
func readRegular(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil {
		buf.Grow(int(st.Size()) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}
