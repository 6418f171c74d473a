package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// FramesOptions say where and how `vision frames` writes frames.
type FramesOptions struct {
	OutDir       string            // required; one folder per video below it
	Mode         media.ExtractMode // auto (default), pass, seek or keyframes
	ContactSheet bool              // also write contact.jpg per video
	QScale       int               // MJPEG -q:v; 0: media's default
}

// Manifest is manifest.json, written beside each video's frames.
type Manifest struct {
	Source       ManifestSource `json:"source"`
	Model        string         `json:"model"`
	Plan         ManifestPlan   `json:"plan"`
	Mode         string         `json:"mode"`
	SampleFPS    float64        `json:"sample_fps"`
	Width        int            `json:"width"`  // of every frame, upright
	Height       int            `json:"height"` //
	Tokens       int            `json:"tokens"`
	InputTokens  int            `json:"input_tokens"`
	Frames       []ManifestItem `json:"frames"`
	ContactSheet string         `json:"contact_sheet,omitempty"`
}

// ManifestSource is what ffprobe said of the video.
type ManifestSource struct {
	Path            string  `json:"path"`
	Bytes           int64   `json:"bytes"`
	Format          string  `json:"format"`
	Codec           string  `json:"codec,omitempty"`
	DurationS       float64 `json:"duration_s"`
	FPS             float64 `json:"fps"`
	Frames          int     `json:"frames"`
	FramesEstimated bool    `json:"frames_estimated,omitempty"`
	VFR             bool    `json:"vfr,omitempty"`
	Width           int     `json:"width"` // upright
	Height          int     `json:"height"`
	Rotation        int     `json:"rotation,omitempty"`
	HasAudio        bool    `json:"has_audio,omitempty"`
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
	inputs, err := Expand(ctx, args, stdin)
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

func framesOne(ctx context.Context, cfg Config, in Input, o FramesOptions, used map[string]bool) FramesResult {
	r := FramesResult{Estimate: estimateOne(ctx, cfg, in, 0)}
	e := &r.Estimate
	if e.Status != StatusOK {
		return r
	}
	if e.Kind != media.KindVideo {
		e.Status, e.Reason = StatusSkipped, "not a video"
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "write", err.Error()
		return r
	}
	plan := *e.Video
	m := newManifest(cfg, *e, o)
	var sheet []media.Frame
	_, err := media.ExtractFrames(ctx, in.Path, e.Info, plan, media.ExtractOptions{
		Mode: o.Mode, QScale: o.QScale,
		OnFrame: func(f media.Frame) error {
			name := fmt.Sprintf("frame_%04d.jpg", len(m.Frames)+1)
			if err := media.WriteFileAtomic(filepath.Join(dir, name), f.Data, 0o644); err != nil {
				return err
			}
			m.Frames = append(m.Frames, ManifestItem{Index: f.Index, TimeS: f.TimeS, File: name})
			if o.ContactSheet {
				sheet = append(sheet, f)
			}
			return nil
		},
	})
	r.Dir, r.Written = dir, len(m.Frames)
	if err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "extract", err.Error()
		return r
	}
	if o.ContactSheet && len(sheet) > 0 {
		data, err := media.ContactSheet(sheet, 0)
		if err == nil {
			err = media.WriteFileAtomic(filepath.Join(dir, "contact.jpg"), data, 0o644)
		}
		if err != nil {
			e.Status, e.Stage, e.Error = StatusFailed, "contact-sheet", err.Error()
			return r
		}
		m.ContactSheet = "contact.jpg"
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		r.Manifest = filepath.Join(dir, "manifest.json")
		err = media.WriteFileAtomic(r.Manifest, append(data, '\n'), 0o644)
	}
	if err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "manifest", err.Error()
	}
	return r
}

func newManifest(cfg Config, e Estimate, o FramesOptions) *Manifest {
	p, info := e.Video, e.Info
	mode := o.Mode
	if mode == "" {
		mode = media.ExtractAuto
	}
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
			DurationS: info.Duration, FPS: info.FPS, Frames: info.Frames, FramesEstimated: info.FramesEstimated,
			VFR: info.VFR, Width: info.Width, Height: info.Height, Rotation: info.Rotation, HasAudio: info.HasAudio},
		Model: cfg.Model,
		Plan: ManifestPlan{FPS: fps, NFrames: cfg.Video.NFrames, MaxFrames: maxFrames, Start: cfg.Video.Start, End: cfg.Video.End,
			StartFrame: p.StartFrame, EndFrame: p.EndFrame, Frames: p.Frames, Indices: p.Indices,
			MinPixels: p.MinPixels, MaxPixels: p.MaxPixels},
		Mode:        string(mode),
		SampleFPS:   p.SampleFPS,
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
	if data, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return tokens.FramePlan{}, 0, fmt.Errorf("read %s: %w", filepath.Join(dir, "manifest.json"), err)
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
