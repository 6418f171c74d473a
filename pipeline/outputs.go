package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/qwen-vision/vision/media"
)

// Outputs mirror the inputs under the output folder, relative to the
// working directory when every input is inside it ("scans/a/p1.png" →
// OUT/scans/a/p1.png.md), else relative to the folder that holds them all
// ("/x/a/scans/p1.png" and "/x/b/scans/p1.png" → OUT/a/scans/p1.png.md and
// OUT/b/scans/p1.png.md; one file → OUT/p1.png.md). The preset's extension
// is appended to the whole file name, so "p1.png" and "p1.jpg" never write
// the same file. Paths are fixed when the run is planned, from all inputs
// before --shard (so shards agree); any that would still collide, ignoring
// case (a case-insensitive disk), or clash with a folder of another output,
// or with the results journal, get "~2", "~3"… before the extension, the
// first input in order keeping the plain name. Files are written to a
// temporary name and renamed.
//
// A journal that is resumed (or appended to with new inputs) already
// claims outputs: every output a record lists belongs to that record's
// input path. An input keeps the output its path had (in this output
// folder, with this extension), and no other input is given a claimed
// path, so a resumed run with inputs from another folder ("day2/scan.jpg"
// after "day1/scan.jpg", both OUT/scan.jpg.md by the rule above) never
// overwrites an earlier item's output: the new one gets "~2".

// outputClaims are the outputs a journal's records list: owner maps each
// output (pathKey) to the input path (cleanKey) that wrote it, own each
// input path to its latest output.
type outputClaims struct {
	owner map[string]string
	own   map[string]string
}

// claimedOutputs collects the outputs of recs, in journal order (a later
// record of the same input wins its own).
func claimedOutputs(recs []Record) outputClaims {
	c := outputClaims{owner: map[string]string{}, own: map[string]string{}}
	for _, r := range recs {
		for _, o := range r.Outputs {
			c.owner[pathKey(o)] = cleanKey(r.Path)
			c.own[cleanKey(r.Path)] = o
		}
	}
	return c
}

// outputPaths maps the path of each readable input to its output file, or
// returns nil when the preset writes none. claims are the outputs the
// journal already lists (see above); reserved are paths no output may take
// (the journal and its side files).
func outputPaths(inputs []Input, outDir, ext string, claims outputClaims, reserved ...string) map[string]string {
	if outDir == "" || ext == "" {
		return nil
	}
	type file struct{ path, abs string }
	var files []file
	for _, in := range inputs {
		if in.Err != nil {
			continue
		}
		abs, err := filepath.Abs(in.Path)
		if err != nil {
			abs = filepath.Clean(in.Path)
		}
		files = append(files, file{in.Path, abs})
	}
	base, err := os.Getwd()
	if err != nil {
		base = ""
	}
	for _, f := range files {
		if base != "" && !within(f.abs, base) {
			base = ""
		}
	}
	if base == "" { // not all in the working directory: their common folder
		for i, f := range files {
			if i == 0 {
				base = filepath.Dir(f.abs)
			}
			for !within(f.abs, base) {
				base = filepath.Dir(base)
			}
		}
	}
	taken := newPathSet()
	for _, r := range reserved {
		taken.addFile(r)
	}
	for k := range claims.owner {
		taken.addFile(k)
	}
	out := make(map[string]string, len(files))
	for _, f := range files {
		if p, ok := claims.own[cleanKey(f.path)]; ok && strings.HasSuffix(p, ext) && within(pathKey(p), pathKey(outDir)) &&
			claims.owner[pathKey(p)] == cleanKey(f.path) {
			out[f.path] = p // its own output from an earlier run
			continue
		}
		rel, err := filepath.Rel(base, f.abs)
		if err != nil {
			rel = filepath.Base(f.abs)
		}
		orig := strings.Split(rel, string(filepath.Separator))
		comps := slices.Clone(orig)
		last := len(comps) - 1
		comps[last] += ext
		for n := 2; ; n++ {
			k := taken.clashAt(outDir, comps)
			if k < 0 {
				break
			}
			comps[k] = orig[k] + "~" + strconv.Itoa(n) // the file, or the folder that is another output
			if k == last {
				comps[k] += ext
			}
		}
		p := filepath.Join(append([]string{outDir}, comps...)...)
		taken.addFile(p)
		out[f.path] = p
	}
	return out
}

// within reports whether path is dir or below it (both absolute, clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// pathSet holds output files and their folders, compared without case.
type pathSet struct{ files, dirs map[string]bool }

func newPathSet() pathSet { return pathSet{map[string]bool{}, map[string]bool{}} }

func pathKey(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return strings.ToLower(filepath.Clean(p))
}

func (s pathSet) addFile(p string) {
	k := pathKey(p)
	s.files[k] = true
	for d := filepath.Dir(k); d != filepath.Dir(d); d = filepath.Dir(d) {
		s.dirs[d] = true
	}
}

// clashAt is the index of the first component of outDir/comps… that
// clashes: a folder that is a file taken, or the whole path when it is a
// file or a folder taken; -1 when it is free.
func (s pathSet) clashAt(outDir string, comps []string) int {
	p := outDir
	for k, c := range comps {
		p = filepath.Join(p, c)
		key := pathKey(p)
		if s.files[key] || (k == len(comps)-1 && s.dirs[key]) {
			return k
		}
	}
	return -1
}

// checkOutDir reports, before anything is sent, whether dir can be created
// and written: the nearest part of it that exists must be a folder in which
// a file can be made.
func checkOutDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("output folder %s: %s is a file, not a folder; pass --out-dir DIR", dir, p)
			}
			break
		}
		// Missing, or below a file (ENOTDIR): look at the part above.
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	probe, err := os.CreateTemp(p, ".vision-write-check-")
	if err != nil {
		return fmt.Errorf("output folder %s: cannot write in %s: %w; pass --out-dir DIR", dir, p, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// writeOutput writes data atomically, creating folders as needed.
func writeOutput(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write output %s: %w", path, err)
	}
	if err := media.WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("write output %s: %w", path, err)
	}
	return nil
}

// markdownOutput is an answer as a .md file, ending with a newline.
func markdownOutput(answer string) []byte {
	if !strings.HasSuffix(answer, "\n") {
		answer += "\n"
	}
	return []byte(answer)
}

// eventsFile is the .json written per video by the video-events preset.
type eventsFile struct {
	Path      string       `json:"path"`
	DurationS float64      `json:"duration_s,omitempty"`
	SampleFPS float64      `json:"sample_fps,omitempty"`
	Events    []VideoEvent `json:"events"`
	Problems  []string     `json:"problems"`
}

func eventsOutput(f eventsFile) ([]byte, error) {
	if f.Events == nil {
		f.Events = []VideoEvent{}
	}
	if f.Problems == nil {
		f.Problems = []string{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	return append(b, '\n'), nil
}
