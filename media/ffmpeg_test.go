package media

import (
	"os"
	"strings"
	"testing"
)

// TestFFmpegArgsGolden pins the ffmpeg command lines of every extraction
// mode (built by ffmpegArgs, never run here).
func TestFFmpegArgsGolden(t *testing.T) {
	const url = "file:/videos/-i concat:a|b.mp4"
	cases := []struct {
		name string
		job  ffmpegJob
	}{
		{"pass", ffmpegJob{URL: url, Select: selectFrames([]int{0, 14, 28, 42, 57, 71, 85, 99}), ShowInfo: true, MaxFrames: 8, Width: 352, Height: 192}},
		{"seek", ffmpegJob{URL: url, SeekSet: true, Seek: 2.26, MaxFrames: 1, Width: 352, Height: 192, DecThreads: 1}},
		{"seek_first", ffmpegJob{URL: url, MaxFrames: 1, Width: 352, Height: 192, QScale: 5}},
		{"keyframes_pass", ffmpegJob{URL: url, KeysOnly: true, Select: selectTimes([]float64{0, 1, 2, 3}, 0.018), ShowInfo: true, MaxFrames: 4, Width: 192, Height: 352}},
		{"keyframes_decoded", ffmpegJob{URL: url, CountRate: 25, Select: "key", ShowInfo: true, Width: 352, Height: 192}},
		{"pass_by_time", ffmpegJob{URL: url, Select: selectTimes([]float64{0, 0.56, 1.16}, 0.018), ShowInfo: true, MaxFrames: 3, Width: 352, Height: 192}},
		{"keyframes_seek", ffmpegJob{URL: url, Inexact: true, SeekSet: true, Seek: 10.018, MaxFrames: 1, Width: 352, Height: 192, DecThreads: 2}},
		{"seek_multi", ffmpegJob{URL: url, ShowInfo: true, MaxFrames: 4, Width: 352, Height: 192, DecThreads: 1, Inputs: []ffmpegInput{
			{Frames: 1},
			{SeekSet: true, Seek: 2.26, Select: selectFrames([]int{0, 3}), Frames: 2},
			{SeekSet: true, Seek: 7.5, Frames: 1},
		}}},
		{"keyframes_multi", ffmpegJob{URL: url, ShowInfo: true, MaxFrames: 2, Width: 352, Height: 192, DecThreads: 1, Inputs: []ffmpegInput{
			{Inexact: true, KeysOnly: true, SeekSet: true, Seek: 0.018, Frames: 1},
			{Inexact: true, KeysOnly: true, SeekSet: true, Seek: 10.018, Frames: 1},
		}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args, err := ffmpegArgs(c.job)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "ffmpeg/"+c.name+".txt", []byte(strings.Join(args, "\n")+"\n"))
		})
	}
}

func TestFFmpegArgsErrors(t *testing.T) {
	if _, err := ffmpegArgs(ffmpegJob{URL: "/x.mp4", Width: 2, Height: 2}); err == nil {
		t.Error("a bare path was accepted")
	}
	if _, err := ffmpegArgs(ffmpegJob{URL: "file:/x.mp4"}); err == nil {
		t.Error("a zero size was accepted")
	}
	if _, err := ffmpegArgs(ffmpegJob{URL: "file:/x.mp4", Width: 2, Height: 2, Inputs: []ffmpegInput{{}}}); err == nil {
		t.Error("an input keeping no frames was accepted")
	}
}

func TestSelectFrames(t *testing.T) {
	for _, c := range []struct {
		idx  []int
		want string
	}{
		{[]int{7}, "eq(n,7)"},
		{[]int{1, 5}, "if(lt(n,5),eq(n,1),eq(n,5))"},
		{[]int{1, 5, 9}, "if(lt(n,5),eq(n,1),if(lt(n,9),eq(n,5),eq(n,9)))"},
	} {
		if got := selectFrames(c.idx); got != c.want {
			t.Errorf("selectFrames(%v) = %s, want %s", c.idx, got, c.want)
		}
	}
	if got, want := selectTimes([]float64{0, 1}, 0.02), "if(lt(t,0.500000),lt(abs(t-0.000000),0.020000),lt(abs(t-1.000000),0.020000))"; got != want {
		t.Errorf("selectTimes = %s, want %s", got, want)
	}
}

func TestScriptGraph(t *testing.T) {
	short := []string{"-i", "file:/x", "-filter_complex", "scale=2:2"}
	if got, file, err := scriptGraph(short, t.TempDir()); err != nil || file != "" || strings.Join(got, " ") != strings.Join(short, " ") {
		t.Errorf("short graph: %v %q %v", got, file, err)
	}
	long := []string{"-i", "file:/x", "-filter_complex", strings.Repeat("x", maxArgLen+1), "out"}
	got, file, err := scriptGraph(long, t.TempDir())
	if err != nil || file == "" || got[2] != "-filter_complex_script" || got[3] != file || got[4] != "out" {
		t.Fatalf("long graph: %q %q %v", got[:3], file, err)
	}
	if data, _ := os.ReadFile(file); string(data) != long[3] {
		t.Errorf("script holds %d bytes, want %d", len(data), len(long[3]))
	}
	if long[2] != "-filter_complex" {
		t.Error("scriptGraph changed its input")
	}
}
