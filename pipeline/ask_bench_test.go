package pipeline

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/memtest"
)

// askMemoryTarget is issue 5's bound on the peak memory of one request of
// 250 images (~90 MB of body).
const askMemoryTarget = 64 << 20

// BenchmarkAsk250Images sends 250 JPEGs of ~370 KB (640×640 noise, already
// at their smart-resized size, so their bytes are sent as they are: a
// ~125 MB body) through pipeline.Ask to an httptest server that discards
// the body, and fails when the heap or the process's resident set peaks
// above 64 MiB while Ask runs. The peak RSS is read from VmHWM after
// resetting it (Linux /proc/self/clear_refs); elsewhere only the heap is
// checked.
func BenchmarkAsk250Images(b *testing.B) {
	dir := b.TempDir()
	jpg := noiseJPEG(b, 640, 640)
	for i := range 250 {
		if err := os.WriteFile(filepath.Join(dir, "img-"+pad(i)+".jpg"), jpg, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		io.WriteString(w, `{"request_id":"b","output":{"choices":[{"finish_reason":"stop","message":{"content":[{"text":"ok"}]}}]},"usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	b.Cleanup(srv.Close)
	client, err := dashscope.NewClient(testKey, dashscope.WithBaseURL(srv.URL), dashscope.WithMaxRetries(0))
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(b)
	cfg.Prompt = "Transcribe every page."
	var heapPeak, rssPeak float64
	b.ResetTimer()
	for b.Loop() {
		debug.FreeOSMemory()
		rssOK := memtest.ResetPeakRSS()
		h := memtest.StartHeap()
		res, err := Ask(context.Background(), cfg, client, []string{dir}, nil, AskOptions{})
		heap, _ := h.Stop()
		if err != nil || res.Response.Text != "ok" {
			b.Fatalf("ask: %v", err)
		}
		heapPeak = max(heapPeak, float64(heap))
		if rssOK {
			rss, err := memtest.PeakRSS()
			if err != nil {
				b.Fatal(err)
			}
			rssPeak = max(rssPeak, float64(rss))
		}
	}
	b.ReportMetric(heapPeak/(1<<20), "peak-heap-MiB")
	b.ReportMetric(rssPeak/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(received.Load())/(1<<20), "body-MiB")
	if heapPeak > askMemoryTarget || rssPeak > askMemoryTarget {
		b.Fatalf("peak heap %.1f MiB, peak RSS %.1f MiB: over the %d MiB target", heapPeak/(1<<20), rssPeak/(1<<20), askMemoryTarget>>20)
	}
}

// noiseJPEG encodes w×h random pixels at the default quality.
func noiseJPEG(b *testing.B, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
