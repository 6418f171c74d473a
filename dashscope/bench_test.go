package dashscope

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/qwen-vision/vision/internal/memtest"
)

const (
	benchImages    = 250
	benchImageSize = 270_000 // raw bytes; 250 × 360,000 base64 ≈ 90 MB of body
)

// patternReaderAt stands for a file: it produces size bytes that start
// like a JPEG without holding them in memory.
type patternReaderAt struct {
	size int64
	seed byte
}

func (p patternReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.size-off))
	for i := range n {
		if pos := off + int64(i); pos < 4 {
			b[i] = "\xff\xd8\xff\xe0"[pos]
		} else {
			b[i] = byte(pos) ^ p.seed
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// peakHeap samples the heap while it runs and reports the highest
// HeapAlloc above the starting point.
type peakHeap struct{ h *memtest.Heap }

func startPeakHeap() peakHeap { return peakHeap{memtest.StartHeap()} }

func (p peakHeap) mib() float64 {
	peak, base := p.h.Stop()
	if peak < base {
		return 0
	}
	return float64(peak-base) / (1 << 20)
}

func discardServer(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		io.WriteString(w, okNative)
	}))
	b.Cleanup(srv.Close)
	return srv, &received
}

func benchRequest() *Request {
	content := make([]Content, 0, benchImages+1)
	for i := range benchImages {
		content = append(content, Image(MediaReaderAt("image/jpeg", patternReaderAt{benchImageSize, byte(i)}, benchImageSize)))
	}
	content = append(content, Text("Transcribe every page."))
	return &Request{Model: "qwen-vl-ocr", Messages: []Message{{Role: RoleUser, Content: content}}}
}

// BenchmarkGenerateBody250Images sends 250 images (~90 MB of JSON) through
// Generate, base64-encoding them while the body streams.
func BenchmarkGenerateBody250Images(b *testing.B) {
	srv, received := discardServer(b)
	c, err := NewClient(testKey, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()), WithMaxRetries(0))
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest()
	var peak float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ph := startPeakHeap()
		if _, err := c.Generate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, ph.mib())
	}
	b.SetBytes(received.Load())
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(float64(received.Load())/(1<<20), "body-MiB")
}

// BenchmarkMarshalBody250Images is the naive way for comparison: read the
// media, base64 it into strings, json.Marshal the request and post it.
func BenchmarkMarshalBody250Images(b *testing.B) {
	srv, received := discardServer(b)
	var peak float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ph := startPeakHeap()
		msg := nativeMessage{Role: RoleUser}
		for i := range benchImages {
			raw := make([]byte, benchImageSize)
			patternReaderAt{benchImageSize, byte(i)}.ReadAt(raw, 0)
			msg.Content = append(msg.Content, nativeContent{Image: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(raw)})
		}
		text := "Transcribe every page."
		msg.Content = append(msg.Content, nativeContent{Text: &text})
		w := nativeRequest{Model: "qwen-vl-ocr", Input: nativeInput{Messages: []nativeMessage{msg}}, Parameters: nativeParameters{ResultFormat: "message"}}
		data, err := json.Marshal(w)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+pathGeneration, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		peak = max(peak, ph.mib())
	}
	b.SetBytes(received.Load())
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(float64(received.Load())/(1<<20), "body-MiB")
}
