package media

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"testing"
)

func testJPEG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = shade ^ uint8(i*7) // varied data, plenty of 0xFF bytes to stuff
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadJPEG(t *testing.T) {
	a, b := testJPEG(t, 0), testJPEG(t, 0xFF)
	// An APPn segment whose payload holds FF D9 must not end the frame.
	trap := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9}, a[2:]...)
	stream := bytes.Join([][]byte{a, b, trap}, nil)
	r := bufio.NewReaderSize(bytes.NewReader(stream), 16) // tiny buffer: exercises ErrBufferFull
	for k, want := range [][]byte{a, b, trap} {
		got, err := readJPEG(r)
		if err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, want %d", k, len(got), len(want))
		}
		if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
			t.Fatalf("frame %d does not decode: %v", k, err)
		}
	}
	if _, err := readJPEG(r); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	if _, err := readJPEG(bufio.NewReader(bytes.NewReader(a[:len(a)/2]))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := readJPEG(bufio.NewReader(bytes.NewReader([]byte("not a jpeg")))); err == nil {
		t.Error("garbage: no error")
	}
}

func FuzzReadJPEG(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xD9})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 8 {
			if _, err := readJPEG(r); err != nil {
				return
			}
		}
	})
}
