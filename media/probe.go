package media

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Errors a probe can wrap; test with errors.Is.
var (
	ErrNotMedia    = errors.New("media: not an image or video")
	ErrUnsupported = errors.New("media: unsupported format")
	ErrCorrupt     = errors.New("media: corrupt or truncated file")
	ErrEmpty       = errors.New("media: empty file")
)

// Probe reads what a file holds from its headers (images) or ffprobe
// (videos), never decoding pixels. The kind is sniffed from the content; a
// file that is not media gives Info{Kind: KindOther} and an error wrapping
// ErrNotMedia.
func Probe(ctx context.Context, path string) (Info, error) {
	return probe(ctx, path, false)
}

// ProbeScanned is Probe for a file about to be planned exactly and
// extracted: a video's packet scan (ExactFrames) runs beside ffprobe's
// header read instead of after it, and is kept in the Info for
// ExactFrames and ExtractFrames to use. The Info reports the header's
// facts, as Probe's does.
func ProbeScanned(ctx context.Context, path string) (Info, error) {
	return probe(ctx, path, true)
}

func probe(ctx context.Context, path string, scan bool) (Info, error) {
	info := Info{Path: path, Kind: KindOther}
	// One open serves the stat, the sniff and an image's header parse.
	f, err := openRegular(path)
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	if st.IsDir() {
		return info, fmt.Errorf("probe %s: is a directory", path)
	}
	info.Bytes = st.Size()
	if st.Size() == 0 {
		return info, fmt.Errorf("probe %s: %w", path, ErrEmpty)
	}
	var head [256]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return info, fmt.Errorf("probe %s: %w", path, err)
	}
	kind, format := Sniff(head[:n])
	info.Kind, info.Format = kind, format
	info.Mislabelled = format != "" && mislabelled(path, format)
	switch kind {
	case KindImage:
		return probeImageOpen(ctx, f, info)
	case KindVideo:
		if scan {
			return probeVideoScanned(ctx, path, info)
		}
		return probeVideo(ctx, path, info)
	}
	return info, &NotMediaError{Path: path, Holds: describeContent(head[:n])}
}

// NotMediaError is the error Probe returns for a file that holds neither an
// image nor a video; it wraps ErrNotMedia.
type NotMediaError struct {
	Path  string
	Holds string // what the content is: "PDF", "HTML (…)", "text"…
}

func (e *NotMediaError) Error() string {
	return fmt.Sprintf("probe %s: holds %s: %v", e.Path, e.Holds, ErrNotMedia)
}

func (e *NotMediaError) Unwrap() error { return ErrNotMedia }

// NotMediaProblem turns a probe error wrapping ErrNotMedia into the
// file.not_media error for a file whose extension names an image or video
// format: such a file was meant to be sent, and skipping it silently would
// lose it. It returns false for files whose extension claims no media
// (notes.txt, doc.pdf), which are skipped with SkipReason.
func NotMediaProblem(path string, err error) (Problem, bool) {
	if !errors.Is(err, ErrNotMedia) || ExtKind(path) == KindOther {
		return Problem{}, false
	}
	return Problem{Code: "file.not_media", Severity: SeverityError, Path: path,
		Message: fmt.Sprintf("has the extension %s but holds %s, not %s", extOf(path), holds(err), map[Kind]string{KindImage: "an image", KindVideo: "a video"}[ExtKind(path)]),
		Fix:     "re-download or re-export it (a failed download often saves an error page under the file's name), or rename it to what it holds"}, true
}

// SkipReason says why a file that is not media is skipped.
func SkipReason(err error) string { return "not an image or video: holds " + holds(err) }

func holds(err error) string {
	var nm *NotMediaError
	if errors.As(err, &nm) && nm.Holds != "" {
		return nm.Holds
	}
	return "unrecognised data"
}
