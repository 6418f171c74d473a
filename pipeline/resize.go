package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/qwen-vision/vision/media"
)

// ResizeOptions say where and how `vision resize` writes images.
type ResizeOptions struct {
	OutDir  string // required; created if missing
	Format  string // "jpeg" or "png"; "" keeps files already fit to send, else JPEG
	Quality int    // JPEG quality; 0 = media's default
}

// Resized is one result of ResizeFiles.
type Resized struct {
	Estimate
	Output    string   `json:"output,omitempty"`
	OutBytes  int64    `json:"out_bytes,omitempty"`
	OutFormat string   `json:"out_format,omitempty"`
	Reencoded bool     `json:"reencoded"`
	Quality   int      `json:"quality,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// ResizeFiles writes every image found in args, upright and at exactly its
// smart_resize size, below o.OutDir mirroring the folders it came from.
// Writes are atomic; an input is never overwritten. Videos and other files
// are listed as skipped. Images are decoded, resized and encoded in parallel,
// one per core.
func ResizeFiles(ctx context.Context, cfg Config, args []string, stdin io.Reader, o ResizeOptions, emit func(Resized) error) (Summary, error) {
	if o.OutDir == "" {
		return Summary{}, fmt.Errorf("resize: no output folder")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("resize: create %s: %w", o.OutDir, err)
	}
	inputs, err := Expand(ctx, args, stdin)
	if err != nil {
		return Summary{}, err
	}
	outs := newOutputNames(o.OutDir, inputs)
	sum := Summary{CostComplete: true}
	err = forEachOrdered(ctx, len(inputs), cfg.prepareWorkers(),
		func(ctx context.Context, i int) Resized { return resizeOne(ctx, cfg, inputs[i], o, outs) },
		func(r Resized) error {
			sum.add(r.Estimate, cfg.Strict)
			return emit(r)
		})
	return sum, err
}

func resizeOne(ctx context.Context, cfg Config, in Input, o ResizeOptions, outs *outputNames) Resized {
	r := Resized{Estimate: estimateOne(ctx, cfg, in, 0)}
	e := &r.Estimate
	if e.Status != StatusOK {
		return r
	}
	if e.Kind != media.KindImage {
		e.Status, e.Reason = StatusSkipped, "not an image (resize writes images; use 'vision frames' for videos)"
		return r
	}
	enc := media.EncodeOptions{Format: o.Format, Quality: o.Quality}.WithLimits(cfg.Spec, cfg.transport())
	prep, err := media.PrepareImage(ctx, in.Path, e.Info, *e.Image, enc)
	if err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "prepare", err.Error()
		return r
	}
	out := outs.name(in, prep.MIME)
	if media.SameFile(out, in.Path) || outs.isInput(out) {
		e.Status, e.Stage = StatusFailed, "write"
		e.Error = fmt.Sprintf("output %s would overwrite an input: choose another -o folder", out)
		return r
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "write", err.Error()
		return r
	}
	if err := media.WriteFileAtomic(out, prep.Data, 0o644); err != nil {
		e.Status, e.Stage, e.Error = StatusFailed, "write", err.Error()
		return r
	}
	r.Output, r.OutBytes, r.OutFormat = out, int64(len(prep.Data)), formatOf(prep.MIME)
	r.Reencoded, r.Quality, r.Notes = prep.Reencoded, prep.Quality, prep.Notes
	return r
}

func formatOf(mime string) string {
	_, f, _ := strings.Cut(mime, "/")
	return f
}

// outputNames maps inputs to output paths below a folder, mirroring each
// input's folder structure and keeping names unique.
type outputNames struct {
	dir    string
	mu     sync.Mutex
	used   map[string]string // output path → input path
	inputs map[string]bool   // absolute input paths
}

func newOutputNames(dir string, inputs []Input) *outputNames {
	o := &outputNames{dir: dir, used: map[string]string{}, inputs: map[string]bool{}}
	for _, in := range inputs {
		if abs, err := filepath.Abs(in.Path); err == nil {
			o.inputs[abs] = true
		}
	}
	return o
}

func (o *outputNames) isInput(path string) bool {
	abs, err := filepath.Abs(path)
	return err == nil && o.inputs[abs]
}

// name returns the output path for an input encoded as mime: the relative
// path with the format's extension, suffixed -2, -3… if another input
// already took it.
func (o *outputNames) name(in Input, mime string) string {
	rel := in.Rel
	if rel == "" {
		rel = filepath.Base(in.Path)
	}
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp", "image/tiff": ".tiff"}[mime]
	if ext == "" {
		ext = filepath.Ext(rel)
	}
	if sameExtFamily(filepath.Ext(rel), ext) {
		ext = filepath.Ext(rel) // keep the input's spelling, e.g. .JPG
	} else {
		rel = strings.TrimSuffix(rel, filepath.Ext(rel)) + ext
	}
	base := filepath.Join(o.dir, rel)
	o.mu.Lock()
	defer o.mu.Unlock()
	out := base
	for n := 2; ; n++ {
		if prev, taken := o.used[out]; !taken || prev == in.Path {
			break
		}
		out = strings.TrimSuffix(base, ext) + fmt.Sprintf("-%d", n) + ext
	}
	o.used[out] = in.Path
	return out
}

func sameExtFamily(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	jpeg := map[string]bool{".jpg": true, ".jpeg": true, ".jpe": true}
	return a == b || jpeg[a] && jpeg[b]
}
