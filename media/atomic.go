package media

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is wrapped by WriteFileNew when the file is already there.
var ErrExists = fs.ErrExist

// WriteFileAtomic writes data to path so that readers see either the old
// file or the complete new one: it writes a temporary file in the same
// directory, syncs it, sets perm and renames it over path. It does not check
// whether path is one of the inputs; callers use SameFile for that.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, data, perm, func(tmp string) error { return os.Rename(tmp, path) })
}

// WriteFileNew is WriteFileAtomic that never replaces a file: the complete
// temporary file is hard-linked to path, which fails, wrapping ErrExists,
// when path exists (even if it appeared after any earlier check). Where the
// file system has no hard links it falls back to an exclusive create
// followed by the write, which is no longer atomic for readers.
func WriteFileNew(path string, data []byte, perm os.FileMode) error {
	err := writeAtomic(path, data, perm, func(tmp string) error {
		err := os.Link(tmp, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			os.Remove(tmp)
			return err
		}
		// No hard links (some FUSE or network file systems): O_EXCL.
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if cerr != nil {
			return cerr
		}
		os.Remove(tmp)
		_, werr := f.Write(data)
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
		}
		return werr
	})
	return err
}

// writeAtomic writes data to a synced temporary file beside path and hands
// its name to commit, removing it if commit fails.
func writeAtomic(path string, data []byte, perm os.FileMode, commit func(tmp string) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = commit(tmp.Name()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil { // persist the rename; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// SameFile reports whether a and b name the same existing file (following
// symlinks and hard links), so an output never overwrites an input.
func SameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(sa, sb)
}
