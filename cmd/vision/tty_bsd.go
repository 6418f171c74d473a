//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import "syscall"

// ioctlGetTermios is the request that reads a terminal's settings; it
// fails with ENOTTY on anything that is not a terminal.
const ioctlGetTermios = syscall.TIOCGETA
