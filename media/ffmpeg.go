package media

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// This is the only file that imports ffmpeg-go. It is used to build
// argument lists only: its Run/Compile log the command line and its
// timeouts drop their cancel function, so frames.go runs the arguments with
// exec.CommandContext itself (toolCommand). Bad graphs make ffmpeg-go
// panic; ffmpegArgs turns that into an error.

// ffmpegJob is one ffmpeg run that writes JPEG frames of one video to
// stdout.
type ffmpegJob struct {
	URL      string  // file: URL of the input
	Seek     float64 // input -ss in seconds from the start; 0: none
	SeekSet  bool    // Seek applies (it may be 0 for the first frame)
	Inexact  bool    // -noaccurate_seek: start at the keyframe before Seek
	KeysOnly bool    // decode keyframes only (-discard nokey -skip_frame nokey)
	Select   string  // a select filter expression; "": every frame
	// CountRate, if > 0, retimes every decoded frame by its count before
	// Select: pts = n / CountRate seconds (setpts), so showinfo reports
	// each frame's index instead of a decoder's guess at its time.
	CountRate  float64
	ShowInfo   bool // log each output frame's pts_time (showinfo) on stderr
	MaxFrames  int  // -frames:v: stop after this many output frames
	Width      int  // output size, upright (ffmpeg autorotates the input)
	Height     int
	QScale     int // -q:v of the MJPEG encoder, 2 (best) to 31; 0: DefaultQScale
	DecThreads int // decoder threads; 0: ffmpeg's default
	// Inputs, if set, open URL once per entry (each with its own seek)
	// and concatenate the frames each keeps into the one output stream,
	// in order: one ffmpeg start-up serves many seeks. Seek, SeekSet,
	// Inexact, KeysOnly and Select above are then unused.
	Inputs []ffmpegInput
}

// ffmpegInput is one seek of a multi-input job: it keeps the first Frames
// frames Select passes (counted from the seek point).
type ffmpegInput struct {
	Seek     float64
	SeekSet  bool
	Inexact  bool
	KeysOnly bool
	Select   string // select expression on n counted from the seek; "": all
	Frames   int    // frames kept from this input (> 0)
}

// ffmpegGlobalArgs come first in every ffmpeg command: no banner, no
// progress line, no reading of the terminal; loglevel info only when
// showinfo lines are wanted, else errors only. Every line is tagged with
// its level ("[error]"), so readFFmpegLog keeps warnings and errors and
// drops info chatter (stream descriptions, the final statistics).
func ffmpegGlobalArgs(showInfo bool) []string {
	level := "level+error"
	if showInfo {
		level = "level+info"
	}
	return []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", level}
}

// ffmpegArgs builds the argument list of j (without the program name).
func ffmpegArgs(j ffmpegJob) (args []string, err error) {
	if j.Width <= 0 || j.Height <= 0 {
		return nil, fmt.Errorf("ffmpeg: output size %dx%d must be positive", j.Width, j.Height)
	}
	if !strings.HasPrefix(j.URL, "file:") {
		return nil, fmt.Errorf("ffmpeg: input %q is not a file: URL", j.URL)
	}
	defer func() {
		if r := recover(); r != nil {
			args, err = nil, fmt.Errorf("ffmpeg: building arguments: %v", r)
		}
	}()
	input := func(in ffmpegInput) *ffmpeg.Stream {
		kw := ffmpeg.KwArgs{}
		if in.SeekSet {
			kw["ss"] = formatSeconds(in.Seek)
		}
		if in.Inexact {
			kw["noaccurate_seek"] = ""
		}
		if in.KeysOnly {
			kw["discard"] = "nokey"
			kw["skip_frame"] = "nokey"
		}
		if j.DecThreads > 0 {
			kw["threads"] = j.DecThreads
		}
		// V:0 is the first video stream that is not a cover picture.
		s := ffmpeg.Input(j.URL, kw).Get("V:0")
		if j.CountRate > 0 && len(j.Inputs) == 0 {
			s = s.Filter("setpts", ffmpeg.Args{"N/(" + formatSeconds(j.CountRate) + "*TB)"})
		}
		if in.Select != "" {
			s = s.Filter("select", ffmpeg.Args{in.Select})
		}
		return s
	}
	// showinfo without checksums: hashing every full-size frame cost 10% of
	// a pass; the timestamps are all that is read.
	showinfo := func(s *ffmpeg.Stream) *ffmpeg.Stream {
		return s.Filter("showinfo", nil, ffmpeg.KwArgs{"checksum": 0})
	}
	var s *ffmpeg.Stream
	if len(j.Inputs) == 0 {
		s = input(ffmpegInput{Seek: j.Seek, SeekSet: j.SeekSet, Inexact: j.Inexact, KeysOnly: j.KeysOnly, Select: j.Select})
		if j.ShowInfo {
			s = showinfo(s)
		}
	} else {
		parts := make([]*ffmpeg.Stream, len(j.Inputs))
		for k, in := range j.Inputs {
			if in.Frames <= 0 {
				return nil, fmt.Errorf("ffmpeg: input %d keeps %d frames", k, in.Frames)
			}
			// trim ends the input after its frames, so concat moves on
			// and ffmpeg decodes no further in it.
			parts[k] = input(in).Filter("trim", nil, ffmpeg.KwArgs{"end_frame": in.Frames})
			if j.ShowInfo {
				parts[k] = showinfo(parts[k])
			}
		}
		s = parts[0]
		if len(parts) > 1 {
			s = ffmpeg.Concat(parts, ffmpeg.KwArgs{"v": 1, "a": 0})
		}
	}
	s = s.Filter("scale", ffmpeg.Args{strconv.Itoa(j.Width), strconv.Itoa(j.Height)}, ffmpeg.KwArgs{"flags": "bicubic"}).
		Filter("setsar", ffmpeg.Args{"1"})
	q := j.QScale
	if q == 0 {
		q = DefaultQScale
	}
	out := ffmpeg.KwArgs{
		"format":   "image2pipe",
		"c:v":      "mjpeg",
		"q:v":      q,
		"fps_mode": "passthrough", // one output frame per selected frame, no duplicates
	}
	if j.MaxFrames > 0 {
		out["frames:v"] = j.MaxFrames
	}
	args = s.Output("pipe:1", out).GetArgs()
	global := ffmpegGlobalArgs(j.ShowInfo)
	if len(j.Inputs) > 0 {
		// Keep the file's own timestamps (a seek would otherwise shift
		// them, rounded to the stream's time base), so showinfo's tell
		// which frame each input gave.
		global = append(global, "-copyts")
	}
	return append(global, args...), nil
}

// formatSeconds prints a time for -ss: microsecond precision, no exponent.
func formatSeconds(t float64) string { return strconv.FormatFloat(t, 'f', 6, 64) }

// selectFrames is a select expression keeping the frames whose decode-order
// number n is in idx (ascending, unique). It is a balanced binary search of
// if(lt(n,M),…,…) with eq(n,I) leaves: ffmpeg's expression parser refuses
// nesting deeper than about 100 (so a flat eq+eq+… chain fails past 100
// frames), and the search costs log₂(len) comparisons per decoded frame.
func selectFrames(idx []int) string {
	var b strings.Builder
	var tree func(idx []int)
	tree = func(idx []int) {
		if len(idx) == 1 {
			fmt.Fprintf(&b, "eq(n,%d)", idx[0])
			return
		}
		m := len(idx) / 2
		fmt.Fprintf(&b, "if(lt(n,%d),", idx[m])
		tree(idx[:m])
		b.WriteByte(',')
		tree(idx[m:])
		b.WriteByte(')')
	}
	tree(idx)
	return b.String()
}

// selectTimes is a select expression keeping the frames whose timestamp t
// is within eps seconds of one of ts (ascending), as a binary search like
// selectFrames.
func selectTimes(ts []float64, eps float64) string {
	var b strings.Builder
	var tree func(ts []float64)
	tree = func(ts []float64) {
		if len(ts) == 1 {
			fmt.Fprintf(&b, "lt(abs(t-%s),%s)", formatSeconds(ts[0]), formatSeconds(eps))
			return
		}
		m := len(ts) / 2
		fmt.Fprintf(&b, "if(lt(t,%s),", formatSeconds((ts[m-1]+ts[m])/2))
		tree(ts[:m])
		b.WriteByte(',')
		tree(ts[m:])
		b.WriteByte(')')
	}
	tree(ts)
	return b.String()
}

// maxArgLen is the longest filter graph passed as an argument; Linux
// refuses single arguments over 128 KiB, so longer graphs (thousands of
// planned frames) go through -filter_complex_script and a temporary file.
const maxArgLen = 100_000

// scriptGraph moves an over-long -filter_complex argument into a file in
// dir, returning the new arguments and the file's path ("" if none).
func scriptGraph(args []string, dir string) ([]string, string, error) {
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-filter_complex" || len(args[i+1]) <= maxArgLen {
			continue
		}
		f, err := os.CreateTemp(dir, "vision-filter-*.txt")
		if err != nil {
			return nil, "", err
		}
		_, werr := f.WriteString(args[i+1])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(f.Name())
			return nil, "", werr
		}
		out := slices.Clone(args)
		out[i], out[i+1] = "-filter_complex_script", f.Name()
		return out, f.Name(), nil
	}
	return args, "", nil
}

// DefaultQScale is the MJPEG -q:v of extracted frames: 3 is close to JPEG
// quality 90, like DefaultQuality for images.
const DefaultQScale = 3

// ffmpegFrame is one JPEG that ffmpeg wrote, with the timestamp showinfo
// logged for it in seconds (NaN without showinfo, or when the frame had
// none: "pts:NOPTS").
type ffmpegFrame struct {
	Data []byte
	PTS  float64
}

// runFFmpeg runs j and calls each for every JPEG on ffmpeg's stdout, in
// order, numbering them from 0; it returns how many there were and the
// tail of ffmpeg's stderr (warnings of a run that succeeded). ctx kills
// ffmpeg (and so does an error from each); the process is always waited
// for. A failed run gives a *ToolError with the tail of ffmpeg's stderr.
func runFFmpeg(ctx context.Context, j ffmpegJob, each func(k int, f ffmpegFrame) error) (int, string, error) {
	args, err := ffmpegArgs(j)
	if err != nil {
		return 0, "", err
	}
	args, script, err := scriptGraph(args, "")
	if err != nil {
		return 0, "", fmt.Errorf("write ffmpeg filter script: %w", err)
	}
	if script != "" {
		defer os.Remove(script)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := toolCommand(runCtx, "ffmpeg", args)
	if err != nil {
		return 0, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, "", err
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return 0, "", fmt.Errorf("start ffmpeg: %w", err)
	}
	tail := newTail(stderrTailLines)
	times := make(chan float64, 16)
	stop := make(chan struct{}) // closed when no more timestamps are read
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		defer close(times)
		readFFmpegLog(stderr, tail, times, stop)
	}()

	n, loopErr := 0, error(nil)
	br := bufio.NewReaderSize(stdout, 1<<16)
	for {
		data, err := readJPEG(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			loopErr = fmt.Errorf("read ffmpeg output: %w", err)
			break
		}
		f := ffmpegFrame{Data: data, PTS: math.NaN()}
		if j.ShowInfo {
			// showinfo logs a frame before the encoder writes it, so its
			// line is on its way; a log that ended without it leaves NaN.
			if t, ok := <-times; ok {
				f.PTS = t
			}
		}
		if loopErr = each(n, f); loopErr != nil {
			break
		}
		n++
	}
	close(stop)
	if loopErr != nil {
		cancel()
	}
	_, _ = io.Copy(io.Discard, stdout) // until ffmpeg exits or is killed
	<-logDone
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return n, tail.String(), ctx.Err()
	case loopErr != nil:
		return n, tail.String(), loopErr
	case waitErr != nil:
		return n, tail.String(), &ToolError{Tool: "ffmpeg", Err: waitErr, Stderr: tail.String()}
	}
	return n, tail.String(), nil
}

var (
	showinfoTB    = regexp.MustCompile(`config in time_base: (\d+)/(\d+)`)
	showinfoFrame = regexp.MustCompile(`\bn:\s*\d+\s+pts:\s*(NOPTS|-?\d+)\s+pts_time:(\S+)`)
)

// logLevel matches the level tag ffmpeg puts on each line (-loglevel
// level+…), after the optional "[context @ address]" prefixes.
var logLevel = regexp.MustCompile(`\[(trace|debug|verbose|info|warning|error|fatal|panic)\] `)

// readFFmpegLog reads ffmpeg's stderr to the end: showinfo frame lines
// become timestamps on times (exact: pts × time base; NaN for NOPTS);
// warning and error lines (and untagged ones) go to tail without their
// tag, except swscale's pixel-format notices; other info lines are
// dropped. Sending blocks (one line per frame must never be lost, or every
// later frame would take its neighbour's time) until stop is closed.
func readFFmpegLog(r io.Reader, tail *tailBuffer, times chan<- float64, stop <-chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	tb := 0.0
	for sc.Scan() {
		line := sc.Text()
		level := ""
		if loc := logLevel.FindStringSubmatchIndex(line); loc != nil {
			level = line[loc[2]:loc[3]]
			line = line[:loc[0]] + line[loc[1]:]
		}
		if !strings.Contains(line, "[Parsed_showinfo_") {
			switch level {
			case "", "warning", "error", "fatal", "panic":
				if !strings.Contains(line, "deprecated pixel format") {
					_, _ = tail.Write([]byte(line + "\n"))
				}
			}
			continue
		}
		if m := showinfoTB.FindStringSubmatch(line); m != nil {
			num, den := parseFloat(m[1]), parseFloat(m[2])
			if den > 0 {
				tb = num / den
			}
			continue
		}
		m := showinfoFrame.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t := math.NaN()
		if m[1] != "NOPTS" {
			t = parseFloat(m[2])
			if tb > 0 {
				t = parseFloat(m[1]) * tb
			}
		}
		select {
		case times <- t:
		case <-stop:
		}
	}
	_, _ = io.Copy(io.Discard, r)
}
