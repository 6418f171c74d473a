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

	"github.com/qwen-vision/vision/media"
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

// ExpandOptions adjusts Expand.
type ExpandOptions struct {
	// SkipDirs are folders never walked or read from (a command's output
	// folder inside its input): each is listed once as skipped where the
	// walk meets it, and a folder argument inside one is skipped whole.
	SkipDirs []string
}

// errPattern is wrapped by the Err of a glob argument that is malformed or
// matches nothing.
var errPattern = errors.New("glob pattern")

// skipOutput is the Skip reason of a folder in ExpandOptions.SkipDirs.
const skipOutput = "output folder (-o) not walked"

// Expand turns arguments into files: files as given, folders walked
// recursively in lexical order, glob patterns, "@list.txt" (one path a line,
// # comments) and "-" (paths on stdin, one a line). Duplicates are dropped.
// Problems with one argument become an Input with Err, never a fatal error,
// except a context cancellation.
func Expand(ctx context.Context, args []string, stdin io.Reader) ([]Input, error) {
	return ExpandWith(ctx, args, stdin, ExpandOptions{})
}

// ExpandWith is Expand with options. A folder argument that is a symbolic
// link is walked, its files named below the link; links met inside are not
// followed. Anything that is not a regular file or a folder (a named pipe,
// a device, a socket) is listed as skipped and never opened. Files reached
// by several names (a link and its target) are kept once, by the first.
func ExpandWith(ctx context.Context, args []string, stdin io.Reader, o ExpandOptions) ([]Input, error) {
	var out []Input
	seen := map[string]bool{}
	add := func(in Input) {
		key := realKey(in.Path)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, in)
	}
	skip := make([]string, 0, len(o.SkipDirs))
	for _, d := range o.SkipDirs {
		skip = append(skip, realDir(d))
	}
	// skipped reports whether the folder path is (with inside, or is
	// inside) one of the skipped folders.
	skipped := func(path string, inside bool) bool {
		key := realDir(path)
		for _, d := range skip {
			if key == d || inside && strings.HasPrefix(key, d+string(filepath.Separator)) {
				return true
			}
		}
		return false
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
					add(Input{Path: arg, Err: fmt.Errorf("bad %w %q: %w (quote it or escape [ as \\[)", errPattern, arg, gerr)})
					return nil
				}
				if len(matches) == 0 {
					add(Input{Path: arg, Err: fmt.Errorf("no files match the %w %q", errPattern, arg)})
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
		switch {
		case st.IsDir() && skipped(arg, true):
			add(Input{Path: arg, Skip: skipOutput})
			return nil
		case st.IsDir():
			return walkDir(ctx, arg, add, skipped)
		case media.NonRegularKind(st.Mode()) != "":
			add(Input{Path: arg, Rel: filepath.Base(arg), Skip: notRegular(st.Mode())})
			return nil
		}
		add(Input{Path: arg, Rel: filepath.Base(arg)})
		return nil
	}
	for _, a := range args {
		if err := expand(a, 0); err != nil {
			return out, err
		}
	}
	return out, nil
}

// walkDir adds every regular file below root in lexical order. A root that
// is a symbolic link to a folder is walked, its files named below the link.
// Symbolic links to files are followed; links to folders below root are not
// (so no loop can form) and are listed as skipped, as are hidden folders,
// the skipped folders and files that are not regular.
func walkDir(ctx context.Context, root string, add func(Input), skipped func(string, bool) bool) error {
	walkRoot := root
	if real, err := filepath.EvalSymlinks(root); err == nil {
		walkRoot = real
	}
	found := 0
	counted := func(in Input) { found++; add(in) }
	err := walkTree(ctx, root, walkRoot, counted, skipped)
	if err == nil && found == 0 { // named on purpose: say why nothing came of it
		add(Input{Path: root, Skip: "empty folder: no files in it"})
	}
	return err
}

// walkTree is walkDir's walk of walkRoot (root with its links resolved).
func walkTree(ctx context.Context, root, walkRoot string, add func(Input), skipped func(string, bool) bool) error {
	return filepath.WalkDir(walkRoot, func(realPath string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, _ := filepath.Rel(walkRoot, realPath)
		path := root
		if rel != "." {
			path = filepath.Join(root, rel)
		}
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
			if realPath == walkRoot {
				return nil
			}
			if strings.HasPrefix(name, ".") {
				add(Input{Path: path, Root: root, Rel: rel, Skip: "hidden directory not walked"})
				return fs.SkipDir
			}
			if skipped(realPath, false) {
				add(Input{Path: path, Root: root, Rel: rel, Skip: skipOutput})
				return fs.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			st, err := os.Stat(realPath)
			switch {
			case err != nil:
				add(Input{Path: path, Root: root, Rel: rel, Err: err})
			case st.IsDir() && skipped(realPath, false):
				add(Input{Path: path, Root: root, Rel: rel, Skip: skipOutput})
			case st.IsDir():
				add(Input{Path: path, Root: root, Rel: rel, Skip: "symbolic link to a directory not followed"})
			case media.NonRegularKind(st.Mode()) != "":
				add(Input{Path: path, Root: root, Rel: rel, Skip: notRegular(st.Mode())})
			default:
				add(Input{Path: path, Root: root, Rel: rel})
			}
			return nil
		case !d.Type().IsRegular():
			add(Input{Path: path, Root: root, Rel: rel, Skip: notRegular(d.Type())})
			return nil
		}
		add(Input{Path: path, Root: root, Rel: rel})
		return nil
	})
}

// notRegular is the Skip reason of a file that is not a regular file.
func notRegular(m fs.FileMode) string {
	return "not a regular file (" + media.NonRegularKind(m) + ")"
}

// SameDir reports whether a and b name the same folder (links resolved; a
// folder that does not exist yet compares by its resolved parent).
func SameDir(a, b string) bool { return realDir(a) == realDir(b) }

// realDir is the folder path absolute with every link resolved, or
// realKey(path) while it does not exist.
func realDir(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		if abs, err := filepath.Abs(real); err == nil {
			return abs
		}
	}
	return realKey(path)
}

// realKey is path made absolute with the links in its folder resolved (not
// a link it ends in), so one file reached by two names has one key.
func realKey(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	dir, base := filepath.Split(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(real, base)
	}
	// The folder may not exist yet (an output folder): resolve what does.
	if parent, err := filepath.EvalSymlinks(filepath.Dir(filepath.Clean(dir))); err == nil {
		return filepath.Join(parent, filepath.Base(filepath.Clean(dir)), base)
	}
	return abs
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
