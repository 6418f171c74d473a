package main

import (
	"io"
	"log"
	"strconv"
	"strings"
	"sync"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/urfave/cli/v2"
)

// redactWriter is the last line of defence for the API key: everything
// vision writes to stdout or stderr goes through one, which replaces every
// key the run knows (from the environment at start, from --api-key or the
// key file once read) with its redacted form. On stdout it also holds back
// a tail of a write that could be the start of a key until the next write
// or Flush shows it is not, so a key written in pieces (a streamed answer)
// is caught too; stderr gets each write whole and at once (progress lines
// and prompts must not wait). It is safe for concurrent use.
type redactWriter struct {
	mu   sync.Mutex
	w    io.Writer
	r    *dashscope.Redactor
	hold bool
}

func newRedactWriter(w io.Writer, hold bool, keys ...string) *redactWriter {
	return &redactWriter{w: w, r: dashscope.NewRedactor(false, keys...), hold: hold}
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	out := ""
	if rw.hold {
		out = rw.r.Push(string(p))
	} else {
		out = rw.r.Scrub(string(p))
	}
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back.
func (rw *redactWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	_, err := io.WriteString(rw.w, rw.r.Flush())
	return err
}

func (rw *redactWriter) addKey(key string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.r.AddKey(key)
}

// underlying is the writer wrapped, for the terminal check (isTTY).
func (rw *redactWriter) underlying() any { return rw.w }

// protectKey tells the command's output writers about a key (and, for a
// value of several lines or words, about each of them).
func protectKey(c *cli.Context, value string) {
	for _, w := range []io.Writer{c.App.Writer, c.App.ErrWriter} {
		if rw, ok := w.(*redactWriter); ok {
			for _, k := range append(strings.Fields(value), strings.TrimSpace(value)) {
				rw.addKey(k)
			}
		}
	}
}

// guardOutput wraps stdout and stderr in redactWriters that know the key
// in $DASHSCOPE_API_KEY, and sends the standard logger (which net/http
// uses, e.g. for bytes a server sends on an idle connection, verbatim) to
// the redacted stderr with a "vision: " prefix. done flushes stdout and
// restores the logger.
func guardOutput(stdout, stderr io.Writer, envKey string) (out, errOut *redactWriter, done func()) {
	keys := append(strings.Fields(envKey), strings.TrimSpace(envKey))
	out, errOut = newRedactWriter(stdout, true, keys...), newRedactWriter(stderr, false, keys...)
	prevW, prevPrefix, prevFlags := log.Writer(), log.Prefix(), log.Flags()
	log.SetOutput(errOut)
	log.SetPrefix("vision: ")
	log.SetFlags(0)
	return out, errOut, func() {
		out.Flush()
		log.SetOutput(prevW)
		log.SetPrefix(prevPrefix)
		log.SetFlags(prevFlags)
	}
}

// keyShapes redacts anything shaped like a DashScope key (sk-…).
var keyShapes = dashscope.NewRedactor(true)

// hideKeyShaped redacts key-shaped strings from an error message: a key
// given to the wrong flag is echoed by the flag parser ("invalid value
// ... for flag").
func hideKeyShaped(msg string) string { return keyShapes.Scrub(msg) }

// shownValue quotes a flag's value for an error message, unless it looks
// like a key (then it says so instead).
func shownValue(v string) string {
	if dashscope.LooksLikeKey(v) {
		return "(a value that looks like an API key, not shown)"
	}
	return strconv.Quote(v)
}
