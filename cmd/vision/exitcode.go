package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/qwen-vision/vision/tokens"
)

// Exit codes (DESIGN.md, CLI contract).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitItemsFailed = 3
	exitInterrupted = 130
)

const exitCodesHelp = `EXIT CODES:
   0    ok
   1    error
   2    usage: bad flags or arguments
   3    some items failed or violate limits
   130  interrupted`

// usageError marks a bad flag or argument (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// errItemsFailed means the command ran but some items failed or break limits
// (exit 3); what failed has already been reported.
var errItemsFailed = errors.New("some items failed or violate limits")

// hintError carries a "vision: hint:" line to print under the error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

// exitCode maps an error to the process exit status in one place.
func exitCode(ctx context.Context, err error) int {
	var ue usageError
	var oe *tokens.OptionError
	var um *tokens.UnknownModelError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return exitInterrupted
	case errors.Is(err, errItemsFailed):
		return exitItemsFailed
	case errors.As(err, &ue), errors.As(err, &oe), errors.As(err, &um), errors.Is(err, tokens.ErrBounds):
		return exitUsage
	}
	return exitError
}

// reportError prints err as "vision: error: …" with any hint, unless it only
// says items failed (already reported item by item).
func reportError(w io.Writer, err error) {
	if err == nil || errors.Is(err, errItemsFailed) {
		return
	}
	msg := inline(hideKeyShaped(strings.TrimPrefix(err.Error(), "tokens: ")))
	fmt.Fprintf(w, "vision: error: %s\n", msg)
	var he hintError
	if errors.As(err, &he) && he.hint != "" {
		fmt.Fprintf(w, "vision: hint: %s\n", inline(he.hint))
	}
}
