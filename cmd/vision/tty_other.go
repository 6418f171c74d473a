//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

// isTerminalFd is false where vision has no terminal check: no progress
// line, and no confirmation (pass --yes or not, the plan is still printed
// and --max-cost still applies).
func isTerminalFd(uintptr) bool { return false }
