package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

func TestShardParse(t *testing.T) {
	good := map[string]Shard{"1/3": {1, 3}, "3/3": {3, 3}, " 2 / 5 ": {2, 5}, "1/1": {1, 1}}
	for in, want := range good {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":      "want i/n",
		"3":     "want i/n",
		"a/3":   "whole numbers",
		"1/b":   "whole numbers",
		"1.5/3": "whole numbers",
		"0/3":   "between 1 and 3",
		"4/3":   "between 1 and 3",
		"-1/3":  "between 1 and 3",
		"1/0":   "at least 1",
		"0/0":   "at least 1",
	}
	for in, msg := range bad {
		if _, err := ParseShard(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseShard(%q) error = %v, want one containing %q", in, err, msg)
		}
	}
	if s := (Shard{2, 7}).String(); s != "2/7" {
		t.Errorf("String = %q", s)
	}
}

func TestShardPartition(t *testing.T) {
	var paths []string
	for i := range 3000 {
		paths = append(paths, fmt.Sprintf("videos/day%02d/clip-%04d.mp4", i%31, i))
	}
	for _, n := range []int{1, 2, 3, 7} {
		counts := make([]int, n)
		for _, p := range paths {
			in := 0
			for i := 1; i <= n; i++ {
				if (Shard{i, n}).Keep(p) {
					in++
					counts[i-1]++
				}
			}
			if in != 1 {
				t.Fatalf("n=%d: %s is in %d shards, want exactly 1", n, p, in)
			}
		}
		for i, c := range counts { // expected 3000/n; binomial sd is below 50
			if want := len(paths) / n; c < want*85/100 || c > want*115/100 {
				t.Errorf("n=%d: shard %d has %d of %d items, want about %d", n, i+1, c, len(paths), want)
			}
		}
	}
}

func TestShardKeepIsStable(t *testing.T) {
	s := Shard{2, 3}
	for _, p := range []string{"a.jpg", "dir/b.png", "x/y/z.mp4"} {
		if s.Keep(p) != s.Keep("./"+p) || s.Keep(p) != s.Keep(strings.ReplaceAll("./"+p, "/", "//")) {
			t.Errorf("Keep(%q) depends on how the path is spelled", p)
		}
	}
	// Pinned values: changing the hash would silently re-split running jobs.
	for p, want := range map[string]int{"a.jpg": 2, "dir/b.png": 3, "x/y/z.mp4": 1} {
		for i := 1; i <= 3; i++ {
			if got := (Shard{i, 3}).Keep(p); got != (i == want) {
				t.Errorf("Shard{%d, 3}.Keep(%q) = %v; %s belongs to shard %d", i, p, got, p, want)
			}
		}
	}
	if (Shard{}).Keep("anything") != true {
		t.Error("the zero Shard must keep everything")
	}
}
