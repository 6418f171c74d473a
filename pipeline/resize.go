package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qwen-vision/vision/media"
)

// ResizeOptions say where and how `vision resize` writes images.
type ResizeOptions struct {
	OutDir    string // required; created if missing
	Format    string // "jpeg" or "png"; "" keeps files already fit to send, else JPEG
	Quality   int    // JPEG quality; 0 = media's default
	Overwrite bool   // replace existing output files (never an input)
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
// smart_resize size, below o.OutDir mirroring the folders it came from (see
// outputNames for the layout). Writes are atomic; an input is never
// overwritten, and an existing file only with o.Overwrite (otherwise the
// image is skipped, "exists"). Videos and other files are listed as skipped.
// Images are decoded, resized and encoded in parallel, one per core.
func ResizeFiles(ctx context.Context, cfg Config, args []string, stdin io.Reader, o ResizeOptions, emit func(Resized) error) (Summary, error) {
	if o.OutDir == "" {
		return Summary{}, fmt.Errorf("resize: no output folder")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("resize: create %s: %w", o.OutDir, err)
	}
	// A second run into a folder inside the input must not take the
	// first run's outputs as inputs.
	inputs, err := ExpandWith(ctx, args, stdin, ExpandOptions{SkipDirs: []string{o.OutDir}})
	if err != nil {
		return Summary{}, err
	}
	outs := newOutputNames(o.OutDir, inputs)
	sum := Summary{CostComplete: true}
	workers := cfg.prepareWorkers()
	chunks := resizeChunks(len(inputs), workers)
	err = forEachOrdered(ctx, len(chunks), workers,
		func(ctx context.Context, c int) []Resized {
			return resizeChunk(ctx, cfg, inputs, chunks[c][0], chunks[c][1], o, outs)
		},
		func(rs []Resized) error {
			for _, r := range rs {
				sum.add(r.Estimate, cfg.Strict)
				if err := emit(r); err != nil {
					return err
				}
			}
			return nil
		})
	return sum, err
}

// resizeChunks splits n inputs into contiguous chunks, one worker's job
// each: at most maxResizeChunk, and small enough that every worker gets
// work. Large JPEGs in a chunk share one ffmpeg run (media.PrepareImages).
func resizeChunks(n, workers int) [][2]int {
	size := min(maxResizeChunk, max(1, (n+workers-1)/max(workers, 1)))
	var out [][2]int
	for lo := 0; lo < n; lo += size {
		out = append(out, [2]int{lo, min(lo+size, n)})
	}
	return out
}

// maxResizeChunk bounds a chunk: media's ffmpeg batch size.
const maxResizeChunk = 8

// resizeChunk resizes inputs[lo:hi]: each is planned and checked, the
// images are prepared together, then each is written.
func resizeChunk(ctx context.Context, cfg Config, inputs []Input, lo, hi int, o ResizeOptions, outs *outputNames) []Resized {
	rs := make([]Resized, hi-lo)
	var jobs []media.ImageJob
	var at []int // rs index per job
	for k := range rs {
		var ok bool
		if rs[k], ok = resizePlan(ctx, cfg, inputs[lo+k]); ok {
			jobs = append(jobs, media.ImageJob{Path: inputs[lo+k].Path, Info: rs[k].Info, Plan: *rs[k].Image})
			at = append(at, k)
		}
	}
	enc := cfg.encodeOptions(o.Format, o.Quality, cfg.transport())
	enc.ExactSize = true // an output at another size than planned is no resize
	for n, res := range media.PrepareImages(ctx, jobs, enc) {
		k := at[n]
		rs[k] = resizeWrite(rs[k], inputs[lo+k], lo+k, res, o, outs)
	}
	return rs
}

// encodeOptions are the media encoding settings of cfg for transport t.
func (c Config) encodeOptions(format string, quality int, t media.Transport) media.EncodeOptions {
	return media.EncodeOptions{Format: format, Quality: quality, MaxPixels: c.MaxDecodePixels}.WithLimits(c.Spec, t)
}

// resizePlan estimates one input; ok means it is an image to prepare.
func resizePlan(ctx context.Context, cfg Config, in Input) (r Resized, ok bool) {
	r = Resized{Estimate: estimateOne(ctx, cfg, in, 0)}
	e := &r.Estimate
	if e.Status != StatusOK {
		return r, false
	}
	if e.Kind != media.KindImage {
		e.Status, e.Reason = StatusSkipped, "not an image (resize writes images; use 'vision frames' for videos)"
		e.clearCost()
		return r, false
	}
	return r, true
}

// resizeWrite writes the prepared image of input i (res) to its output.
func resizeWrite(r Resized, in Input, i int, res media.ImageResult, o ResizeOptions, outs *outputNames) Resized {
	e := &r.Estimate
	if res.Err != nil {
		if p, ok := imagePrepareProblem(e.Path, res.Err); ok {
			e.Problems = append(e.Problems, p)
		}
		e.fail("prepare", res.Err.Error())
		return r
	}
	prep := res.Prepared
	out := outs.name(i, prep.MIME)
	r.Notes = outs.notes(i)
	switch {
	case media.SameFile(out, in.Path) || outs.isInput(out):
		e.fail("write", fmt.Sprintf("output %s would overwrite an input: choose another -o folder", out))
		return r
	case !o.Overwrite && exists(out):
		e.Status, e.Reason = StatusSkipped, fmt.Sprintf("%s exists; pass --overwrite to replace it", out)
		e.clearCost()
		return r
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		e.fail("write", err.Error())
		return r
	}
	write := media.WriteFileNew
	if o.Overwrite {
		write = media.WriteFileAtomic
	}
	if err := write(out, prep.Data, 0o644); err != nil {
		if errors.Is(err, media.ErrExists) { // appeared since the check above
			e.Status, e.Reason = StatusSkipped, fmt.Sprintf("%s exists; pass --overwrite to replace it", out)
			e.clearCost()
			return r
		}
		e.fail("write", err.Error())
		return r
	}
	r.Output, r.OutBytes, r.OutFormat = out, int64(len(prep.Data)), formatOf(prep.MIME)
	r.Reencoded, r.Quality = prep.Reencoded, prep.Quality
	r.Notes = append(r.Notes, prep.Notes...)
	return r
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func formatOf(mime string) string {
	_, f, _ := strings.Cut(mime, "/")
	return f
}

// outputNames maps inputs to output paths below a folder. The layout:
//
//   - one folder argument: its tree is mirrored directly below the folder;
//   - several folder arguments: each is mirrored below a folder of its own
//     base name (photos/2023 and photos/2024 → DIR/2023/…, DIR/2024/…), a
//     second root of the same base name getting "-2" (DIR/2023-2/…);
//   - files named directly (or matched by a glob): DIR/NAME.
//
// The output's extension is the format written (.jpg for JPEG re-encodes,
// the input's own spelling when the format is kept). Two inputs whose paths
// would still meet once the extension is set (a.png and a.jpg in one
// folder; x.jpg named from two folders) are told apart before anything is
// written, in input order: the first keeps the name, the next gets "-2" and
// a note saying why. So the names never depend on which image finishes
// first.
type outputNames struct {
	dir    string
	stems  []string        // per input: output path without extension
	note   []string        // per input: why it was renamed ("" if not)
	inputs map[string]bool // absolute input paths
	in     []Input
}

func newOutputNames(dir string, inputs []Input) *outputNames {
	o := &outputNames{dir: dir, stems: make([]string, len(inputs)), note: make([]string, len(inputs)),
		inputs: map[string]bool{}, in: inputs}
	for _, in := range inputs {
		if abs, err := filepath.Abs(in.Path); err == nil {
			o.inputs[abs] = true
		}
	}
	rootDirs := rootFolders(inputs)
	taken := map[string]int{} // lower-cased stem → input index
	for i, in := range inputs {
		rel := in.Rel
		if rel == "" {
			rel = filepath.Base(in.Path)
		}
		if d, ok := rootDirs[in.Root]; ok && in.Root != "" {
			rel = filepath.Join(d, rel)
		}
		stem := filepath.Join(dir, strings.TrimSuffix(rel, filepath.Ext(rel)))
		base := stem
		for n := 2; ; n++ {
			prev, clash := taken[strings.ToLower(stem)]
			if !clash {
				break
			}
			stem = fmt.Sprintf("%s-%d", base, n)
			o.note[i] = fmt.Sprintf("written as %s: %s goes to %s", filepath.Base(stem), inputs[prev].Path, filepath.Base(base))
		}
		taken[strings.ToLower(stem)] = i
		o.stems[i] = stem
	}
	return o
}

// rootFolders names the folder each folder argument is mirrored below:
// none ("") with a single folder argument, else its base name, made unique
// in argument order.
func rootFolders(inputs []Input) map[string]string {
	var roots []string
	seen := map[string]bool{}
	for _, in := range inputs {
		if in.Root != "" && !seen[in.Root] {
			seen[in.Root] = true
			roots = append(roots, in.Root)
		}
	}
	out := map[string]string{}
	if len(roots) < 2 {
		for _, r := range roots {
			out[r] = ""
		}
		return out
	}
	used := map[string]bool{}
	for _, r := range roots {
		base := filepath.Base(r)
		if abs, err := filepath.Abs(r); err == nil {
			base = filepath.Base(abs)
		}
		name := base
		for n := 2; used[strings.ToLower(name)]; n++ {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		used[strings.ToLower(name)] = true
		out[r] = name
	}
	return out
}

func (o *outputNames) isInput(path string) bool {
	abs, err := filepath.Abs(path)
	return err == nil && o.inputs[abs]
}

// notes says why input i's output was renamed, if it was.
func (o *outputNames) notes(i int) []string {
	if o.note[i] == "" {
		return nil
	}
	return []string{o.note[i]}
}

// name returns the output path of input i encoded as mime.
func (o *outputNames) name(i int, mime string) string {
	inExt := filepath.Ext(o.in[i].Path)
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp",
		"image/tiff": ".tiff", "image/heic": ".heic"}[mime]
	if ext == "" || sameExtFamily(inExt, ext) {
		ext = inExt // keep the input's spelling, e.g. .JPG
	}
	return o.stems[i] + ext
}

func sameExtFamily(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	jpeg := map[string]bool{".jpg": true, ".jpeg": true, ".jpe": true}
	tiff := map[string]bool{".tif": true, ".tiff": true}
	heic := map[string]bool{".heic": true, ".heif": true}
	return a == b || jpeg[a] && jpeg[b] || tiff[a] && tiff[b] || heic[a] && heic[b]
}
