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

func TestExpandGlobWithoutMatches(t *testing.T) {
	got, err := Expand(context.Background(), []string{filepath.Join(t.TempDir(), "*.jpg")}, nil)
	if err != nil || len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "no files match") {
		t.Fatalf("got %+v, %v", got, err)
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
