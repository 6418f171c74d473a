//go:build unix

package media

import "syscall"

// openFlags opens without blocking: opening a named pipe with no writer
// returns at once (and is then refused), instead of waiting forever.
const openFlags = syscall.O_RDONLY | syscall.O_NONBLOCK
