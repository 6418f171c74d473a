package media

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// frameTimes is the timeline of a video stream read from its packets
// (demuxing only, no decoding): every frame's timestamp in presentation
// order, which frames are keyframes, in seconds from the file's start as
// ffmpeg counts them (the container's start_time is 0).
type frameTimes struct {
	URL string // the file: URL scanned
	// PTS holds each frame's timestamp by frame index; nil when the
	// packets carry none (Unreliable).
	PTS []float64
	Key []bool // by frame index (decode order when Unreliable)
	// Ticks holds each frame's pts in the stream's time base, by frame
	// index, when every packet has one (nil otherwise): PTS are rounded
	// to the microsecond and their differences carry float noise, so
	// equal distances in time are compared in ticks.
	Ticks []int64
	// Start is the container's start_time: ffmpeg's -copyts timestamps
	// are PTS+Start.
	Start float64
	// Format is the container as ffprobe names it first ("mov",
	// "matroska", "mpegts", "mpeg", …).
	Format string
	// Unreliable: some kept packets have no pts (MPEG-PS stores one only
	// every few frames). Their dts would be off by the B-frame reorder
	// delay, so no timestamps are guessed: frames are taken in one pass by
	// decode count and timed by their number (Rate).
	Unreliable bool
	// Rate times frames by their number when Unreliable: frame n is at
	// n/Rate (the average frame rate; set by extract).
	Rate float64
}

// frames is the number of frames (packets not discarded by an edit list).
func (ft frameTimes) frames() int { return len(ft.Key) }

// variable reports whether the frame durations vary by more than
// container rounding (1 ms and 1% of the median duration) for more than 1%
// of the frames (and more than one: a stream copy cut at a B-frame leaves
// one gap at its end): a variable frame rate.
func (ft frameTimes) variable() bool {
	if len(ft.PTS) < 3 {
		return false
	}
	d := make([]float64, len(ft.PTS)-1)
	for i := range d {
		d[i] = ft.PTS[i+1] - ft.PTS[i]
	}
	slices.Sort(d)
	m := d[len(d)/2]
	tol := 0.001 + 0.01*m
	off := 0
	for _, x := range d {
		if math.Abs(x-m) > tol {
			off++
		}
	}
	return off > max(1, len(d)/100)
}

// keyframes returns the indices of the keyframes.
func (ft frameTimes) keyframes() []int {
	var ks []int
	for i, k := range ft.Key {
		if k {
			ks = append(ks, i)
		}
	}
	return ks
}

// frameScanArgs list the first video stream's packet timestamps and flags.
func frameScanArgs(url string) []string {
	return []string{"-v", "error", "-select_streams", "V:0",
		"-show_entries", "packet=pts,pts_time,flags:format=start_time,format_name",
		"-print_format", "json", url}
}

// scanFrames reads the frame timeline of the video at url with ffprobe.
func scanFrames(ctx context.Context, url string) (frameTimes, error) {
	cmd, err := toolCommand(ctx, "ffprobe", frameScanArgs(url))
	if err != nil {
		return frameTimes{}, err
	}
	var stdout bytes.Buffer
	stderr := newTail(stderrTailLines)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return frameTimes{}, ctx.Err()
		}
		return frameTimes{}, fmt.Errorf("%w: %w", ErrCorrupt, &ToolError{Tool: "ffprobe", Err: err, Stderr: stderr.String()})
	}
	ft, err := parseFrameScan(stdout.Bytes())
	ft.URL = url
	return ft, err
}

// parseFrameScan turns ffprobe's packet list into a frameTimes. Packets
// flagged D are dropped: an edit list (a trimmed MP4) keeps them only to
// decode the frames after them, and they are never shown. One packet
// without a pts makes the timeline Unreliable.
func parseFrameScan(data []byte) (frameTimes, error) {
	var p struct {
		Packets []struct {
			Ticks *int64 `json:"pts"`
			PTS   string `json:"pts_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
		Format struct {
			StartTime  string `json:"start_time"`
			FormatName string `json:"format_name"`
		} `json:"format"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return frameTimes{}, fmt.Errorf("%w: unreadable ffprobe packet list: %v", ErrCorrupt, err)
	}
	ft := frameTimes{Start: parseFloat(p.Format.StartTime)}
	ft.Format, _, _ = strings.Cut(p.Format.FormatName, ",")
	type pkt struct {
		t     float64
		ticks int64
		key   bool
	}
	pkts := make([]pkt, 0, len(p.Packets))
	ticks := true
	for _, k := range p.Packets {
		if strings.Contains(k.Flags, "D") {
			continue
		}
		t, ok := parseTime(k.PTS)
		if !ok {
			ft.Unreliable = true
		}
		n := pkt{t: t - ft.Start, key: strings.Contains(k.Flags, "K")}
		if k.Ticks != nil {
			n.ticks = *k.Ticks
		} else {
			ticks = false
		}
		pkts = append(pkts, n)
	}
	if len(pkts) == 0 {
		return frameTimes{}, fmt.Errorf("%w: no video packets", ErrCorrupt)
	}
	if !ft.Unreliable {
		sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].t < pkts[j].t })
		ft.PTS = make([]float64, len(pkts))
		if ticks {
			ft.Ticks = make([]int64, len(pkts))
		}
	}
	ft.Key = make([]bool, len(pkts))
	for i, k := range pkts {
		ft.Key[i] = k.key
		if ft.PTS != nil {
			ft.PTS[i] = k.t
		}
		if ft.Ticks != nil {
			ft.Ticks[i] = k.ticks
		}
	}
	return ft, nil
}

func parseTime(s string) (float64, bool) {
	if s == "" || s == "N/A" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// ExactFrames counts the frames of a probed video from its packets
// (demuxing the whole file, no decoding; about 2 s for 1 GB) and returns
// info with that exact Frames, FramesEstimated false and
// TimestampsUnreliable set when the packets carry no timestamps. The
// header's count is only an estimate in MKV, WEBM, MPEG-TS/PS (none
// stored) and trimmed MP4s (discarded packets included), and plans made
// from it can name frames that do not exist; plans made from the exact
// count pick the frames qwen-vl-utils would. The returned Info carries the
// scan, which ExtractFrames reuses.
func ExactFrames(ctx context.Context, info Info) (Info, error) {
	url, err := fileURL(info.Path)
	if err != nil {
		return info, fmt.Errorf("count frames of %s: %w", info.Path, err)
	}
	if info.timeline != nil && info.timeline.URL == url {
		return info, nil
	}
	var ft frameTimes
	if sc := info.scanned; sc != nil && sc.url == url {
		ft, err = sc.ft, sc.err // made beside the probe (ProbeScanned)
	} else {
		ft, err = scanFrames(ctx, url)
	}
	info.scanned = nil
	if err != nil {
		return info, fmt.Errorf("count frames of %s: %w", info.Path, err)
	}
	info.Frames, info.FramesEstimated, info.TimestampsUnreliable = ft.frames(), false, ft.Unreliable
	// MKV and WEBM report one rate for both fields ffprobe compares, so
	// only the timestamps show a variable rate there.
	info.VFR = info.VFR || ft.variable()
	info.timeline = &ft
	return info, nil
}
