package pipeline

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The import policy of DESIGN.md's package table, as data: the "may import"
// column (allow, besides the standard library) and the "must not" column
// (deny, standard-library or module paths refused even so). Like Go's own
// go/build deps_test, this is a statement of policy: change it on purpose,
// never to make a build pass.
const module = "github.com/qwen-vision/vision"

type rule struct {
	allow []string // import path prefixes allowed besides the standard library
	deny  []string // prefixes refused whatever allow says
	// noPrint: non-test files may not write to stdout/stderr, print or exit
	// (os.Stdout, os.Stderr, os.Exit, fmt.Print*, log.*, slog.*, print,
	// println).
	noPrint bool
}

// noLog is denied to every library package: libraries never log, they
// return errors and events for cmd/vision to render. "log" as a prefix also
// covers log/slog and log/syslog; log/slog is listed to say so.
var noLog = []string{"log", "log/slog"}

var policy = map[string]rule{
	"tokens": { // no I/O, no context, no other vision package
		allow:   nil,
		deny:    append([]string{"os", "io", "net", "image", "context", "bufio", "syscall", "path", module}, noLog...),
		noPrint: true,
	},
	"media": {
		allow:   []string{module + "/tokens", "github.com/disintegration/imaging", "golang.org/x/image", "github.com/u2takey/ffmpeg-go"},
		deny:    append([]string{module + "/dashscope", module + "/pipeline"}, noLog...),
		noPrint: true,
	},
	"dashscope": { // HTTP and JSON only: no file paths, no other vision package
		allow:   []string{"golang.org/x/time/rate"},
		deny:    append([]string{"os", "path/filepath", "io/fs", module + "/media", module + "/tokens", module + "/pipeline"}, noLog...),
		noPrint: true,
	},
	"pipeline": {
		allow:   []string{module + "/media", module + "/tokens", module + "/dashscope", "golang.org/x/sync", "golang.org/x/time"},
		deny:    append([]string{"github.com/urfave/cli"}, noLog...),
		noPrint: true,
	},
	"cmd/vision": {
		allow: []string{module + "/pipeline", module + "/dashscope", module + "/tokens", module + "/media", "github.com/urfave/cli/v2", "golang.org/x/sync"},
	},
}

// onlyIn confines an import to the named files (repo-relative).
var onlyIn = map[string][]string{
	"github.com/u2takey/ffmpeg-go": {"media/ffmpeg.go"},
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func TestImportPolicy(t *testing.T) {
	root, _ := filepath.Abs("..")
	for dir, r := range policy {
		pkg, err := build.ImportDir(filepath.Join(root, dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			switch {
			case hasPrefix(imp, r.deny):
				t.Errorf("%s imports %s: refused by DESIGN.md's \"must not\" column", dir, imp)
			case !isStd(imp) && !hasPrefix(imp, r.allow):
				t.Errorf("%s imports %s: not in DESIGN.md's \"may import\" column", dir, imp)
			}
		}
		for _, f := range pkg.GoFiles {
			rel := filepath.ToSlash(filepath.Join(dir, f))
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, rel), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range file.Imports {
				p, _ := strconv.Unquote(is.Path.Value)
				if files, confined := onlyIn[p]; confined && !contains(files, rel) {
					t.Errorf("%s imports %s: only %v may", rel, p, files)
				}
			}
			if r.noPrint {
				for _, use := range printing(file) {
					t.Errorf("%s uses %s: %s must not print, write to stdout/stderr or exit (DESIGN.md)", rel, use, dir)
				}
			}
		}
	}
}

// printing lists the uses in file of what a library must not do: os.Exit,
// os.Stdout, os.Stderr, fmt.Print/Printf/Println, any of packages log and
// log/slog, and the print/println builtins. Imports are followed through their local
// names, so an alias does not hide a use.
func printing(file *ast.File) []string {
	local := map[string]string{} // local name → import path
	for _, is := range file.Imports {
		p, _ := strconv.Unquote(is.Path.Value)
		name := filepath.Base(p)
		if is.Name != nil {
			name = is.Name.Name
		}
		local[name] = p
	}
	refused := map[string]map[string]bool{
		"os":  {"Exit": true, "Stdout": true, "Stderr": true},
		"fmt": {"Print": true, "Printf": true, "Println": true},
	}
	var uses []string
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok || id.Obj != nil { // a local variable, not a package
				return true
			}
			switch p := local[id.Name]; {
			case p == "log", p == "log/slog", refused[p][n.Sel.Name]:
				uses = append(uses, p+"."+n.Sel.Name)
			}
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Obj == nil && (id.Name == "print" || id.Name == "println") {
				uses = append(uses, id.Name)
			}
		}
		return true
	})
	return uses
}

// TestPrintingScanner: the scanner finds what it must, through aliases.
func TestPrintingScanner(t *testing.T) {
	src := `package p
import (
	o "os"
	"fmt"
	"log"
	"log/slog"
)
func f() {
	fmt.Fprintln(o.Stderr, "x")
	fmt.Println("y")
	log.Printf("z")
	slog.Info("v")
	println("w")
	o.Exit(2)
	var os struct{ Exit int }
	_ = os.Exit
}`
	file, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(printing(file), " ")
	if want := "os.Stderr fmt.Println log.Printf log/slog.Info println os.Exit"; got != want {
		t.Errorf("printing = %q, want %q", got, want)
	}
}

// TestLibrariesMayNotLog: every library package refuses log and log/slog
// (an added slog.Info in tokens once passed the policy).
func TestLibrariesMayNotLog(t *testing.T) {
	for _, dir := range []string{"tokens", "media", "dashscope", "pipeline"} {
		r, ok := policy[dir]
		if !ok || !r.noPrint {
			t.Errorf("%s: not held to the no-printing rule", dir)
		}
		for _, imp := range []string{"log", "log/slog", "log/syslog"} {
			if !hasPrefix(imp, r.deny) {
				t.Errorf("%s may import %s: libraries never log", dir, imp)
			}
		}
	}
}

// TestMakeFuzzBoundedByCount: every fuzz run in the Makefile is bounded by
// an execution count (-fuzztime Nx), never by a duration, which can fail
// with "context deadline exceeded" and no crasher (golang/go#51484,
// #75804), and
// keeps -fuzzminimizetime short, so a slow input cannot stall minimizing.
func TestMakeFuzzBoundedByCount(t *testing.T) {
	data, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+)\s*\??=\s*(\S+)`).FindAllStringSubmatch(string(data), -1) {
		vars[m[1]] = m[2]
	}
	value := func(v string) string {
		if m := regexp.MustCompile(`^\$\((\w+)\)$`).FindStringSubmatch(v); m != nil {
			return vars[m[1]]
		}
		return v
	}
	runs := 0
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, " -fuzz ") {
			continue
		}
		runs++
		f := strings.Fields(line)
		flags := map[string]string{}
		for i := 0; i+1 < len(f); i++ {
			flags[f[i]] = value(f[i+1])
		}
		if n := flags["-fuzztime"]; !regexp.MustCompile(`^[1-9][0-9]*x$`).MatchString(n) {
			t.Errorf("%q: -fuzztime %q, want an execution count such as 200000x", strings.TrimSpace(line), n)
		}
		if d, err := time.ParseDuration(flags["-fuzzminimizetime"]); err != nil || d > 10*time.Second {
			t.Errorf("%q: -fuzzminimizetime %q, want a short duration (at most 10s)", strings.TrimSpace(line), flags["-fuzzminimizetime"])
		}
	}
	if runs < 2 {
		t.Errorf("the Makefile runs %d fuzz targets, want FuzzSmartResize and FuzzProbeImage", runs)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
