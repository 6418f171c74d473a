package media

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/tokens"
)

// TestPrepareFFmpegScalerOrientations runs the ffmpeg fast path on all eight
// EXIF orientations with a plan small enough to take it, and checks the
// result is upright, exactly the planned size, and like the Go path's.
func TestPrepareFFmpegScalerOrientations(t *testing.T) {
	needFFmpeg(t)
	for o := 1; o <= 8; o++ {
		p := filepath.Join(imagesDir, "orient"+string(rune('0'+o))+".jpg")
		info := probeT(t, p)
		plan := tokens.ImagePlan{Width: 64, Height: 48, ResizedWidth: 32, ResizedHeight: 24}
		if !useFFmpegScaler(info, plan) {
			t.Fatalf("orientation %d: fast path not taken for %+v", o, info)
		}
		fast, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := decodeBytes(t, fast.Data)
		if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 24 {
			t.Fatalf("orientation %d: %v, want 32x24", o, b)
		}
		checkPattern(t, img, 48)
		slow, err := PrepareImage(context.Background(), p, info, plan, EncodeOptions{NoFFmpeg: true})
		if err != nil {
			t.Fatal(err)
		}
		if fast.Quality != slow.Quality || fast.MIME != slow.MIME {
			t.Errorf("orientation %d: fast %d %s, slow %d %s", o, fast.Quality, fast.MIME, slow.Quality, slow.MIME)
		}
	}
}

func TestFFmpegScalerSkipsSmallShrinks(t *testing.T) {
	info := Info{Format: "jpeg", CodedWidth: 64, CodedHeight: 48}
	if useFFmpegScaler(info, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for a 1× shrink")
	}
	if useFFmpegScaler(Info{Format: "png", CodedWidth: 4000, CodedHeight: 3000}, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for a PNG")
	}
	if useFFmpegScaler(Info{Format: "jpeg", ColorModel: "cmyk", CodedWidth: 4000, CodedHeight: 3000}, tokens.ImagePlan{ResizedWidth: 64, ResizedHeight: 48}) {
		t.Error("fast path for CMYK")
	}
}

func TestScaleArgsReadFileURL(t *testing.T) {
	got := strings.Join(scaleArgs("file:/x/-i.jpg", 48, 64, 6), " ")
	want := "-nostdin -hide_banner -v error -threads 1 -filter_threads 1 -noautorotate -err_detect explode -i file:/x/-i.jpg -vf scale=48:64:flags=bicubic,transpose=1 -frames:v 1 -f rawvideo -pix_fmt yuvj420p -"
	if got != want {
		t.Errorf("args:\n%s\nwant\n%s", got, want)
	}
}

// TestPrepareImagesSharesFFmpeg prepares the eight orientation fixtures
// (plus a PNG, which never takes the fast path) in one call: the JPEGs share
// one ffmpeg run, and every result must be byte for byte what PrepareImage
// gives the same file alone: upright, planned size, same encode.
func TestPrepareImagesSharesFFmpeg(t *testing.T) {
	needFFmpeg(t)
	plan := tokens.ImagePlan{Width: 64, Height: 48, ResizedWidth: 32, ResizedHeight: 24}
	var jobs []ImageJob
	for o := 1; o <= 8; o++ {
		p := filepath.Join(imagesDir, "orient"+string(rune('0'+o))+".jpg")
		jobs = append(jobs, ImageJob{Path: p, Info: probeT(t, p), Plan: plan})
	}
	png := filepath.Join(imagesDir, "png.png")
	jobs = append(jobs, ImageJob{Path: png, Info: probeT(t, png), Plan: plan})

	// The shared run itself gives each image's own pixels.
	imgs, err := scaleManyWithFFmpeg(context.Background(), jobs[:8])
	if err != nil {
		t.Fatal(err)
	}
	for k, j := range jobs[:8] {
		one, err := scaleWithFFmpeg(context.Background(), j.Path, j.Info, j.Plan)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Y, imgs[k].Y) || !bytes.Equal(one.Cb, imgs[k].Cb) || !bytes.Equal(one.Cr, imgs[k].Cr) {
			t.Errorf("%s: the shared run's pixels differ from a run of its own", j.Path)
		}
	}
	res := PrepareImages(context.Background(), jobs, EncodeOptions{})
	for k, j := range jobs {
		alone, err := PrepareImage(context.Background(), j.Path, j.Info, j.Plan, EncodeOptions{})
		if err != nil || res[k].Err != nil {
			t.Fatalf("%s: %v / %v", j.Path, err, res[k].Err)
		}
		if !bytes.Equal(res[k].Prepared.Data, alone.Data) || res[k].Prepared.Width != 32 || res[k].Prepared.Height != 24 {
			t.Errorf("%s: batch result differs from PrepareImage's", j.Path)
		}
		checkPattern(t, decodeBytes(t, res[k].Prepared.Data), 48)
	}
}

// TestPrepareImagesIsolatesBadFiles puts a truncated JPEG (good header,
// cut data) among good ones: the shared ffmpeg run fails, each image is
// then prepared alone, and only the bad one reports an error.
func TestPrepareImagesIsolatesBadFiles(t *testing.T) {
	needFFmpeg(t)
	plan := tokens.ImagePlan{Width: 64, Height: 48, ResizedWidth: 32, ResizedHeight: 24}
	good := filepath.Join(imagesDir, "orient6.jpg")
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "cut.jpg")
	if err := os.WriteFile(bad, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	info := probeT(t, good)
	badInfo := info
	badInfo.Path = bad
	jobs := []ImageJob{{Path: good, Info: info, Plan: plan}, {Path: bad, Info: badInfo, Plan: plan}, {Path: good, Info: info, Plan: plan}}
	if _, err := scaleManyWithFFmpeg(context.Background(), jobs); err == nil {
		t.Log("ffmpeg scaled the cut JPEG anyway (it conceals damage); the fall-back is not exercised")
	}
	res := PrepareImages(context.Background(), jobs, EncodeOptions{})
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("good files failed: %v, %v", res[0].Err, res[2].Err)
	}
	if res[1].Err == nil {
		t.Error("the cut JPEG was prepared without an error")
	}
	for _, k := range []int{0, 2} {
		checkPattern(t, decodeBytes(t, res[k].Prepared.Data), 48)
	}
}

// damagedPhotos writes a 12 MP JPEG (4000×3000, ffmpeg's test picture), the same file cut at 60 % and one with 4 KB of its scan
// overwritten halfway: headers intact, so they probe fine and take the
// ffmpeg scaler path, where ffmpeg would conceal the damage (gray or green
// fill, exit 0) without -err_detect explode.
func damagedPhotos(t *testing.T) (good, cut, garbled string) {
	t.Helper()
	dir := t.TempDir()
	good = filepath.Join(dir, "photo.jpg")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
		"testsrc2=size=4000x3000:rate=1", "-frames:v", "1", "-q:v", "3", good).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut = filepath.Join(dir, "cut.jpg")
	if err := os.WriteFile(cut, data[:len(data)*6/10], 0o644); err != nil {
		t.Fatal(err)
	}
	g := bytes.Clone(data)
	for i := range 4096 {
		g[len(g)/2+i] = byte(i * 73)
	}
	garbled = filepath.Join(dir, "garbled.jpg")
	if err := os.WriteFile(garbled, g, 0o644); err != nil {
		t.Fatal(err)
	}
	return good, cut, garbled
}

// TestPrepareDamagedLargeJPEG: a truncated or damaged 12 MP JPEG is refused
// by ffmpeg's scaler and then reported corrupt by the Go decoder, alone
// (PrepareImage) and in a shared ffmpeg run (PrepareImages), where the good
// photos beside it still come out as they would alone.
func TestPrepareDamagedLargeJPEG(t *testing.T) {
	needFFmpeg(t)
	spec := qwen3VLPlus(t)
	good, cut, garbled := damagedPhotos(t)
	info := probeT(t, good)
	plan := planT(t, info, spec)
	if !scalerEligible(info, plan, EncodeOptions{}) {
		t.Fatalf("%+v, plan %+v: not on the ffmpeg scaler path", info, plan)
	}
	alone, err := PrepareImage(context.Background(), good, info, plan, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{cut, garbled} {
		badInfo := probeT(t, bad)
		if _, err := PrepareImage(context.Background(), bad, badInfo, plan, EncodeOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s alone: err = %v, want ErrCorrupt", filepath.Base(bad), err)
		}
		jobs := []ImageJob{{Path: good, Info: info, Plan: plan}, {Path: bad, Info: badInfo, Plan: plan}, {Path: good, Info: info, Plan: plan}}
		res := PrepareImages(context.Background(), jobs, EncodeOptions{})
		if !errors.Is(res[1].Err, ErrCorrupt) {
			t.Errorf("%s in a batch: err = %v, want ErrCorrupt", filepath.Base(bad), res[1].Err)
		}
		for _, k := range []int{0, 2} {
			if res[k].Err != nil || !bytes.Equal(res[k].Prepared.Data, alone.Data) {
				t.Errorf("%s in a batch: good photo %d: %v, or its bytes differ from PrepareImage's", filepath.Base(bad), k, res[k].Err)
			}
		}
	}
}
