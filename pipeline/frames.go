package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// FramesOptions say where and how `vision frames` writes frames.
type FramesOptions struct {
	OutDir       string            // required; one folder per video below it
	Mode         media.ExtractMode // auto (default), pass, seek or keyframes
	ContactSheet bool              // also write contact.jpg (and contact_2.jpg… for long lists) per video
	QScale       int               // MJPEG -q:v; 0: media's default
}

// Manifest is manifest.json, written beside each video's frames.
type Manifest struct {
	Source      ManifestSource `json:"source"`
	Model       string         `json:"model"`
	Plan        ManifestPlan   `json:"plan"`
	Mode        string         `json:"mode"`                // the mode that gave the frames: pass, seek or keyframes
	ModeNote    string         `json:"mode_note,omitempty"` // why auto chose or changed it, when not by cost alone
	SampleFPS   float64        `json:"sample_fps"`
	ListFPS     float64        `json:"list_fps"` // declared for the list: SampleFPS clamped into [0.1, 10] (tokens.Spec.ListFPS)
	Width       int            `json:"width"`    // of every frame, upright
	Height      int            `json:"height"`   //
	Tokens      int            `json:"tokens"`
	InputTokens int            `json:"input_tokens"`
	Frames      []ManifestItem `json:"frames"`
	// ContactSheet is the (first) contact sheet's file name, if one was
	// written; ContactSheets lists every sheet, one per
	// media.ContactSheetFrames frames.
	ContactSheet  string   `json:"contact_sheet,omitempty"`
	ContactSheets []string `json:"contact_sheets,omitempty"`
}

// ManifestSource is what ffprobe said of the video, with the frame count
// read from its packets.
type ManifestSource struct {
	Path            string  `json:"path"`
	Bytes           int64   `json:"bytes"`
	Format          string  `json:"format"`
	Codec           string  `json:"codec,omitempty"`
	DurationS       float64 `json:"duration_s"`
	DurationSource  string  `json:"duration_source,omitempty"` // "packets" or "stream_tag": the container states none
	FPS             float64 `json:"fps"`                       // average frame rate
	RealFPS         float64 `json:"real_fps"`                  // r_frame_rate: the base rate of the timestamps
	Frames          int     `json:"frames"`
	FramesEstimated bool    `json:"frames_estimated,omitempty"`
	// TimestampsUnreliable: the packets carry no timestamps (MPEG-PS);
	// time_s is then the decoder's.
	TimestampsUnreliable bool   `json:"timestamps_unreliable,omitempty"`
	VFR                  bool   `json:"vfr,omitempty"`
	Width                int    `json:"width"` // upright display size
	Height               int    `json:"height"`
	CodedWidth           int    `json:"coded_width"` // as stored
	CodedHeight          int    `json:"coded_height"`
	SampleAspect         string `json:"sample_aspect,omitempty"` // pixel aspect when not square
	Rotation             int    `json:"rotation,omitempty"`
	HasAudio             bool   `json:"has_audio,omitempty"`
}

// ManifestPlan is how the frames were chosen (qwen-vl-utils' sampling).
type ManifestPlan struct {
	FPS        float64  `json:"fps,omitempty"`
	NFrames    int      `json:"nframes,omitempty"`
	MaxFrames  int      `json:"max_frames"`
	Start      *float64 `json:"start_s,omitempty"`
	End        *float64 `json:"end_s,omitempty"`
	StartFrame int      `json:"start_frame"`
	EndFrame   int      `json:"end_frame"`
	Frames     int      `json:"frames"`
	Indices    []int    `json:"indices"`
	MinPixels  float64  `json:"min_pixels"`
	MaxPixels  float64  `json:"max_pixels"`
}

// ManifestItem is one written frame: its source frame index, timestamp and
// file (relative to the manifest).
type ManifestItem struct {
	Index int     `json:"index"`
	TimeS float64 `json:"time_s"`
	File  string  `json:"file"`
}

// FramesResult is one video's outcome.
type FramesResult struct {
	Estimate
	Dir      string `json:"dir,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	Mode     string `json:"mode,omitempty"` // the extraction mode used
	Written  int    `json:"written"`
}

// ExtractFiles writes the planned frames of every video in args below
// o.OutDir (one folder per video, mirroring where it came from) with a
// manifest.json each, and optionally a contact sheet. Images and other files
// are listed as skipped. Videos are done one at a time: ffmpeg already uses
// the cores.
func ExtractFiles(ctx context.Context, cfg Config, args []string, stdin io.Reader, o FramesOptions, emit func(FramesResult) error) (Summary, error) {
	if o.OutDir == "" {
		return Summary{}, fmt.Errorf("frames: no output folder")
	}
	inputs, err := ExpandWith(ctx, args, stdin, ExpandOptions{SkipDirs: []string{o.OutDir}})
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{CostComplete: true}
	used := map[string]bool{}
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		r := framesOne(ctx, cfg, in, o, used)
		sum.add(r.Estimate, cfg.Strict)
		if err := emit(r); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// ExactVideo re-plans a video estimate from its exact frame count, read
// from the packets (media.ExactFrames): the header's count is estimated in
// MKV, WEBM and MPEG files and wrong in trimmed MP4s, and a plan made from
// it names frames that do not exist (or not the ones qwen-vl-utils picks).
// Estimates of other kinds, or that did not probe, are returned as they
// are. The returned Info carries the scan, so extraction does not repeat
// it.
func ExactVideo(ctx context.Context, cfg Config, e Estimate) Estimate {
	if e.Kind != media.KindVideo || e.Info.Frames <= 0 {
		return e
	}
	info, err := media.ExactFrames(ctx, e.Info)
	if err != nil {
		e.clearCost()
		if ctx.Err() != nil {
			return failed(e, "scan", ctx.Err(), "run.interrupted", "run again")
		}
		p := media.VideoErrorProblem(e.Path, err)
		p.Message = trimPath(e.Path, p.Message)
		return failedWith(e, "scan", err, p)
	}
	header := e.HeaderFrames
	if header == 0 && info.Frames != e.Info.Frames {
		header = e.Info.Frames
	}
	if info.Frames == e.Info.Frames && info.VFR == e.Info.VFR && e.Status == StatusOK {
		e.Info, e.FramesEst = info, false
		return e
	}
	n := Estimate{Path: e.Path, In: e.In, Status: StatusOK, Problems: []media.Problem{}, Info: info,
		Kind: info.Kind, Format: info.Format, Bytes: info.Bytes, Width: info.Width, Height: info.Height, HeaderFrames: header}
	estimateVideo(cfg, &n)
	if n.Status == StatusOK {
		n.price(cfg, e.PromptTokens)
	} else {
		n.clearCost()
	}
	return n
}

// PlanExact is the estimate a request is planned, gated, paced and
// journaled from: for a video whose header frame count is not
// trustworthy (media.Info.FramesEstimated: MKV, WEBM, MPEG-TS/PS, Ogg, an
// MP4 whose edit list hides packets) it is ExactVideo's, so what `ask` and
// `run` show and charge is what they send; other estimates are returned as
// they are (Prepare still scans those, and reports a plan that changed).
// `estimate` stays header-only and says frames_estimated instead.
//
// A video that will be sent needs ffmpeg to extract its frames: without it
// the estimate fails here with tool.missing and the install command, as
// it does without ffprobe, before anything is scanned or sent.
func PlanExact(ctx context.Context, cfg Config, e Estimate) Estimate {
	if e.Kind != media.KindVideo || e.Status != StatusOK {
		return e
	}
	if e = needFFmpeg(e); e.Status != StatusOK || !e.Info.FramesEstimated {
		return e
	}
	return ExactVideo(ctx, cfg, e)
}

// needFFmpeg fails a video estimate when ffmpeg, which extracts its
// frames, is not installed (tool.missing, with the install command).
func needFFmpeg(e Estimate) Estimate {
	if err := media.FindTool("ffmpeg"); err != nil {
		e.clearCost()
		return failedWith(e, "extract", err, media.VideoErrorProblem(e.Path, err))
	}
	return e
}

// videoPlanProblem is the problem of a video whose frames cannot be
// planned with the options given (video.plan): the reason, and the
// options to change, or, when no option can help, what to do to the
// video: crop or pad it past 200:1, send a single frame as an image.
func videoPlanProblem(cfg Config, path string, info media.Info, err error) media.Problem {
	p := media.Problem{Code: "video.plan", Severity: media.SeverityError, Path: path,
		Message: "cannot be planned: " + trimTokens(err), Fix: "change the video options (--fps, --nframes, --max-frames, --start/--end)"}
	var oe *tokens.OptionError
	switch {
	case errors.Is(err, tokens.ErrAspectRatio):
		p.Fix = aspectFix(cfg, info)
	case errors.Is(err, tokens.ErrTooFewFrames):
		p.Fix = "send a frame of it as an image: ffmpeg -i IN -frames:v 1 OUT.jpg"
	case !errors.As(err, &oe):
	case oe.Option == "start/end", oe.Option == "video_start/video_end":
		p.Fix = fmt.Sprintf("give --start/--end within the video (0–%.2fs) with start before end", info.Duration)
	case oe.Fix != "":
		p.Message = "cannot be planned: " + FlagNames(oe.Option) + ": " + oe.Msg
		p.Fix = FlagNames(oe.Fix)
	case !strings.Contains(oe.Option, " "):
		flags := strings.Split(oe.Option, "/")
		for i, f := range flags {
			flags[i] = "--" + strings.ReplaceAll(strings.TrimPrefix(f, "video_"), "_", "-") // video_start: --start
		}
		p.Fix = fmt.Sprintf("change %s for this video (%.2fs, %d frames at %.4g fps)", strings.Join(flags, "/"), info.Duration, info.Frames, info.FPS)
	}
	return p
}

// aspectFix is the fix for a video over 200:1 (tokens.ErrAspectRatio): no
// option changes its shape, so it is the ffmpeg commands that crop its
// long side or pad its short one (centred, even sizes) to the first size
// within 64 steps of 200:1 that plans, before and after smart_resize.
func aspectFix(cfg Config, info media.Info) string {
	const fix = "crop or pad it to at most 200:1 (no option changes its shape)"
	w, h := info.Width, info.Height
	if w <= 0 || h <= 0 {
		return fix + ": ffmpeg -i IN -vf crop=W:H OUT.mp4, or -vf pad=W:H"
	}
	plans := func(w, h int) bool {
		_, err := tokens.PlanVideo(tokens.VideoSource{Width: w, Height: h, Frames: info.Frames, FPS: info.FPS}, cfg.Spec, cfg.Video)
		return err == nil
	}
	wide, long, short := w > h, max(w, h), min(w, h)
	var cmds []string
	for c, i := short*tokens.MaxRatio, 0; c > short && i < 64; c, i = c-2, i+1 {
		if cw, ch := pick(wide, c, short); plans(cw, ch) {
			cmds = append(cmds, fmt.Sprintf("ffmpeg -i IN -vf crop=%d:%d OUT.mp4", cw, ch))
			break
		}
	}
	s0 := (long + tokens.MaxRatio - 1) / tokens.MaxRatio
	for s, i := s0+s0%2, 0; s < long && i < 64; s, i = s+2, i+1 {
		if pw, ph := pick(wide, long, s); plans(pw, ph) {
			cmds = append(cmds, fmt.Sprintf("ffmpeg -i IN -vf 'pad=%d:%d:(ow-iw)/2:(oh-ih)/2' OUT.mp4", pw, ph))
			break
		}
	}
	if len(cmds) == 0 {
		return fix + ": ffmpeg -i IN -vf crop=W:H OUT.mp4, or -vf pad=W:H"
	}
	return fix + ": " + strings.Join(cmds, ", or ")
}

// pick orders a long and a short side as width×height: the long side is
// the width when wide.
func pick(wide bool, long, short int) (w, h int) {
	if wide {
		return long, short
	}
	return short, long
}

func framesOne(ctx context.Context, cfg Config, in Input, o FramesOptions, used map[string]bool) FramesResult {
	r := FramesResult{Estimate: estimateScanned(ctx, cfg, in, 0)}
	if r.Status == StatusOK && r.Kind != media.KindVideo {
		r.Status, r.Reason = StatusSkipped, "not a video"
		return r
	}
	if r.Kind == media.KindVideo && r.Info.Frames > 0 {
		// Check for ffmpeg before anything is scanned or created.
		if r.Estimate = needFFmpeg(r.Estimate); r.Status != StatusOK {
			return r
		}
		r.Estimate = ExactVideo(ctx, cfg, r.Estimate)
	}
	e := &r.Estimate
	if e.Status != StatusOK {
		return r
	}
	rel := in.Rel
	if rel == "" {
		rel = filepath.Base(in.Path)
	}
	// The folder keeps the video's extension, so clip.mp4 and clip.mkv
	// do not share one.
	dir := filepath.Join(o.OutDir, rel)
	for n := 2; used[dir]; n++ {
		dir = filepath.Join(o.OutDir, rel+fmt.Sprintf("-%d", n))
	}
	used[dir] = true
	r.Dir = dir
	m, written, stage, err := writeFrames(ctx, cfg, *e, o, dir)
	r.Written = written
	if m != nil {
		r.Mode = m.Mode
	}
	if err != nil {
		if p, ok := extractProblem(e.Path, err); ok && stage == "extract" {
			if p.Code == "video.damaged" && o.Mode != media.ExtractKeyframes {
				p.Fix += ", or take the keyframes nearest the planned times (--keyframes)"
			}
			e.Problems = append(e.Problems, p)
		}
		e.fail(stage, err.Error())
		return r
	}
	r.Manifest = filepath.Join(dir, manifestName)
	return r
}

// extractProblem is the problem of a video whose frames could not be
// extracted because of the file (damaged, corrupt, a seek that missed) or
// a missing ffmpeg (media.VideoErrorProblem); ok is false for other
// errors (an interruption, an upload, a full disk).
func extractProblem(path string, err error) (media.Problem, bool) {
	var te *media.ToolError
	if !errors.Is(err, media.ErrFrameMissing) && !errors.Is(err, media.ErrCorrupt) && !errors.Is(err, media.ErrToolMissing) &&
		!errors.Is(err, media.ErrWrongFrame) && !errors.As(err, &te) {
		return media.Problem{}, false
	}
	return media.VideoErrorProblem(path, err), true
}

const manifestName = "manifest.json"

// writeFrames extracts e's frames into a hidden folder inside dir and,
// once all are there, replaces the files a previous manifest in dir lists
// (and nothing else) with them and writes the manifest: a failed or
// interrupted run leaves dir as it was. It returns the manifest (nil if
// extraction did not start), the number of frames now in dir (0 when it
// failed before moving any there: the hidden folder is removed) and, on
// error, the stage that failed.
func writeFrames(ctx context.Context, cfg Config, e Estimate, o FramesOptions, dir string) (*Manifest, int, string, error) {
	_, statErr := os.Stat(dir)
	created := os.IsNotExist(statErr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, "write", err
	}
	tmp, err := os.MkdirTemp(dir, ".frames-")
	if err != nil {
		return nil, 0, "write", err
	}
	defer os.RemoveAll(tmp)
	fail := func(m *Manifest, stage string, err error) (*Manifest, int, string, error) {
		if created {
			os.RemoveAll(tmp)
			os.Remove(dir) // only if empty: nothing of ours is left
		}
		return m, 0, stage, err
	}

	plan := *e.Video
	m := newManifest(cfg, e)
	// Each frame is drawn into its contact sheet as it arrives and each
	// sheet written once complete: memory holds one sheet, not the frames.
	var sheets *media.ContactSheets
	var sheetErr error
	if o.ContactSheet {
		sheets, err = media.NewContactSheets(len(plan.Indices), plan.ResizedWidth, plan.ResizedHeight, func(s int, data []byte) error {
			name := contactSheetName(s)
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return err
			}
			m.ContactSheets = append(m.ContactSheets, name)
			return nil
		})
		if err != nil {
			return fail(m, "contact-sheet", err)
		}
	}
	x, err := media.Extract(ctx, e.Path, e.Info, plan, media.ExtractOptions{
		Mode: o.Mode, QScale: o.QScale,
		OnFrame: func(f media.Frame) error {
			name := fmt.Sprintf("frame_%04d.jpg", len(m.Frames)+1)
			if err := os.WriteFile(filepath.Join(tmp, name), f.Data, 0o644); err != nil {
				return err
			}
			m.Frames = append(m.Frames, ManifestItem{Index: f.Index, TimeS: f.TimeS, File: name})
			if sheets != nil {
				sheetErr = sheets.Add(f)
			}
			return sheetErr
		},
	})
	m.Mode, m.ModeNote = string(x.Mode), x.Note
	if sheetErr == nil && sheets != nil && err == nil {
		sheetErr = sheets.Close()
	}
	switch {
	case sheetErr != nil:
		return fail(m, "contact-sheet", sheetErr)
	case err != nil:
		return fail(m, "extract", err)
	}
	if len(m.ContactSheets) > 0 {
		m.ContactSheet = m.ContactSheets[0]
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fail(m, "manifest", err)
	}
	removeListed(dir)
	for k, f := range m.Frames {
		if err := os.Rename(filepath.Join(tmp, f.File), filepath.Join(dir, f.File)); err != nil {
			return m, k, "write", err
		}
	}
	n := len(m.Frames)
	for _, name := range m.ContactSheets {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return m, n, "write", err
		}
	}
	if err := media.WriteFileAtomic(filepath.Join(dir, manifestName), append(data, '\n'), 0o644); err != nil {
		return m, n, "manifest", err
	}
	return m, n, "", nil
}

// contactSheetName is the file of contact sheet s: contact.jpg, then
// contact_2.jpg, contact_3.jpg… for lists longer than one sheet holds.
func contactSheetName(s int) string {
	if s == 0 {
		return "contact.jpg"
	}
	return fmt.Sprintf("contact_%d.jpg", s+1)
}

// removeListed deletes the frames and contact sheet that the manifest.json
// in dir lists, so a new run with fewer frames leaves no stale ones. Only
// plain file names directly in dir that are regular files are removed;
// anything else there, listed or not, is left alone, as is everything when
// the manifest is missing or unreadable.
func removeListed(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return
	}
	var old Manifest
	if json.Unmarshal(data, &old) != nil {
		return
	}
	names := append([]string{old.ContactSheet}, old.ContactSheets...)
	for _, f := range old.Frames {
		names = append(names, f.File)
	}
	for _, name := range names {
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." || name == manifestName {
			continue
		}
		path := filepath.Join(dir, name)
		if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
			os.Remove(path)
		}
	}
}

func newManifest(cfg Config, e Estimate) *Manifest {
	p, info := e.Video, e.Info
	maxFrames := cfg.Video.MaxFrames
	if maxFrames == 0 {
		maxFrames = cfg.Spec.MaxFrames
	}
	fps := cfg.Video.FPS
	if fps == 0 && cfg.Video.NFrames == 0 {
		fps = cfg.Spec.FPSDefault
	}
	return &Manifest{
		Source: ManifestSource{Path: e.Path, Bytes: info.Bytes, Format: info.Format, Codec: info.Codec,
			DurationS: info.Duration, DurationSource: info.DurationSource, FPS: info.FPS, RealFPS: info.RealFPS, Frames: info.Frames, FramesEstimated: info.FramesEstimated,
			TimestampsUnreliable: info.TimestampsUnreliable, VFR: info.VFR, Width: info.Width, Height: info.Height,
			CodedWidth: info.CodedWidth, CodedHeight: info.CodedHeight, SampleAspect: info.SampleAspect,
			Rotation: info.Rotation, HasAudio: info.HasAudio},
		Model: cfg.Model,
		Plan: ManifestPlan{FPS: fps, NFrames: cfg.Video.NFrames, MaxFrames: maxFrames, Start: cfg.Video.Start, End: cfg.Video.End,
			StartFrame: p.StartFrame, EndFrame: p.EndFrame, Frames: p.Frames, Indices: p.Indices,
			MinPixels: p.MinPixels, MaxPixels: p.MaxPixels},
		SampleFPS:   p.SampleFPS,
		ListFPS:     cfg.Spec.ListFPS(p.SampleFPS),
		Width:       p.ResizedWidth,
		Height:      p.ResizedHeight,
		Tokens:      p.Tokens,
		InputTokens: p.InputTokens,
		Frames:      make([]ManifestItem, 0, p.Frames),
	}
}

// PlanFrameFolder plans the images directly in dir (e.g. frames extracted
// before) as one "video" sent as a list of images, as the server plans such
// lists: it returns the plan and the number of images.
func PlanFrameFolder(ctx context.Context, cfg Config, dir string) (tokens.FramePlan, int, error) {
	inputs, err := Expand(ctx, []string{dir}, nil)
	if err != nil {
		return tokens.FramePlan{}, 0, err
	}
	// A folder written by ExtractFiles lists its frames in manifest.json;
	// anything else there (the contact sheet) is not a frame.
	listed := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(dir, manifestName)); err == nil {
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return tokens.FramePlan{}, 0, fmt.Errorf("read %s: %w", filepath.Join(dir, manifestName), err)
		}
		for _, f := range m.Frames {
			listed[f.File] = true
		}
	}
	var w, h, n int
	for _, in := range inputs {
		if in.Err != nil || in.Skip != "" || filepath.Dir(in.Path) != filepath.Clean(dir) {
			continue
		}
		if len(listed) > 0 && !listed[filepath.Base(in.Path)] {
			continue
		}
		info, err := media.Probe(ctx, in.Path)
		if err != nil || info.Kind != media.KindImage {
			continue
		}
		if n == 0 {
			w, h = info.Width, info.Height
		} else if info.Width != w || info.Height != h {
			return tokens.FramePlan{}, n, fmt.Errorf("frames in %s differ in size (%dx%d and %dx%d at %s): a frame list needs one size", dir, w, h, info.Width, info.Height, in.Path)
		}
		n++
	}
	if n == 0 {
		return tokens.FramePlan{}, 0, fmt.Errorf("no images in %s", dir)
	}
	p, err := tokens.PlanImageList(w, h, n, cfg.Spec, cfg.Video)
	return p, n, err
}
