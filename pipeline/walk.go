package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Input is one file found by Expand. Root is the folder argument it was found
// under ("" for a file named directly), so outputs can mirror the structure;
// Rel is its path relative to Root. Skip or Err say why it will not be
// processed; such inputs still get a result record.
type Input struct {
	Path string
	Root string
	Rel  string
	Skip string // reason it is skipped (e.g. "hidden directory not walked")
	Err  error  // why it could not be read (e.g. a symlink loop)
}

// Expand turns arguments into files: files as given, folders walked
// recursively in lexical order, glob patterns, "@list.txt" (one path a line,
// # comments) and "-" (paths on stdin, one a line). Duplicates are dropped.
// Problems with one argument become an Input with Err, never a fatal error,
// except a context cancellation.
func Expand(ctx context.Context, args []string, stdin io.Reader) ([]Input, error) {
	var out []Input
	seen := map[string]bool{}
	add := func(in Input) {
		key := in.Path
		if abs, err := filepath.Abs(in.Path); err == nil {
			key = abs
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, in)
	}
	var expand func(arg string, depth int) error
	expand = func(arg string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case arg == "-" && depth == 0:
			paths, err := readList(stdin)
			if err != nil {
				add(Input{Path: "-", Err: fmt.Errorf("read paths from stdin: %w", err)})
				return nil
			}
			for _, p := range paths {
				if err := expand(p, depth+1); err != nil {
					return err
				}
			}
			return nil
		case strings.HasPrefix(arg, "@") && depth == 0:
			f, err := os.Open(arg[1:])
			if err != nil {
				add(Input{Path: arg, Err: fmt.Errorf("read list %s: %w", arg[1:], err)})
				return nil
			}
			paths, err := readList(f)
			f.Close()
			if err != nil {
				add(Input{Path: arg, Err: fmt.Errorf("read list %s: %w", arg[1:], err)})
				return nil
			}
			for _, p := range paths {
				if err := expand(p, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		st, err := os.Stat(arg)
		if err != nil {
			if _, lerr := os.Lstat(arg); lerr != nil && hasGlobMeta(arg) {
				matches, gerr := filepath.Glob(arg)
				if gerr != nil {
					add(Input{Path: arg, Err: fmt.Errorf("glob %s: %w", arg, gerr)})
					return nil
				}
				if len(matches) == 0 {
					add(Input{Path: arg, Err: fmt.Errorf("glob %s: no files match", arg)})
					return nil
				}
				for _, m := range matches {
					if err := expand(m, depth+1); err != nil {
						return err
					}
				}
				return nil
			}
			add(Input{Path: arg, Err: err})
			return nil
		}
		if !st.IsDir() {
			add(Input{Path: arg, Rel: filepath.Base(arg)})
			return nil
		}
		return walkDir(ctx, arg, add)
	}
	for _, a := range args {
		if err := expand(a, 0); err != nil {
			return out, err
		}
	}
	return out, nil
}

// walkDir adds every regular file below root in lexical order. Symbolic
// links to files are followed; links to folders are not (so no loop can
// form) and are listed as skipped. Hidden folders are not walked.
func walkDir(ctx context.Context, root string, add func(Input)) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, _ := filepath.Rel(root, path)
		if err != nil {
			add(Input{Path: path, Root: root, Rel: rel, Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case d.IsDir():
			if path != root && strings.HasPrefix(name, ".") {
				add(Input{Path: path, Root: root, Rel: rel, Skip: "hidden directory not walked"})
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			st, err := os.Stat(path)
			switch {
			case err != nil:
				add(Input{Path: path, Root: root, Rel: rel, Err: err})
			case st.IsDir():
				add(Input{Path: path, Root: root, Rel: rel, Skip: "symbolic link to a directory not followed"})
			default:
				add(Input{Path: path, Root: root, Rel: rel})
			}
			return nil
		case !d.Type().IsRegular():
			add(Input{Path: path, Root: root, Rel: rel, Skip: "not a regular file"})
			return nil
		}
		add(Input{Path: path, Root: root, Rel: rel})
		return nil
	})
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// readList reads one path a line; blank lines and lines starting with # are
// ignored, surrounding white space is kept only inside the path.
func readList(r io.Reader) ([]string, error) {
	if r == nil {
		return nil, errors.New("no input")
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}
