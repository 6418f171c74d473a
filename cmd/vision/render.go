package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qwen-vision/vision/pipeline"
	"github.com/urfave/cli/v2"
)

// sizeText renders WIDTHxHEIGHT, or "-" when unknown.
func sizeText(w, h int) string {
	if w <= 0 || h <= 0 {
		return "-"
	}
	return fmt.Sprintf("%dx%d", w, h)
}

// shown is a name as printed in text output: as it is, unless it holds
// control characters (a newline, a tab, a terminal escape) or invalid
// UTF-8, which would break a table line or the terminal; then it is
// quoted with them escaped ("a\nb.jpg"). JSON output keeps names exact.
func shown(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strconv.Quote(s)
}

// inline is free text (an error, a reason, a note) as printed on one line:
// control characters and invalid UTF-8 escaped as in a Go string, without
// quotes, so a name quoted in a message cannot break the line or drive the
// terminal.
func inline(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// outputNotInput refuses an -o folder that is one of the folders given as
// input: every output would land among the inputs (and the walk skips the
// output folder, so nothing would be done).
func outputNotInput(out string, args []string, sub string) error {
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.IsDir() && pipeline.SameDir(a, out) {
			return usagef("-o %s is the input folder %s itself: write to another folder, or to a new subfolder (-o %s)", out, a, filepath.Join(out, sub))
		}
	}
	return nil
}

// orDash renders s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statusText renders an item's status with its reason or error.
func statusText(e pipeline.Estimate) string {
	switch {
	case e.Reason != "":
		return e.Status + ": " + inline(e.Reason)
	case e.Error != "":
		return e.Status + ": " + inline(e.Error)
	}
	return e.Status
}

// finishFiles ends a command that handled files one by one: the summary
// ({"summary": …} with --json, else one line naming what was done) and
// exit 3 when any file failed.
func finishFiles(c *cli.Context, enc *json.Encoder, sum pipeline.Summary, done string) error {
	if c.Bool("json") {
		if err := enc.Encode(map[string]any{"summary": sum}); err != nil {
			return err
		}
	} else if !c.Bool("quiet") {
		fmt.Fprintf(c.App.Writer, "\n%d files: %d %s, %d skipped, %d failed\n", sum.Files, sum.OK, done, sum.Skipped, sum.Failed)
	}
	if sum.Failed > 0 {
		return errItemsFailed
	}
	return nil
}

// writeNotes prints what was done to items and why ("JPEG quality lowered
// from 90 to 80 to fit …") after a table.
func writeNotes(w io.Writer, notes []string) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, inline(n))
	}
}
