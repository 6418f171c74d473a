package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "b.jpg"), "x")
	writeFile(t, filepath.Join(dir, "a", "c d é.png"), "x")
	writeFile(t, filepath.Join(dir, "a", "-dash.png"), "x")
	writeFile(t, filepath.Join(dir, "a", ".git", "config"), "x")
	writeFile(t, filepath.Join(dir, "z.txt"), "x")
	writeFile(t, filepath.Join(dir, "list.txt"), filepath.Join(dir, "z.txt")+"\n# comment\n\n"+filepath.Join(dir, "missing.jpg")+"\n")
	if err := os.Symlink(dir, filepath.Join(dir, "a", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("selfloop", filepath.Join(dir, "selfloop")); err != nil {
		t.Fatal(err)
	}

	got, err := Expand(context.Background(), []string{
		filepath.Join(dir, "a"),
		filepath.Join(dir, "a", "b.jpg"), // duplicate: dropped
		"@" + filepath.Join(dir, "list.txt"),
		filepath.Join(dir, "*.txt"),
		filepath.Join(dir, "selfloop"),
		"-",
	}, strings.NewReader(filepath.Join(dir, "a", "b.jpg")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, in := range got {
		s := strings.TrimPrefix(in.Path, dir)
		switch {
		case in.Err != nil:
			s += " err"
		case in.Skip != "":
			s += " skip: " + in.Skip
		default:
			s += " rel=" + in.Rel
		}
		lines = append(lines, s)
	}
	want := []string{
		"/a/-dash.png rel=-dash.png",
		"/a/.git skip: hidden directory not walked",
		"/a/b.jpg rel=b.jpg",
		"/a/c d é.png rel=c d é.png",
		"/a/loop skip: symbolic link to a directory not followed",
		"/z.txt rel=z.txt",
		"/missing.jpg err",
		"/list.txt rel=list.txt",
		"/selfloop err",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Expand:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestExpandGlobWithoutMatches: a pattern that matches nothing, or is not
// a valid pattern, is an error naming the pattern, also once the problem
// line has dropped the path from the message.
func TestExpandGlobWithoutMatches(t *testing.T) {
	for _, c := range []struct{ pattern, want string }{
		{filepath.Join(t.TempDir(), "*.jpg"), "no files match the glob pattern"},
		{filepath.Join(t.TempDir(), "[.jpg"), "bad glob pattern"},
	} {
		got, err := Expand(context.Background(), []string{c.pattern}, nil)
		if err != nil || len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), c.want) {
			t.Fatalf("got %+v, %v", got, err)
		}
		var msg, fix string
		if _, err := EstimateInputs(context.Background(), testConfig(t), got, func(e Estimate) error {
			if len(e.Problems) == 1 {
				msg, fix = e.Problems[0].Message, e.Problems[0].Fix
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, c.pattern) {
			t.Errorf("problem message %q: want %q and the pattern %s", msg, c.want, c.pattern)
		}
		if !strings.Contains(fix, "check the pattern") {
			t.Errorf("fix %q: want the pattern's", fix)
		}
	}
}

// TestExpandSymlinkedRoot: a folder named on the command line is walked
// even when it is a symbolic link to a folder, its files named below the
// link; links to folders met while walking stay unfollowed (one points back
// up: no loop); the same files named through the real folder are
// duplicates.
func TestExpandSymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	writeFile(t, filepath.Join(real, "x.jpg"), "x")
	writeFile(t, filepath.Join(real, "sub", "y.jpg"), "x")
	link := filepath.Join(dir, "link")
	for _, l := range [][2]string{{real, link}, {real, filepath.Join(real, "sub", "up")}, {"loop", filepath.Join(dir, "loop")}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Expand(context.Background(), []string{link, real, filepath.Join(dir, "loop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, in := range got {
		s := strings.TrimPrefix(in.Path, dir) + " root=" + strings.TrimPrefix(in.Root, dir) + " rel=" + in.Rel
		if in.Skip != "" {
			s += " skip: " + in.Skip
		}
		if in.Err != nil {
			s += " err"
		}
		lines = append(lines, s)
	}
	want := []string{
		"/link/sub/up root=/link rel=sub/up skip: symbolic link to a directory not followed",
		"/link/sub/y.jpg root=/link rel=sub/y.jpg",
		"/link/x.jpg root=/link rel=x.jpg",
		"/loop root= rel= err",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Expand:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestExpandSkipDirs: a command's output folder is not walked, wherever
// the walk meets it (named through a link too), and a folder argument
// inside it is not read either; each is listed once as skipped.
func TestExpandSkipDirs(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	writeFile(t, filepath.Join(a, "x.jpg"), "x")
	writeFile(t, filepath.Join(a, "out", "y.jpg"), "x")
	writeFile(t, filepath.Join(a, "out", "deeper", "z.jpg"), "x")
	if err := os.Symlink(filepath.Join(a, "out"), filepath.Join(dir, "outlink")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{a}, "/a/out skip; /a/x.jpg"},
		{[]string{filepath.Join(a, "out", "deeper"), filepath.Join(a, "out")}, "/a/out/deeper skip; /a/out skip"},
	} {
		got, err := ExpandWith(context.Background(), c.args, nil, ExpandOptions{SkipDirs: []string{filepath.Join(dir, "outlink")}})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, in := range got {
			s := strings.TrimPrefix(in.Path, dir)
			if in.Skip != "" {
				s += " skip"
				if in.Skip != "output folder (-o) not walked" {
					t.Errorf("%s: reason %q", in.Path, in.Skip)
				}
			}
			lines = append(lines, s)
		}
		if strings.Join(lines, "; ") != c.want {
			t.Errorf("%v: %s, want %s", c.args, strings.Join(lines, "; "), c.want)
		}
	}
}

func TestExpandCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Expand(ctx, []string{t.TempDir()}, nil); err == nil {
		t.Fatal("cancelled expand succeeded")
	}
}

func TestPromptTokens(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"qwenvl markdown", 4},
		{"Describe this image.", 6},
		{"描述这张图片", 6},
	} {
		if got := PromptTokens(tc.s); got != tc.want {
			t.Errorf("PromptTokens(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
