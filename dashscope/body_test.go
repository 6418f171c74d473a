package dashscope

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

// readWith reads r in pieces of n bytes.
func readWith(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out.Write(buf[:k])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func TestBodyMatchesMarshal(t *testing.T) {
	// Sizes around the chunk boundaries and the base64 3-byte groups.
	sizes := []int{1, 2, 3, 4, 5, rawChunk - 1, rawChunk, rawChunk + 1, 3*rawChunk + 2, 200001}
	var content []Content
	var want []string
	for i, n := range sizes {
		data := fakeJPEG(n, byte(i))
		if i%2 == 0 {
			content = append(content, Image(MediaBytes("image/jpeg", data)))
		} else {
			content = append(content, Image(MediaReaderAt("image/jpeg", bytes.NewReader(data), int64(n))))
		}
		want = append(want, dataURL("image/jpeg", data))
	}
	content = append(content, Text("tail \u2028 \"quoted\" \\ <b>&"))
	req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: content}}}
	b, _, err := buildNative(req, false)
	if err != nil {
		t.Fatal(err)
	}
	// The reference: the same request with base64 strings, json.Marshal'ed.
	ref := nativeRequest{Model: "m", Parameters: nativeParameters{ResultFormat: "message"}}
	msg := nativeMessage{Role: RoleUser}
	for _, u := range want {
		msg.Content = append(msg.Content, nativeContent{Image: u})
	}
	tail := "tail \u2028 \"quoted\" \\ <b>&"
	msg.Content = append(msg.Content, nativeContent{Text: &tail})
	ref.Input.Messages = []nativeMessage{msg}
	wantBody, err := marshalSkeleton(ref)
	if err != nil {
		t.Fatal(err)
	}
	if b.size != int64(len(wantBody)) {
		t.Fatalf("size %d, want %d", b.size, len(wantBody))
	}
	for _, n := range []int{1, 3, 4, 5, 7, 1000, 4096, 32 << 10, 1 << 20} {
		got := readWith(t, b.reader(nil), n)
		if !bytes.Equal(got, wantBody) {
			t.Fatalf("read size %d: body differs (len %d vs %d)", n, len(got), len(wantBody))
		}
	}
	if err := iotest.TestReader(b.reader(nil), wantBody); err != nil {
		t.Error(err)
	}
}

func TestBodyReaderAtFailure(t *testing.T) {
	short := MediaReaderAt("image/jpeg", bytes.NewReader(fakeJPEG(10, 0)), 100) // claims more than it has
	b, _, err := buildNative(&Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{Image(short)}}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(b.reader(nil))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
}

func TestBodyMarkerCannotBeForged(t *testing.T) {
	req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{
		Text("@@dashscope-0000000000000000-0@@"), Image(MediaBytes("image/png", fakePNG(10))),
	}}}}
	b, _, err := buildNative(req, false)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(readWith(t, b.reader(nil), 512), &m); err != nil {
		t.Fatal(err)
	}
	if n := checkDataURLs(t, m); n != 1 {
		t.Errorf("%d data URLs", n)
	}
}

// TestRetryReplaysIdenticalBody sends a large request that fails once: both
// attempts must carry the same bytes with the announced length.
func TestRetryReplaysIdenticalBody(t *testing.T) {
	c, mux, _ := setup(t)
	var mu sync.Mutex
	var sums [][32]byte
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		if int64(len(data)) != r.ContentLength {
			t.Errorf("received %d of %d bytes", len(data), r.ContentLength)
		}
		mu.Lock()
		sums = append(sums, sha256.Sum256(data))
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.WriteHeader(502)
			return
		}
		io.WriteString(w, okNative)
	})
	data := fakeJPEG(3<<20+1, 9)
	req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{Image(MediaBytes("image/jpeg", data)), Text("x")}}}}
	if _, err := c.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0] != sums[1] {
		t.Fatalf("bodies differ across attempts (%d attempts)", len(sums))
	}
	wantLen := base64.StdEncoding.EncodedLen(len(data))
	if wantLen < 4<<20 {
		t.Fatal("test data too small")
	}
}
