package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qwen-vision/vision/media"
)

// Outputs mirror the inputs under the output folder: an input named by a
// relative path inside the working directory keeps that path
// ("scans/a/p1.png" → OUT/scans/a/p1.png.md); one outside it (absolute, or
// above with "..") keeps its path below the folder argument it was found
// in, under that folder's name, or just its name. The preset's extension is
// appended to the whole file name, so "p1.png" and "p1.jpg" never write the
// same file. Files are written to a temporary name and renamed.

// outputPath is where the output of in goes, or "" for no output.
func outputPath(outDir, ext string, in Input) string {
	if outDir == "" || ext == "" {
		return ""
	}
	rel := filepath.Clean(in.Path)
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		switch {
		case in.Root != "" && in.Rel != "":
			rel = filepath.Join(filepath.Base(filepath.Clean(in.Root)), in.Rel)
		default:
			rel = filepath.Base(rel)
		}
	}
	return filepath.Join(outDir, rel+ext)
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
