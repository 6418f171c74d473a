package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	info := Info{Path: path, Kind: KindOther}
	// One open serves the stat, the sniff and an image's header parse.
	f, err := os.Open(path)
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
		return probeVideo(ctx, path, info)
	}
	if format != "" {
		return info, fmt.Errorf("probe %s: %s file: %w", path, format, ErrNotMedia)
	}
	return info, fmt.Errorf("probe %s: %w", path, ErrNotMedia)
}
