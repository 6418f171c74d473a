package pipeline

import (
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The import policy of DESIGN.md, as data. Like Go's own go/build deps_test,
// this is a statement of policy: change it on purpose, never to make a build
// pass.
const module = "github.com/qwen-vision/vision"

type rule struct {
	allow []string // import path prefixes allowed besides the standard library
	deny  []string // standard-library or other prefixes refused even so
}

var policy = map[string]rule{
	"tokens": {
		allow: nil,
		deny:  []string{"os", "io", "net", "image", "context", "bufio", "syscall", "path"},
	},
	"media": {
		allow: []string{module + "/tokens", "github.com/disintegration/imaging", "golang.org/x/image", "github.com/u2takey/ffmpeg-go"},
	},
	"dashscope": {
		allow: []string{"golang.org/x/time/rate"},
	},
	"pipeline": {
		allow: []string{module + "/media", module + "/tokens", module + "/dashscope", "golang.org/x/sync", "golang.org/x/time"},
	},
	"cmd/vision": {
		allow: []string{module + "/pipeline", module + "/dashscope", module + "/tokens", module + "/media", "github.com/urfave/cli/v2", "golang.org/x/sync", "golang.org/x/term"},
	},
}

// onlyIn confines an import to the named files (repo-relative).
var onlyIn = map[string][]string{
	"github.com/u2takey/ffmpeg-go": {"media/ffmpeg.go"},
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func TestImportPolicy(t *testing.T) {
	root, _ := filepath.Abs("..")
	for dir, r := range policy {
		pkg, err := build.ImportDir(filepath.Join(root, dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			if isStd(imp) {
				for _, d := range r.deny {
					if imp == d || strings.HasPrefix(imp, d+"/") {
						t.Errorf("%s imports %s: not allowed (DESIGN.md package table)", dir, imp)
					}
				}
				continue
			}
			ok := false
			for _, a := range r.allow {
				if imp == a || strings.HasPrefix(imp, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: not allowed (DESIGN.md package table)", dir, imp)
			}
		}
		for _, f := range pkg.GoFiles {
			rel := filepath.ToSlash(filepath.Join(dir, f))
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, rel), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range file.Imports {
				p, _ := strconv.Unquote(is.Path.Value)
				if files, confined := onlyIn[p]; confined && !contains(files, rel) {
					t.Errorf("%s imports %s: only %v may", rel, p, files)
				}
			}
		}
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
