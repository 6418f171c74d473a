package media

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSniffShortInput: a head cut inside a magic number or an ftyp brand
// sniffs without a panic (it once sliced past a 10-byte "....ftypab").
func TestSniffShortInput(t *testing.T) {
	for _, head := range [][]byte{
		[]byte("\x00\x00\x00\x0cftypab")[:10:10],
		[]byte("\x00\x00\x00\x0cftyp")[:8:8],
		[]byte("RIFF\x00\x00\x00\x00WE")[:10:10],
		[]byte("\x1a\x45\xdf")[:3:3],
		{},
	} {
		Sniff(head)
	}
}

// FuzzSniff checks that Sniff accepts every prefix of any bytes, each with
// its capacity cut to its length (so a slice past the end panics), and that
// it names a format for every kind but "other".
func FuzzSniff(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x0cftypab"))
	for _, dir := range []string{imagesDir, "../testdata/video"} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				f.Add(b[:min(len(b), 300)])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i := 0; i <= len(data) && i <= 300; i++ {
			k, format := Sniff(data[:i:i])
			if k != KindOther && format == "" {
				t.Fatalf("Sniff(%q) = %s without a format", data[:i], k)
			}
		}
	})
}
