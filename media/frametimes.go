package media

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// frameTimes is the timeline of a video stream read from its packets
// (demuxing only, no decoding): every frame's timestamp in presentation
// order, which frames are keyframes, in seconds from the file's start as
// ffmpeg counts them (the container's start_time is 0).
type frameTimes struct {
	PTS []float64 // by frame index
	Key []bool    // by frame index
	// Start is the container's start_time: ffmpeg's -copyts timestamps
	// are PTS+Start.
	Start float64
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
		"-show_entries", "packet=pts_time,dts_time,flags:format=start_time",
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
	return parseFrameScan(stdout.Bytes())
}

// parseFrameScan turns ffprobe's packet list into a frameTimes. Packets
// flagged D (dropped by an edit list) are not frames; packets without a pts
// (some AVI) use their dts.
func parseFrameScan(data []byte) (frameTimes, error) {
	var p struct {
		Packets []struct {
			PTS   string `json:"pts_time"`
			DTS   string `json:"dts_time"`
			Flags string `json:"flags"`
		} `json:"packets"`
		Format struct {
			StartTime string `json:"start_time"`
		} `json:"format"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return frameTimes{}, fmt.Errorf("%w: unreadable ffprobe packet list: %v", ErrCorrupt, err)
	}
	start := parseFloat(p.Format.StartTime)
	type pkt struct {
		t   float64
		key bool
	}
	pkts := make([]pkt, 0, len(p.Packets))
	for _, k := range p.Packets {
		if strings.Contains(k.Flags, "D") {
			continue
		}
		t, ok := parseTime(k.PTS)
		if !ok {
			if t, ok = parseTime(k.DTS); !ok {
				continue
			}
		}
		pkts = append(pkts, pkt{t - start, strings.Contains(k.Flags, "K")})
	}
	if len(pkts) == 0 {
		return frameTimes{}, fmt.Errorf("%w: no video packets", ErrCorrupt)
	}
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].t < pkts[j].t })
	ft := frameTimes{PTS: make([]float64, len(pkts)), Key: make([]bool, len(pkts)), Start: start}
	for i, k := range pkts {
		ft.PTS[i], ft.Key[i] = k.t, k.key
	}
	return ft, nil
}

func parseTime(s string) (float64, bool) {
	if s == "" || s == "N/A" {
		return 0, false
	}
	f := parseFloat(s)
	return f, !math.IsNaN(f)
}

// ExactFrames replaces an estimated frame count (containers without
// nb_frames: MKV, WEBM, …) by the number of video packets, counted by
// demuxing the whole file without decoding it. Plans made from exact counts
// pick the same frames as qwen-vl-utils. Info with an exact count is
// returned unchanged.
func ExactFrames(ctx context.Context, info Info) (Info, error) {
	if !info.FramesEstimated {
		return info, nil
	}
	url, err := fileURL(info.Path)
	if err != nil {
		return info, fmt.Errorf("count frames of %s: %w", info.Path, err)
	}
	ft, err := scanFrames(ctx, url)
	if err != nil {
		return info, fmt.Errorf("count frames of %s: %w", info.Path, err)
	}
	info.Frames, info.FramesEstimated = len(ft.PTS), false
	return info, nil
}
