package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/disintegration/imaging"
)

// benchFixtures lists the fixtures the bare image.DecodeConfig loop reads
// (no HEIF, no RLE BMP), so Probe and the loop time the same files.
func benchFixtures(b *testing.B) []string {
	b.Helper()
	var out []string
	for _, c := range imageCases {
		if c.err != nil || c.format == "heic" || c.format == "avif" {
			continue
		}
		p := filepath.Join(imagesDir, c.name)
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkProbeImages is the full Probe (stat, sniff, header parse,
// orientation, animation) per fixture file.
func BenchmarkProbeImages(b *testing.B) {
	files := benchFixtures(b)
	ctx := context.Background()
	for b.Loop() {
		for _, f := range files {
			if _, err := Probe(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}

// BenchmarkProbeImageHeaders is probeImage alone: this file's share of Probe.
func BenchmarkProbeImageHeaders(b *testing.B) {
	files := benchFixtures(b)
	infos := make([]Info, len(files))
	for i, f := range files {
		infos[i] = probeT(b, f)
	}
	ctx := context.Background()
	for b.Loop() {
		for i, f := range files {
			if _, err := probeImage(ctx, f, Info{Path: f, Format: infos[i].Format, Bytes: infos[i].Bytes}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}

// BenchmarkDecodeConfigBaseline is the bare loop Probe is measured against:
// open, bufio, image.DecodeConfig, close.
func BenchmarkDecodeConfigBaseline(b *testing.B) {
	files := benchFixtures(b)
	for b.Loop() {
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := image.DecodeConfig(bufio.NewReader(f)); err != nil {
				b.Fatal(name, err)
			}
			f.Close()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}

var (
	bench12Once sync.Once
	bench12Path string
	bench12Err  error
)

// bench12MP writes (once, cached in the temp dir) a deterministic 4000×3000
// photo-like JPEG at quality 90, the size of a phone photo. The same file
// serves the vipsthumbnail/convert comparison in the report.
func bench12MP(b *testing.B) string {
	bench12Once.Do(func() {
		bench12Path = filepath.Join(os.TempDir(), "vision-bench-12mp.jpg")
		if _, err := os.Stat(bench12Path); err == nil {
			return
		}
		m := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
		r := rand.New(rand.NewPCG(12, 34))
		for y := range 3000 {
			for x := range 4000 {
				i := m.PixOffset(x, y)
				n := int(r.Uint32()%9) - 4
				m.Pix[i] = clamp8(x*255/4000 + n + (x/50%2)*20)
				m.Pix[i+1] = clamp8(y*255/3000 + n + (y/40%2)*20)
				m.Pix[i+2] = clamp8(128 + ((x+y)/90%3)*40 - 40 + n)
				m.Pix[i+3] = 255
			}
		}
		f, err := os.Create(bench12Path + ".tmp")
		if err != nil {
			bench12Err = err
			return
		}
		w := bufio.NewWriter(f)
		if bench12Err = jpeg.Encode(w, m, &jpeg.Options{Quality: 90}); bench12Err == nil {
			bench12Err = w.Flush()
		}
		f.Close()
		if bench12Err == nil {
			bench12Err = os.Rename(bench12Path+".tmp", bench12Path)
		}
	})
	if bench12Err != nil {
		b.Fatal(bench12Err)
	}
	return bench12Path
}

// BenchmarkPrepare12MP resizes a 12 MP JPEG to qwen3-vl-plus's default
// size (1856×1376) and encodes it: one image at a time, one per core, and
// the stages alone next to imaging's direct resizes.
func BenchmarkPrepare12MP(b *testing.B) {
	p := bench12MP(b)
	info := probeT(b, p)
	plan := planT(b, info, qwen3VLPlus(b))
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := PrepareImage(ctx, p, info, plan, EncodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serial-go-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := PrepareImage(ctx, p, info, plan, EncodeOptions{NoFFmpeg: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("per-core", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := PrepareImage(ctx, p, info, plan, EncodeOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	img, _, err := decodeCoded(context.Background(), p, info, 0)
	if err != nil {
		b.Fatal(err)
	}
	w, h := plan.ResizedWidth, plan.ResizedHeight
	b.Run("stage=decode", func(b *testing.B) {
		for b.Loop() {
			decodeCoded(context.Background(), p, info, 0)
		}
	})
	b.Run("stage=resize", func(b *testing.B) {
		for b.Loop() {
			Resize(img, w, h)
		}
	})
	small := Resize(img, w, h)
	b.Run("stage=encode", func(b *testing.B) {
		for b.Loop() {
			encodeJPEG(small, DefaultQuality)
		}
	})
	b.Run("imaging=catmullrom-direct", func(b *testing.B) {
		for b.Loop() {
			imaging.Resize(img, w, h, imaging.CatmullRom)
		}
	})
	b.Run("imaging=lanczos-direct", func(b *testing.B) {
		for b.Loop() {
			imaging.Resize(img, w, h, imaging.Lanczos)
		}
	})
}

var (
	phoneOnce  sync.Once
	phoneFiles []string
	phoneErr   error
)

// phoneJPEGs writes (once) 400 JPEGs whose headers look like a phone's:
// an APP1 Exif segment of about 48 KB (IFD0 with Orientation, then the
// bulk a thumbnail and maker notes take), a 3 KB APP2 ICC profile, then
// the frame. Probing reads headers only, so the pixels are few; the header
// bytes are what a real photo makes the probe read (and the bare
// DecodeConfig loop skip through).
func phoneJPEGs(b *testing.B) []string {
	phoneOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vision-bench-phone-")
		if err != nil {
			phoneErr = err
			return
		}
		m := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for i := range m.Pix {
			m.Pix[i] = uint8(i * 7)
		}
		var frame bytes.Buffer
		if phoneErr = jpeg.Encode(&frame, m, &jpeg.Options{Quality: 85}); phoneErr != nil {
			return
		}
		for i := range 400 {
			exif := []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00")
			exif = binary.LittleEndian.AppendUint16(exif, uint16(i%8+1))
			exif = append(exif, 0, 0, 0, 0, 0, 0)         // padding, no next IFD
			exif = append(exif, make([]byte, 48*1024)...) // thumbnail and maker notes
			icc := append([]byte("ICC_PROFILE\x00\x01\x01"), make([]byte, 3*1024)...)
			var f bytes.Buffer
			f.Write(frame.Bytes()[:2])
			for _, seg := range []struct {
				marker byte
				data   []byte
			}{{0xe1, exif}, {0xe2, icc}} {
				f.Write([]byte{0xff, seg.marker})
				binary.Write(&f, binary.BigEndian, uint16(len(seg.data)+2))
				f.Write(seg.data)
			}
			f.Write(frame.Bytes()[2:])
			p := filepath.Join(dir, fmt.Sprintf("IMG_%04d.jpg", i))
			if phoneErr = os.WriteFile(p, f.Bytes(), 0o644); phoneErr != nil {
				return
			}
			phoneFiles = append(phoneFiles, p)
		}
	})
	if phoneErr != nil {
		b.Fatal(phoneErr)
	}
	return phoneFiles
}

// BenchmarkProbePhoneJPEGs is the full Probe over phone-like JPEG headers.
func BenchmarkProbePhoneJPEGs(b *testing.B) {
	files := phoneJPEGs(b)
	ctx := context.Background()
	for b.Loop() {
		for _, f := range files {
			info, err := Probe(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if info.Orientation == 0 {
				b.Fatalf("%s: no orientation", f)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}

// BenchmarkDecodeConfigPhoneJPEGs is the bare loop over the same files.
func BenchmarkDecodeConfigPhoneJPEGs(b *testing.B) {
	files := phoneJPEGs(b)
	for b.Loop() {
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := image.DecodeConfig(bufio.NewReader(f)); err != nil {
				b.Fatal(name, err)
			}
			f.Close()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
}
