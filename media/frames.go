package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/qwen-vision/vision/tokens"
)

// ErrFrameMissing is wrapped when a planned frame is not in the video (the
// plan counted frames the file does not have, or the decoder dropped a
// damaged one).
var ErrFrameMissing = errors.New("media: planned frame not in the video")

// ErrWrongFrame is wrapped when ffmpeg gives a frame whose timestamp is not
// the planned frame's: seeking missed in this file, or a damaged frame was
// dropped. No such frame is ever handed on.
var ErrWrongFrame = errors.New("ffmpeg gave another frame than planned")

// ErrSeekMissed is wrapped (with ErrWrongFrame or ErrFrameMissing) when a
// forced seek mode (ExtractSeek) did not land on a planned frame: seeking
// is not exact in the file, or it is damaged there.
var ErrSeekMissed = errors.New("seeking did not land on the planned frame")

// ExtractMode is how ExtractFrames gets frames out of ffmpeg.
type ExtractMode string

// The extraction modes.
const (
	// ExtractAuto seeks when the file's keyframes (read from its packets)
	// make seeking cost at most 3/4 of a pass — sparse frames in a long
	// video with short GOPs — and otherwise decodes in one pass. Spans
	// under 1,500 frames always use a pass, and so do containers where
	// ffmpeg's seeking is not exact (MPEG-TS, MPEG-PS, Ogg, …) and files
	// whose packets carry no timestamps. If a seek still gives a wrong
	// frame, the frames not yet extracted are decoded in one pass.
	ExtractAuto ExtractMode = "auto"
	// ExtractPass decodes the video once, start to last planned frame, and
	// keeps the frames whose timestamps are the planned ones (read from
	// the packets): exact for any file, and a frame the decoder drops
	// cannot shift the others. Without packet timestamps (MPEG-PS) frames
	// are kept by decode count and timed as decoded.
	ExtractPass ExtractMode = "pass"
	// ExtractSeek runs one ffmpeg per frame, seeking to just before the
	// frame's timestamp (read from the packets) and decoding from the
	// keyframe before it: exact, fast when frames are far apart. A seek
	// that lands on another frame fails the extraction (use a pass).
	ExtractSeek ExtractMode = "seek"
	// ExtractKeyframes takes, for each planned frame, the keyframe nearest
	// to it in time and decodes keyframes only: fastest, approximate.
	// Frame.Index and Frame.TimeS are the keyframe's own.
	ExtractKeyframes ExtractMode = "keyframes"
)

// Frame is one extracted video frame.
type Frame struct {
	Index int     `json:"index"`  // source frame index (presentation order)
	TimeS float64 `json:"time_s"` // its timestamp, seconds from the start of the file
	Data  []byte  `json:"-"`      // JPEG, upright, at the plan's resized size
}

// ExtractOptions tune ExtractFrames; the zero value is ready to use.
type ExtractOptions struct {
	Mode ExtractMode // default ExtractAuto
	// QScale is the MJPEG -q:v, 2 (best) to 31; 0 means DefaultQScale.
	QScale int
	// Workers bounds concurrent ffmpeg processes in seek modes. Default:
	// GOMAXPROCS capped at 4; each process decodes with the remaining
	// cores' share of threads.
	Workers int
	// OnFrame, if set, receives every frame in plan order as soon as it and
	// all earlier ones are ready (e.g. to write it to disk); the returned
	// frames then carry no Data. An error from it stops the extraction.
	// Every frame it receives has been matched to its planned timestamp
	// (except in files whose packets carry none, TimestampsUnreliable).
	OnFrame func(Frame) error
}

func (o ExtractOptions) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

// Extraction is what Extract did.
type Extraction struct {
	Frames []Frame
	// Mode is the mode that gave the frames: pass, seek or keyframes,
	// never auto.
	Mode ExtractMode
	// Note says why auto chose or changed its mode when that is not the
	// cost model's plain choice, e.g. a fall-back from seeking to a pass.
	Note string
}

// ExtractFrames extracts the frames of plan from the video at path, scaled
// in the same ffmpeg pass to plan.ResizedWidth×ResizedHeight, upright (ffmpeg
// applies the display rotation), as JPEGs. It returns one Frame per entry of
// plan.Indices, in that order. Canceling ctx kills ffmpeg.
func ExtractFrames(ctx context.Context, path string, info Info, plan tokens.FramePlan, o ExtractOptions) ([]Frame, error) {
	x, err := Extract(ctx, path, info, plan, o)
	return x.Frames, err
}

// Extract is ExtractFrames that also reports the mode used. The file's
// packets are scanned first (or the scan ExactFrames left in info is
// reused): plan.Indices must be below the real frame count, so plans
// should be made from ExactFrames' info.
func Extract(ctx context.Context, path string, info Info, plan tokens.FramePlan, o ExtractOptions) (Extraction, error) {
	x, err := extract(ctx, path, info, plan, o)
	if err != nil {
		return x, fmt.Errorf("extract frames of %s: %w", path, err)
	}
	return x, nil
}

func extract(ctx context.Context, path string, info Info, plan tokens.FramePlan, o ExtractOptions) (Extraction, error) {
	var x Extraction
	if len(plan.Indices) == 0 {
		return x, errors.New("the plan has no frames")
	}
	if plan.ResizedWidth <= 0 || plan.ResizedHeight <= 0 {
		return x, fmt.Errorf("planned size %dx%d must be positive", plan.ResizedWidth, plan.ResizedHeight)
	}
	targets := slices.Clone(plan.Indices)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	if targets[0] < 0 {
		return x, fmt.Errorf("frame index %d is negative", targets[0])
	}
	switch o.Mode {
	case "", ExtractAuto, ExtractPass, ExtractSeek, ExtractKeyframes:
	default:
		return x, fmt.Errorf("unknown extraction mode %q", o.Mode)
	}
	url, err := fileURL(path)
	if err != nil {
		return x, err
	}
	if err := FindTool("ffmpeg"); err != nil {
		return x, err // before the scan: no ffprobe run for nothing
	}
	var ft frameTimes
	switch sc := info.scanned; {
	case info.timeline != nil && info.timeline.URL == url:
		ft = *info.timeline
	case sc != nil && sc.url == url: // made beside the probe (ProbeScanned)
		if ft, err = sc.ft, sc.err; err != nil {
			return x, err
		}
	default:
		if ft, err = scanFrames(ctx, url); err != nil {
			return x, err
		}
	}
	if ft.Unreliable {
		// Frames are timed n/fps (extractPass, extractKeyframesDecoded).
		if ft.Rate = info.FPS; ft.Rate <= 0 {
			return x, fmt.Errorf("%s has no frame rate to time its frames by (its packets carry no timestamps)", path)
		}
	}
	if last := targets[len(targets)-1]; last >= ft.frames() {
		counted := ""
		if plan.SourceFrames > 0 && plan.SourceFrames != ft.frames() {
			counted = fmt.Sprintf("; the plan was made for %d: plan from the exact count", plan.SourceFrames)
		}
		return x, fmt.Errorf("%w: frame %d, but the video has %d frames (0–%d)%s", ErrFrameMissing, last, ft.frames(), ft.frames()-1, counted)
	}
	base := ffmpegJob{URL: url, Width: plan.ResizedWidth, Height: plan.ResizedHeight, QScale: o.QScale}

	x.Mode = o.Mode
	switch x.Mode {
	case "", ExtractAuto:
		x.Mode, x.Note = chooseMode(ft, targets)
	case ExtractSeek:
		if ft.Unreliable {
			return x, fmt.Errorf("cannot seek to frames in %s: its packets carry no timestamps (%s); extract in one pass instead (--mode pass)", path, ft.Format)
		}
	}

	var col *collector
	switch {
	case x.Mode == ExtractKeyframes && ft.Unreliable:
		x.Note = "the packets carry no timestamps: every frame was decoded to find the keyframes"
		col = newCollector(plan.Indices, o.OnFrame)
		err = extractKeyframesDecoded(ctx, base, ft, col)
	case x.Mode == ExtractKeyframes:
		keys, kerr := nearestKeyframes(ft, plan.Indices)
		if kerr != nil {
			return x, kerr
		}
		col = newCollector(keys, o.OnFrame)
		if skipFrameBroken(info.Codec) {
			var how string
			how, err = extractKeyframesFully(ctx, base, ft, col, o.workers())
			x.Note = fmt.Sprintf("ffmpeg's %s decoder cannot decode keyframes only: the keyframes were %s", info.Codec, how)
			break
		}
		pass := keyframePass(ft, col.sources()) || !seekable(ft.Format)
		err = extractKeyframes(ctx, base, ft, col, o.workers(), pass)
	case x.Mode == ExtractSeek:
		col = newCollector(plan.Indices, o.OnFrame)
		err = x.seekOrPass(ctx, o.Mode, base, ft, targets, col, o.workers())
	default:
		col = newCollector(plan.Indices, o.OnFrame)
		err = extractPass(ctx, base, ft, targets, col)
	}
	x.Frames = col.frames
	// ffmpeg exits non-zero when too many packets fail to decode (a
	// damaged file) even after giving every frame asked for. Frames
	// matched to their planned timestamps are the right ones: keep them.
	var te *ToolError
	if errors.As(err, &te) && ctx.Err() == nil && !ft.Unreliable && col.complete() {
		x.Note = joinNotes(x.Note, fmt.Sprintf("ffmpeg reported errors decoding this file (%s); every frame was matched to its planned timestamp", tailSummary(te.Stderr)))
		err = nil
	}
	return x, err
}

// seekOrPass extracts targets by seeking. When auto chose to seek and a
// seek gives a wrong frame or none, every frame handed on so far was
// checked, so only the rest are decoded, in one pass; a forced seek mode
// fails with a hint instead.
func (x *Extraction) seekOrPass(ctx context.Context, asked ExtractMode, base ffmpegJob, ft frameTimes, targets []int, col *collector, workers int) error {
	err := extractSeek(ctx, base, ft, targets, col, workers)
	switch {
	case err == nil || ctx.Err() != nil || col.sinkErr() != nil:
		return err
	case !errors.Is(err, ErrWrongFrame) && !errors.Is(err, ErrFrameMissing):
		return err
	case asked == ExtractSeek:
		return fmt.Errorf("%w (%w: it is not exact in this %s file, or the file is damaged; extract in one pass instead, --mode pass)", err, ErrSeekMissed, ft.Format)
	}
	x.Mode, x.Note = ExtractPass, fmt.Sprintf("seeking missed (%v); the frames not yet extracted were decoded in one pass", err)
	return extractPass(ctx, base, ft, col.missingSources(), col)
}

// joinNotes joins non-empty notes with "; ".
func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// seekable reports whether ffmpeg's input seeking lands exactly in the
// container (format as ffprobe names it): those with an index of
// keyframe positions. MPEG-TS and MPEG-PS seek by bisecting the byte
// stream for timestamps and land past the keyframe a frame needs; Ogg,
// FLV without an index and raw streams are no better.
func seekable(format string) bool {
	switch format {
	case "mov", "matroska", "avi", "asf":
		return true
	}
	return false
}

// Auto-mode cost model, in units of "one frame decoded": a seek group costs
// ffmpeg's start-up (seekOverheadFrames, about 50 ms at 1080p on 2 cores)
// plus the frames from its keyframe to its last target (seekCost); a pass
// costs every frame up to the last planned one.
const (
	autoScanMinFrames  = 1500 // shorter spans always use a pass: no scan needed
	seekOverheadFrames = 20
	// seekShare is the largest seek cost, as a share of the pass cost, for
	// which auto seeks. Measured wall time follows the cost closely (10-min
	// 1080p, 250-frame GOPs, 64 frames: cost 0.62, time 0.57 of a pass);
	// the margin covers the scan and I-frames costing more than P-frames.
	seekShare = 0.75
)

// chooseMode implements ExtractAuto: a single pass unless seeking is
// expected to cost at most 3/4 as much, i.e. seekCost ≤ 0.75·(last+1),
// computed from the file's real keyframe positions (read from its packets).
// Spans under 1,500 frames always decode in one pass, as do plans whose
// start-up costs alone exceed that (dense plans), containers where seeking
// is not exact and timelines without timestamps; the note says which of
// the last two applied.
func chooseMode(ft frameTimes, targets []int) (ExtractMode, string) {
	last := targets[len(targets)-1]
	limit := seekShare * float64(last+1)
	if last+1 < autoScanMinFrames || float64(len(targets))*seekOverheadFrames > limit {
		return ExtractPass, ""
	}
	if ft.Unreliable {
		return ExtractPass, "one pass: the packets carry no timestamps to seek by"
	}
	if !seekable(ft.Format) {
		return ExtractPass, fmt.Sprintf("one pass: seeking is not exact in %s files", ft.Format)
	}
	if seekCost(ft, targets) <= limit {
		return ExtractSeek, ""
	}
	return ExtractPass, ""
}

// extractPass decodes once, from the start to the last target, and keeps
// the targets. With packet timestamps they are selected by timestamp and
// every frame ffmpeg gives is matched to its target by time (a frame the
// decoder drops cannot shift the others, and a dropped target is
// reported missing). Without (MPEG-PS), they are selected by decode count
// and frame n is timed n/fps, as qwen-vl-utils times frames: the
// decoder's own stamps there are guesses, up to two frames off.
func extractPass(ctx context.Context, base ffmpegJob, ft frameTimes, targets []int, col *collector) error {
	j := base
	j.ShowInfo, j.MaxFrames = true, len(targets)
	if ft.Unreliable {
		j.Select = selectFrames(targets)
		n, _, err := runFFmpeg(ctx, j, func(k int, f ffmpegFrame) error {
			return col.put(Frame{Index: targets[k], TimeS: float64(targets[k]) / ft.Rate, Data: f.Data})
		})
		if err == nil && n < len(targets) {
			err = fmt.Errorf("%w: frame %d: ffmpeg's decode ended after %d of the %d planned frames (the packets list %d frames)", ErrFrameMissing, targets[n], n, len(targets), ft.frames())
		}
		return err
	}
	times := make([]float64, len(targets))
	for k, i := range targets {
		times[k] = ft.PTS[i]
	}
	eps := halfGap(ft, targets)
	j.Select = selectTimes(times, eps)
	found := make([]bool, len(targets))
	_, log, err := runFFmpeg(ctx, j, func(_ int, f ffmpegFrame) error {
		k, ok := matchTime(times, f.PTS, eps)
		if !ok || found[k] {
			return fmt.Errorf("%w: ffmpeg gave a frame at %.6fs, which is no planned frame's time", ErrWrongFrame, f.PTS)
		}
		found[k] = true
		i := targets[k]
		return col.put(Frame{Index: i, TimeS: ft.PTS[i], Data: f.Data})
	})
	if err != nil {
		return err
	}
	if k := slices.Index(found, false); k >= 0 {
		msg := ""
		if s := tailSummary(log); s != "" {
			msg = "; ffmpeg: " + s
		}
		return fmt.Errorf("%w: frame %d at %.3fs was not decoded (the file is damaged there or ends early)%s", ErrFrameMissing, targets[k], times[k], msg)
	}
	return nil
}

// matchTime finds the entry of ts (ascending) within eps of t.
func matchTime(ts []float64, t, eps float64) (int, bool) {
	if math.IsNaN(t) {
		return 0, false
	}
	k, _ := slices.BinarySearch(ts, t)
	for _, c := range []int{k - 1, k} {
		if c >= 0 && c < len(ts) && math.Abs(ts[c]-t) <= eps {
			return c, true
		}
	}
	return 0, false
}

// extractSeek seeks once per group of targets that share a keyframe
// (seekGroups): each seek starts just before the group's first target,
// decodes from the keyframe and keeps the group's frames by their number
// counted from the first. Seeks are batched into a few multi-input ffmpeg
// runs, workers at a time (runSeeks).
func extractSeek(ctx context.Context, base ffmpegJob, ft frameTimes, targets []int, col *collector, workers int) error {
	groups := seekGroups(ft, targets)
	seeks := make([]seekTask, len(groups))
	for g, group := range groups {
		first := group[0]
		in := ffmpegInput{Frames: len(group)}
		if first > 0 {
			// Midway between the frame and the one before: ffmpeg drops
			// frames earlier than this, so the first it keeps is first.
			in.SeekSet, in.Seek = true, (ft.PTS[first-1]+ft.PTS[first])/2
		}
		if len(group) > 1 {
			rel := make([]int, len(group))
			for k, i := range group {
				rel[k] = i - first
			}
			in.Select = selectFrames(rel)
		}
		seeks[g] = seekTask{In: in, Frames: group}
	}
	return runSeeks(ctx, base, ft, seeks, col, workers)
}

// seekTask is one seek: the input it opens and the source frames it gives,
// in order.
type seekTask struct {
	In     ffmpegInput
	Frames []int
}

// maxSeekInputs bounds the inputs of one ffmpeg run: each input costs
// opening and probing the file again, and a failed run is retried by
// nothing, so batches stay small enough to balance across workers.
const maxSeekInputs = 16

// seekBatches splits n seeks into contiguous batches of at most
// maxSeekInputs, at least workers of them (so every worker has one), as
// even as possible; it returns the batch boundaries.
func seekBatches(n, workers int) [][2]int {
	nb := max(min(workers, n), (n+maxSeekInputs-1)/maxSeekInputs)
	out := make([][2]int, nb)
	for b := range out {
		out[b] = [2]int{b * n / nb, (b + 1) * n / nb}
	}
	return out
}

// runSeeks runs the seeks in batches (seekBatches), one multi-input
// ffmpeg per batch, workers at a time, and files every frame. Each frame's
// timestamp, as showinfo logs it with -copyts, must be the planned
// frame's: a seek that yields a
// frame too few or too many fails instead of misnumbering the rest.
func runSeeks(ctx context.Context, base ffmpegJob, ft frameTimes, seeks []seekTask, col *collector, workers int) error {
	// A seek keeping several frames (select inside the input) stalled
	// ffmpeg 5.1 for tens of seconds when batched with other inputs: those
	// run alone; runs of single-frame seeks are batched.
	var batches [][2]int
	for lo := 0; lo < len(seeks); {
		hi := lo
		for hi < len(seeks) && len(seeks[hi].Frames) == 1 {
			hi++
		}
		if hi == lo {
			batches, lo = append(batches, [2]int{lo, lo + 1}), lo+1
			continue
		}
		for _, b := range seekBatches(hi-lo, workers) {
			batches = append(batches, [2]int{lo + b[0], lo + b[1]})
		}
		lo = hi
	}
	order := make([]int, len(batches))
	for b := range order {
		order[b] = b
	}
	base.DecThreads = max(1, runtime.GOMAXPROCS(0)/workers)
	base.ShowInfo = true
	return forEach(ctx, order, min(workers, len(batches)), func(ctx context.Context, b int) error {
		batch := seeks[batches[b][0]:batches[b][1]]
		j := base
		var idx []int
		var want []float64
		for _, s := range batch {
			j.Inputs = append(j.Inputs, s.In)
			for _, i := range s.Frames {
				idx, want = append(idx, i), append(want, ft.PTS[i]+ft.Start)
			}
		}
		j.MaxFrames = len(idx)
		eps := halfGap(ft, idx)
		n, _, err := runFFmpeg(ctx, j, func(k int, f ffmpegFrame) error {
			i := idx[k]
			if !(math.Abs(f.PTS-want[k]) <= eps) {
				return fmt.Errorf("%w: the frame at %.6fs where frame %d at %.6fs was due", ErrWrongFrame, f.PTS-ft.Start, i, ft.PTS[i])
			}
			return col.put(Frame{Index: i, TimeS: ft.PTS[i], Data: f.Data})
		})
		first := idx[0]
		if err != nil {
			return fmt.Errorf("frames from %d at %.3fs: %w", first, ft.PTS[first], err)
		}
		if n < len(idx) {
			return fmt.Errorf("%w: frame %d at %.3fs", ErrFrameMissing, idx[n], ft.PTS[idx[n]])
		}
		return nil
	})
}

// seekGroups splits ascending targets into runs that follow the same
// keyframe: one seek and one decode from that keyframe serve a whole run.
func seekGroups(ft frameTimes, targets []int) [][]int {
	keys := ft.keyframes()
	var groups [][]int
	prev := -2
	for _, i := range targets {
		k := keyBefore(keys, i)
		if k == prev {
			groups[len(groups)-1] = append(groups[len(groups)-1], i)
			continue
		}
		groups, prev = append(groups, []int{i}), k
	}
	return groups
}

// keyBefore is the last keyframe at or before frame i (-1: none).
func keyBefore(keys []int, i int) int {
	k, found := slices.BinarySearch(keys, i)
	if found {
		return i
	}
	if k == 0 {
		return -1
	}
	return keys[k-1]
}

// seekCost is the decode work of extractSeek in frames: for each group,
// the frames from its keyframe to its last target, plus ffmpeg's start-up.
func seekCost(ft frameTimes, targets []int) float64 {
	keys := ft.keyframes()
	cost := 0.0
	for _, g := range seekGroups(ft, targets) {
		cost += float64(g[len(g)-1]-max(keyBefore(keys, g[0]), 0)+1) + seekOverheadFrames
	}
	return cost
}

// Keyframe modes: decoding only keyframes in one pass costs about
// keyframeCost frames per keyframe in the file (intra frames are larger);
// seeking to each wanted keyframe costs the start-up and one keyframe.
const keyframeCost = 3

// keyframePass reports whether decoding all keyframes in one pass is
// expected to be cheaper than seeking to each wanted one.
func keyframePass(ft frameTimes, want []int) bool {
	return float64(len(want))*(seekOverheadFrames+keyframeCost) > float64(len(ft.keyframes())*keyframeCost)
}

// extractKeyframes gets the keyframes col wants: in one pass decoding
// keyframes only (pass) or by seeking to each; then by seeking for any the
// pass missed.
func extractKeyframes(ctx context.Context, base ffmpegJob, ft frameTimes, col *collector, workers int, pass bool) error {
	want := col.sources()
	if pass {
		j := base
		j.KeysOnly, j.ShowInfo, j.MaxFrames = true, true, len(want)
		times := make([]float64, len(want))
		for k, i := range want {
			times[k] = ft.PTS[i]
		}
		eps := halfGap(ft, want)
		j.Select = selectTimes(times, eps)
		_, _, err := runFFmpeg(ctx, j, func(_ int, f ffmpegFrame) error {
			if c, ok := matchTime(times, f.PTS, eps); ok {
				return col.put(Frame{Index: want[c], TimeS: ft.PTS[want[c]], Data: f.Data})
			}
			return nil // a frame the decoder took for a keyframe; not wanted
		})
		if err != nil {
			return err
		}
		want = col.missingSources()
		if len(want) > 0 && !seekable(ft.Format) {
			return fmt.Errorf("%w: keyframe %d at %.3fs was not decoded", ErrFrameMissing, want[0], ft.PTS[want[0]])
		}
	}
	seeks := make([]seekTask, len(want))
	for k, i := range want {
		// Just past the keyframe: without accurate seeking ffmpeg starts
		// at the keyframe before the seek point, and decodes only
		// keyframes, so the first frame is this one.
		in := ffmpegInput{Inexact: true, KeysOnly: true, SeekSet: true, Seek: ft.PTS[i] + halfGap(ft, []int{i}), Frames: 1}
		seeks[k] = seekTask{In: in, Frames: []int{i}}
	}
	return runSeeks(ctx, base, ft, seeks, col, workers)
}

// skipFrameBroken reports whether ffmpeg's decoder for codec (as ffprobe
// names it) fails when told to decode keyframes only (-skip_frame nokey).
// Checked with ffmpeg 5.1 on clips with a keyframe every 25 frames:
// theora gives frame 0, then "Operation not permitted" for every other
// frame and exit status 69 (in Ogg and in Matroska). h264, hevc,
// mpeg1video, mpeg2video, mpeg4, msmpeg4v3, wmv2, flv1, h263 and vp8
// decode the keyframes only; vp9, av1 (libdav1d), prores and mjpeg ignore
// the option and decode every frame, which is slower but right (frames
// are matched to the keyframes' timestamps).
func skipFrameBroken(codec string) bool { return codec == "theora" }

// extractKeyframesFully gets the keyframes col wants without
// -skip_frame: by an exact seek to each (each decode starts at the
// keyframe itself) in containers where seeking is exact and that costs
// less than decoding up to the last one, else in one pass decoding every
// frame; it says which.
func extractKeyframesFully(ctx context.Context, base ffmpegJob, ft frameTimes, col *collector, workers int) (string, error) {
	want := col.sources()
	if seekable(ft.Format) && float64(len(want))*(seekOverheadFrames+keyframeCost) < float64(want[len(want)-1]+1) {
		err := extractSeek(ctx, base, ft, want, col, workers)
		if err == nil || ctx.Err() != nil || col.sinkErr() != nil || !errors.Is(err, ErrWrongFrame) && !errors.Is(err, ErrFrameMissing) {
			return "sought one by one", err
		}
		// A seek missed: decode the rest instead.
		return "decoded in one pass after a seek missed", extractPass(ctx, base, ft, col.missingSources(), col)
	}
	return "found by decoding every frame up to the last one", extractPass(ctx, base, ft, want, col)
}

// errEnough stops an ffmpeg run that gave every frame wanted.
var errEnough = errors.New("all frames found")

// extractKeyframesDecoded is the keyframe mode for timelines without
// timestamps (MPEG-PS). Neither the packets nor the decoder time frames
// there: with -skip_frame nokey the decoder stamps an I-frame with the dts
// of the packet that pushed it out of its reorder buffer, up to a GOP late
// (frame 25 of a 25 fps MPEG-2 file at 1.96 s), and even a full decode
// guesses (frame 75 at 2.92 s). So every frame is decoded — as slow as a
// pass — and numbered by its decode count (setpts), only keyframes are
// encoded, and frame n is timed n/fps, as qwen-vl-utils times frames.
// Planned frame i gets the keyframe nearest it (the earlier on a tie).
// Only the latest keyframe is held while the next one decides; ffmpeg
// stops once every planned frame has its keyframe.
func extractKeyframesDecoded(ctx context.Context, base ffmpegJob, ft frameTimes, col *collector) error {
	fps := ft.Rate
	want := col.sources()
	next := 0 // the first of want not served yet
	// serve gives keyframe key to the planned frames up to upto.
	serve := func(key int, data []byte, upto float64) error {
		for ; next < len(want) && float64(want[next]) <= upto; next++ {
			if err := col.putAs(want[next], Frame{Index: key, TimeS: float64(key) / fps, Data: data}); err != nil {
				return err
			}
		}
		return nil
	}
	j := base
	j.CountRate, j.Select, j.ShowInfo = fps, "key", true
	prev, prevData := -1, []byte(nil)
	_, _, err := runFFmpeg(ctx, j, func(_ int, f ffmpegFrame) error {
		if math.IsNaN(f.PTS) {
			return errors.New("ffmpeg gave a keyframe without its number")
		}
		key := min(int(math.RoundToEven(f.PTS*fps)), ft.frames()-1)
		if prev >= 0 {
			if err := serve(prev, prevData, float64(prev+key)/2); err != nil {
				return err
			}
		}
		if next == len(want) {
			return errEnough
		}
		prev, prevData = key, f.Data
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err
	}
	if prev >= 0 {
		if err := serve(prev, prevData, math.Inf(1)); err != nil {
			return err
		}
	}
	if next < len(want) {
		return fmt.Errorf("%w: the video has no keyframe to decode", ErrFrameMissing)
	}
	return nil
}

// halfGap is just under half the smallest distance between any of the
// frames idx and their neighbours: a tolerance that tells frames apart.
func halfGap(ft frameTimes, idx []int) float64 {
	gap := 1.0
	for _, i := range idx {
		if i > 0 {
			gap = min(gap, ft.PTS[i]-ft.PTS[i-1])
		}
		if i+1 < len(ft.PTS) {
			gap = min(gap, ft.PTS[i+1]-ft.PTS[i])
		}
	}
	return max(gap*0.45, 1e-6)
}

// nearer reports whether frame a is strictly nearer in time to frame i
// than frame b is, exactly: in the stream's ticks when the packets give
// them (frame 54 is as near to 48 as to 60 with keyframes every 12, though
// 2.16−1.92 > 2.40−2.16 in floats), else in seconds.
func (ft frameTimes) nearer(i, a, b int) bool {
	if ft.Ticks != nil {
		da, db := ft.Ticks[a]-ft.Ticks[i], ft.Ticks[b]-ft.Ticks[i]
		return max(da, -da) < max(db, -db)
	}
	return math.Abs(ft.PTS[a]-ft.PTS[i]) < math.Abs(ft.PTS[b]-ft.PTS[i])
}

// nearestKeyframes maps each planned frame to the keyframe nearest it in
// time (the earlier on a tie).
func nearestKeyframes(ft frameTimes, indices []int) ([]int, error) {
	keys := ft.keyframes()
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: the video has no keyframes", ErrFrameMissing)
	}
	out := make([]int, len(indices))
	for p, i := range indices {
		if i >= len(ft.PTS) {
			return nil, fmt.Errorf("%w: frame %d (the video has %d)", ErrFrameMissing, i, len(ft.PTS))
		}
		t := ft.PTS[i]
		k, _ := slices.BinarySearchFunc(keys, t, func(key int, t float64) int {
			switch {
			case ft.PTS[key] < t:
				return -1
			case ft.PTS[key] > t:
				return 1
			}
			return 0
		})
		best := keys[min(k, len(keys)-1)]
		if k > 0 && (k == len(keys) || !ft.nearer(i, keys[k], keys[k-1])) {
			best = keys[k-1]
		}
		out[p] = best
	}
	return out, nil
}

// forEach calls f for every item with at most workers running at once; the
// first error cancels the rest and is returned.
func forEach(ctx context.Context, items []int, workers int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	next := make(chan int)
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
feed:
	for _, i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// collector files frames by source index into plan order and hands them to
// OnFrame in that order as soon as each prefix is complete.
type collector struct {
	mu      sync.Mutex
	want    []int         // source index per plan position
	at      map[int][]int // source index → plan positions
	frames  []Frame
	filled  []bool
	next    int // first position not yet handed over
	onFrame func(Frame) error
	// onFrameErr is what onFrame returned when it failed.
	onFrameErr error
}

func newCollector(want []int, onFrame func(Frame) error) *collector {
	c := &collector{want: want, at: map[int][]int{}, frames: make([]Frame, len(want)), filled: make([]bool, len(want)), onFrame: onFrame}
	for p, i := range want {
		c.at[i] = append(c.at[i], p)
	}
	return c
}

// sources are the distinct source indices wanted, ascending.
func (c *collector) sources() []int {
	s := slices.Clone(c.want)
	slices.Sort(s)
	return slices.Compact(s)
}

// missingSources are the wanted source indices not filed yet, ascending.
func (c *collector) missingSources() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []int
	for p, i := range c.want {
		if !c.filled[p] {
			s = append(s, i)
		}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// put files f at every position wanting f.Index.
func (c *collector) put(f Frame) error { return c.putAs(f.Index, f) }

// putAs files f at every position wanting source index src (keyframes
// found by decoding stand for the planned frame src).
func (c *collector) putAs(src int, f Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.at[src]
	if !ok {
		return fmt.Errorf("ffmpeg returned frame %d, which was not planned", src)
	}
	for _, p := range ps {
		c.frames[p], c.filled[p] = f, true
	}
	for c.next < len(c.frames) && c.filled[c.next] {
		if c.onFrame != nil {
			if err := c.onFrame(c.frames[c.next]); err != nil {
				c.onFrameErr = err
				return err
			}
			c.frames[c.next].Data = nil
		}
		c.next++
	}
	return nil
}

// complete reports whether every position has its frame.
func (c *collector) complete() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !slices.Contains(c.filled, false)
}

// sinkErr is the error OnFrame returned, if any: it ends the extraction
// (no fall-back).
func (c *collector) sinkErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onFrameErr
}
