package media

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxJPEGBytes bounds one frame read from ffmpeg, so a broken stream cannot
// grow a buffer without end.
const maxJPEGBytes = 64 << 20

// readJPEG reads one JPEG image from a stream of concatenated JPEGs (what
// ffmpeg's image2pipe muxer writes for MJPEG) by walking its markers: the
// length-prefixed segments are copied whole and entropy-coded data is
// scanned for the next marker (0xFF not followed by 0x00 or RSTn), so an
// 0xFFD9 inside a table cannot end a frame early. It returns io.EOF when the
// stream ends cleanly before a frame, io.ErrUnexpectedEOF inside one.
func readJPEG(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	soi := make([]byte, 2)
	if _, err := io.ReadFull(r, soi); err != nil {
		return nil, err // io.EOF: no more frames
	}
	if soi[0] != 0xFF || soi[1] != 0xD8 {
		return nil, fmt.Errorf("mjpeg: frame starts with %#x %#x, not SOI", soi[0], soi[1])
	}
	buf = append(buf, soi...)
	afterScan := false // the marker's 0xFF was consumed by readScan
	for {
		if len(buf) > maxJPEGBytes {
			return nil, fmt.Errorf("mjpeg: frame over %d bytes", maxJPEGBytes)
		}
		m, err := readMarker(r, afterScan)
		afterScan = false
		if err != nil {
			return nil, noEOF(err)
		}
		buf = append(buf, 0xFF, m)
		switch {
		case m == 0xD9: // EOI
			return buf, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			continue
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, noEOF(err)
		}
		n := int(l[0])<<8 | int(l[1])
		if n < 2 {
			return nil, fmt.Errorf("mjpeg: marker %#x has length %d", m, n)
		}
		buf = append(buf, l[:]...)
		start := len(buf)
		buf = append(buf, make([]byte, n-2)...)
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return nil, noEOF(err)
		}
		if m == 0xDA { // SOS: entropy-coded data up to the next marker
			if buf, err = readScan(r, buf); err != nil {
				return nil, noEOF(err)
			}
			afterScan = true
		}
	}
}

// readMarker reads 0xFF (unless gotFF), any fill bytes, and the marker
// code.
func readMarker(r *bufio.Reader, gotFF bool) (byte, error) {
	if !gotFF {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			return 0, fmt.Errorf("mjpeg: expected a marker, got %#x", b)
		}
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			return b, nil
		}
	}
}

// readScan appends entropy-coded bytes to buf, leaving the reader just
// after the 0xFF of the marker that ends them.
func readScan(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice(0xFF)
		buf = append(buf, chunk...) // before Peek, which may move chunk's bytes
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return buf, err
		}
		if len(buf) > maxJPEGBytes {
			return buf, fmt.Errorf("mjpeg: frame over %d bytes", maxJPEGBytes)
		}
		next, err := r.Peek(1)
		if err != nil {
			return buf, err
		}
		if c := next[0]; c == 0x00 || (c >= 0xD0 && c <= 0xD7) {
			// A stuffed 0xFF or a restart marker: still scan data.
			b, _ := r.ReadByte()
			buf = append(buf, b)
			continue
		}
		return buf[:len(buf)-1], nil // the 0xFF belongs to the next marker
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
