//go:build !unix

package pipeline

import "os"

// lockFile is best effort where there is no flock: no lock is taken, and
// two processes must not be given the same journal.
func lockFile(*os.File) error { return nil }

// syncDir does nothing where folders cannot be opened and synced.
func syncDir(string) error { return nil }
