package dashscope

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Media is one image, video or frame: a URL, or raw bytes that the client
// sends as a base64 data URL. Set exactly one of URL, Data or ReaderAt; use
// the constructors.
type Media struct {
	// URL is an http(s):// URL, an oss:// URL from Upload, or a data: URL.
	URL string
	// MIME is the type of Data or ReaderAt, e.g. "image/jpeg", "video/mp4".
	// It goes into the data URL as is; the service rejects a type that does
	// not match the bytes (InvalidParameter.DataInspection).
	MIME string
	// Data holds the raw (not base64) bytes.
	Data []byte
	// ReaderAt and Size stand for raw bytes that are read, possibly several
	// times (retries), while the request is sent; an *os.File works.
	ReaderAt io.ReaderAt
	Size     int64
}

// MediaURL refers to media by URL: https://, oss:// or data:.
func MediaURL(url string) Media { return Media{URL: url} }

// MediaBytes sends data, base64-encoded on the fly, as a data URL of type mime.
func MediaBytes(mime string, data []byte) Media { return Media{MIME: mime, Data: data} }

// MediaReaderAt sends size bytes read from r, base64-encoded on the fly.
func MediaReaderAt(mime string, r io.ReaderAt, size int64) Media {
	return Media{MIME: mime, ReaderAt: r, Size: size}
}

// String describes m without its bytes.
func (m Media) String() string {
	if m.URL != "" {
		return "dashscope.Media{URL: " + strconv.Quote(truncate(m.URL, 64)) + "}"
	}
	return fmt.Sprintf("dashscope.Media{MIME: %q, %d bytes}", m.MIME, m.size())
}

// GoString is String, so %#v does not dump bytes either.
func (m Media) GoString() string { return m.String() }

func (m Media) inline() bool { return m.URL == "" }

func (m Media) size() int64 {
	if m.Data != nil {
		return int64(len(m.Data))
	}
	return m.Size
}

func (m Media) source() io.ReaderAt {
	if m.Data != nil {
		return bytes.NewReader(m.Data)
	}
	return m.ReaderAt
}

func (m Media) validate() error {
	n := 0
	for _, set := range []bool{m.URL != "", m.Data != nil, m.ReaderAt != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("media needs exactly one of URL, Data or ReaderAt")
	}
	if m.URL != "" {
		return nil
	}
	if !validMIME(m.MIME) {
		return fmt.Errorf("invalid media type %q", m.MIME)
	}
	if m.size() <= 0 {
		return errors.New("empty media")
	}
	return nil
}

// validMIME accepts type/subtype made of token characters, which need no
// escaping inside a JSON string or a data URL.
func validMIME(s string) bool {
	typ, sub, ok := strings.Cut(s, "/")
	if !ok || typ == "" || sub == "" {
		return false
	}
	for _, r := range typ + sub {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(".+-_", r)) {
			return false
		}
	}
	return true
}

// mediaTable collects the inline media of one request while its JSON
// skeleton is built. Each inline item is written into the skeleton as
// "data:<mime>;base64,<marker>", and body() later splices the base64 stream
// in place of the marker. The marker carries a random nonce so no text in
// the request can fake one.
type mediaTable struct {
	nonce string
	blobs []Media
	oss   bool // some URL is oss://
}

func newMediaTable() *mediaTable {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return &mediaTable{nonce: hex.EncodeToString(b[:])}
}

func (t *mediaTable) prefix() string { return "@@dashscope-" + t.nonce + "-" }

// ref returns the string to put in the skeleton for m.
func (t *mediaTable) ref(m Media) (string, error) {
	if err := m.validate(); err != nil {
		return "", err
	}
	if !m.inline() {
		if strings.HasPrefix(m.URL, "oss://") {
			t.oss = true
		}
		return m.URL, nil
	}
	t.blobs = append(t.blobs, m)
	return "data:" + m.MIME + ";base64," + t.prefix() + strconv.Itoa(len(t.blobs)-1) + "@@", nil
}

// segment is a literal piece of the body or one inline media item.
type segment struct {
	lit   []byte
	media *Media
	raw   bool // copy the media bytes as they are instead of base64
}

// body is a request body: JSON with base64 media spliced in while it is
// read. Its size is exact, and reader() can be called again for a retry.
type body struct {
	segs []segment
	size int64
}

// marshalSkeleton encodes v as JSON without HTML escaping.
func marshalSkeleton(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// body splits the skeleton at the markers.
func (t *mediaTable) body(skeleton []byte) (*body, error) {
	prefix := []byte(t.prefix())
	seen := make([]bool, len(t.blobs))
	b := &body{}
	rest := skeleton
	for {
		i := bytes.Index(rest, prefix)
		if i < 0 {
			break
		}
		j := i + len(prefix)
		k := bytes.Index(rest[j:], []byte("@@"))
		if k < 0 {
			return nil, errors.New("malformed media marker")
		}
		n, err := strconv.Atoi(string(rest[j : j+k]))
		if err != nil || n < 0 || n >= len(t.blobs) || seen[n] {
			return nil, errors.New("malformed media marker")
		}
		seen[n] = true
		b.addLiteral(rest[:i])
		b.segs = append(b.segs, segment{media: &t.blobs[n]})
		b.size += int64(base64.StdEncoding.EncodedLen(int(t.blobs[n].size())))
		rest = rest[j+k+2:]
	}
	b.addLiteral(rest)
	for _, ok := range seen {
		if !ok {
			return nil, errors.New("media marker missing from request")
		}
	}
	return b, nil
}

func (b *body) addLiteral(p []byte) {
	if len(p) > 0 {
		b.segs = append(b.segs, segment{lit: p})
		b.size += int64(len(p))
	}
}

// preview returns the body with every base64 payload replaced by a note of
// its length (for dry runs and logs).
func (b *body) preview() []byte {
	var out bytes.Buffer
	for _, s := range b.segs {
		if s.media == nil {
			out.Write(s.lit)
			continue
		}
		fmt.Fprintf(&out, "<%d bytes of base64 elided>", base64.StdEncoding.EncodedLen(int(s.media.size())))
	}
	return out.Bytes()
}

// reader returns a fresh reader over the body; onEOF runs when it has all
// been read.
func (b *body) reader(onEOF func()) io.ReadCloser {
	return &bodyReader{segs: b.segs, onEOF: onEOF}
}

// rawChunk is how many raw media bytes are encoded at a time (a multiple of
// 3, so chunk encodings concatenate into one valid base64 text).
const rawChunk = 48 << 10

// bodyReader streams the segments, encoding media chunk by chunk. It holds
// at most one chunk of raw and encoded bytes; no goroutine is involved.
type bodyReader struct {
	segs   []segment
	i      int
	lit    []byte
	src    io.ReaderAt
	off    int64
	n      int64
	copyIn bool // current media is copied raw
	raw    []byte
	enc    []byte
	pend   []byte
	onEOF  func()
	done   bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(r.pend) > 0 {
			n := copy(p, r.pend)
			r.pend = r.pend[n:]
			return n, nil
		}
		if len(r.lit) > 0 {
			n := copy(p, r.lit)
			r.lit = r.lit[n:]
			return n, nil
		}
		if r.src != nil && r.off < r.n {
			if r.copyIn {
				return r.copyMedia(p)
			}
			return r.readMedia(p)
		}
		if r.i >= len(r.segs) {
			if !r.done {
				r.done = true
				if r.onEOF != nil {
					r.onEOF()
				}
			}
			return 0, io.EOF
		}
		s := r.segs[r.i]
		r.i++
		r.src = nil
		if s.media == nil {
			r.lit = s.lit
			continue
		}
		r.src, r.off, r.n, r.copyIn = s.media.source(), 0, s.media.size(), s.raw
	}
}

// copyMedia reads the current media item's bytes into p unchanged.
func (r *bodyReader) copyMedia(p []byte) (int, error) {
	want := min(int64(len(p)), r.n-r.off)
	n, err := r.src.ReadAt(p[:want], r.off)
	if int64(n) < want {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("read media: %w", err)
	}
	r.off += want
	return n, nil
}

// rawBody is prefix, the bytes of m as they are, and suffix (a multipart
// upload).
func rawBody(prefix []byte, m *Media, suffix []byte) *body {
	b := &body{}
	b.addLiteral(prefix)
	b.segs = append(b.segs, segment{media: m, raw: true})
	b.size += m.size()
	b.addLiteral(suffix)
	return b
}

// readMedia encodes the next chunk of the current media item, straight into
// p when it fits. Every chunk but the last is a multiple of 3 bytes, so the
// chunk encodings concatenate into one valid base64 text.
func (r *bodyReader) readMedia(p []byte) (int, error) {
	chunk := min(int64(rawChunk), r.n-r.off)
	direct := true
	if int64(base64.StdEncoding.EncodedLen(int(chunk))) > int64(len(p)) {
		if fit := int64(len(p)/4) * 3; fit >= 3 {
			chunk = fit
		} else {
			direct = false
		}
	}
	if r.raw == nil {
		r.raw = make([]byte, rawChunk)
	}
	raw := r.raw[:chunk]
	n, err := r.src.ReadAt(raw, r.off)
	if int64(n) < chunk {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("read media: %w", err)
	}
	r.off += chunk
	size := base64.StdEncoding.EncodedLen(int(chunk))
	if direct {
		base64.StdEncoding.Encode(p[:size], raw)
		return size, nil
	}
	if r.enc == nil {
		r.enc = make([]byte, base64.StdEncoding.EncodedLen(rawChunk))
	}
	enc := r.enc[:size]
	base64.StdEncoding.Encode(enc, raw)
	n = copy(p, enc)
	r.pend = enc[n:]
	return n, nil
}

func (r *bodyReader) Close() error { return nil }
