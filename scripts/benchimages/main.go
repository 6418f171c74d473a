// Command benchimages supports scripts/bench.sh's comparison of vision
// resize with vipsthumbnail and ImageMagick on photo-sized JPEGs:
//
//	benchimages exif ORIENTATION FILE...   insert an Exif Orientation into JPEGs (in place)
//	benchimages sizes                      read `vision estimate --json` on stdin; print "PATH WxH" per image
//	benchimages compare DIR REFDIR         each DIR/NAME against REFDIR/NAME: same size, PSNR ≥ 30 dB
//
// compare is how the benchmark shows that the fast path keeps the planned
// size, the orientation and the quality: a sideways or wrongly sized
// output fails it, and so does a blurred or blocky one.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "exif":
		if len(os.Args) < 4 {
			usage()
		}
		o, convErr := strconv.Atoi(os.Args[2])
		if convErr != nil || o < 1 || o > 8 {
			usage()
		}
		for _, f := range os.Args[3:] {
			if err = insertOrientation(f, o); err != nil {
				break
			}
		}
	case "sizes":
		err = sizes()
	case "compare":
		if len(os.Args) != 4 {
			usage()
		}
		err = compare(os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchimages:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchimages exif ORIENTATION FILE... | sizes < estimate.jsonl | compare DIR REFDIR")
	os.Exit(2)
}

// insertOrientation puts an APP1 Exif segment holding only IFD0
// Orientation right after the SOI marker of the JPEG at path.
func insertOrientation(path string, o int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return fmt.Errorf("%s: not a JPEG", path)
	}
	exif := []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00")
	exif = binary.LittleEndian.AppendUint16(exif, uint16(o))
	exif = append(exif, 0, 0, 0, 0, 0, 0) // padding, no next IFD
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(exif)+2))
	out := append(append(append([]byte{}, data[:2]...), seg...), exif...)
	return os.WriteFile(path, append(out, data[2:]...), 0o644)
}

// sizes prints the planned (upright, resized) size of every image row of
// `vision estimate --json`.
func sizes() error {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var row struct {
			Path          string `json:"path"`
			Kind          string `json:"kind"`
			ResizedWidth  int    `json:"resized_width"`
			ResizedHeight int    `json:"resized_height"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return fmt.Errorf("estimate output: %w", err)
		}
		if row.Kind == "image" && row.ResizedWidth > 0 {
			fmt.Printf("%s %dx%d\n", row.Path, row.ResizedWidth, row.ResizedHeight)
		}
	}
	return sc.Err()
}

// compare checks every JPEG in dir against the file of the same name in
// ref and prints the PSNR of each.
func compare(dir, ref string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no JPEGs in %s", dir)
	}
	worst := math.Inf(1)
	for _, name := range names {
		a, err := decode(name)
		if err != nil {
			return err
		}
		b, err := decode(filepath.Join(ref, filepath.Base(name)))
		if err != nil {
			return err
		}
		if a.Bounds().Size() != b.Bounds().Size() {
			return fmt.Errorf("%s is %v, the reference %v", name, a.Bounds().Size(), b.Bounds().Size())
		}
		p := psnr(a, b)
		fmt.Printf("  %-28s %v  PSNR %.1f dB vs the reference\n", filepath.Base(name), a.Bounds().Size(), p)
		worst = min(worst, p)
	}
	if worst < 30 {
		return fmt.Errorf("PSNR %.1f dB is under 30 dB: wrong orientation or poor quality", worst)
	}
	return nil
}

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// psnr is the peak signal-to-noise ratio of a against b over RGB, in dB.
func psnr(a, b image.Image) float64 {
	var se float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x-r.Min.X+b.Bounds().Min.X, y-r.Min.Y+b.Bounds().Min.Y).RGBA()
			for _, d := range []float64{float64(ar>>8) - float64(br>>8), float64(ag>>8) - float64(bg>>8), float64(ab>>8) - float64(bb>>8)} {
				se += d * d
			}
		}
	}
	mse := se / float64(3*r.Dx()*r.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}
