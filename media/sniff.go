package media

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
)

// sniffLen is how many leading bytes Sniff reads.
const sniffLen = 64

// Sniff reads the first bytes of a file and says what it holds: the kind and
// the format, from magic numbers alone (never the extension).
func Sniff(head []byte) (Kind, string) {
	has := func(off int, magic string) bool {
		return len(head) >= off+len(magic) && string(head[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return KindImage, "jpeg"
	case has(0, "\x89PNG\r\n\x1a\n"):
		return KindImage, "png"
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return KindImage, "gif"
	case has(0, "BM") && len(head) >= 26:
		return KindImage, "bmp"
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return KindImage, "tiff"
	case has(0, "RIFF") && has(8, "WEBP"):
		return KindImage, "webp"
	case has(0, "RIFF") && has(8, "AVI "):
		return KindVideo, "avi"
	case has(4, "ftyp"):
		brand := ""
		if len(head) >= 12 {
			brand = string(head[8:12])
		}
		switch brand {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis":
			if brand == "avif" || brand == "avis" {
				return KindImage, "avif"
			}
			return KindImage, "heic"
		case "qt  ":
			return KindVideo, "mov"
		case "3gp4", "3gp5", "3gp6", "3g2a":
			return KindVideo, "3gp"
		}
		return KindVideo, "mp4"
	case has(0, "\x1a\x45\xdf\xa3"):
		if bytes.Contains(head, []byte("webm")) {
			return KindVideo, "webm"
		}
		return KindVideo, "mkv"
	case has(0, "FLV\x01"):
		return KindVideo, "flv"
	case has(0, "\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
		return KindVideo, "wmv"
	case has(0, "\x00\x00\x01\xba"), has(0, "\x00\x00\x01\xb3"):
		return KindVideo, "mpeg"
	case len(head) >= 189 && head[0] == 0x47 && head[188] == 0x47:
		return KindVideo, "ts"
	case has(4, "moov"), has(4, "mdat"), has(4, "wide"), has(4, "free"):
		return KindVideo, "mov"
	case has(0, "OggS"): // Theora video, or audio only (ffprobe tells)
		return KindVideo, "ogg"
	case has(0, "%PDF-"):
		return KindOther, "pdf"
	}
	return KindOther, ""
}

// SniffFile reads the head of the file at path and sniffs it.
func SniffFile(path string) (Kind, string, error) {
	f, err := openRegular(path)
	if err != nil {
		return KindOther, "", err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return KindOther, "", err
	}
	k, format := Sniff(head[:n])
	return k, format, nil
}

// extFormats maps file extensions to the format they claim.
var extFormats = map[string]string{
	".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png", ".gif": "gif", ".bmp": "bmp",
	".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".heic": "heic", ".heif": "heic", ".avif": "avif",
	".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "mkv", ".webm": "webm", ".avi": "avi",
	".flv": "flv", ".wmv": "wmv", ".3gp": "3gp", ".mpg": "mpeg", ".mpeg": "mpeg", ".ts": "ts",
	".pdf": "pdf",
}

// ExtFormat returns the format a file name's extension claims, or "".
func ExtFormat(path string) string { return extFormats[strings.ToLower(filepath.Ext(path))] }

// ExtKind returns the kind of media a file name's extension claims: image,
// video, or other (PDF, text, no extension…).
func ExtKind(path string) Kind {
	switch ExtFormat(path) {
	case "":
		return KindOther
	case "jpeg", "png", "gif", "bmp", "tiff", "webp", "heic", "avif":
		return KindImage
	case "pdf":
		return KindOther
	}
	return KindVideo
}

// describeContent names what a head that is not media holds, for
// messages: "PDF", "HTML", "text"… It looks at magic numbers and, for
// text, the first non-blank characters.
func describeContent(head []byte) string {
	has := func(magic string) bool { return bytes.HasPrefix(head, []byte(magic)) }
	switch {
	case has("%PDF-"):
		return "PDF"
	case has("PK\x03\x04"):
		return "a ZIP archive (or an Office document)"
	case has("\x1f\x8b"):
		return "gzip data"
	case has("ID3"), len(head) >= 2 && head[0] == 0xff && head[1]&0xe0 == 0xe0:
		return "MP3 audio"
	case has("fLaC"):
		return "FLAC audio"
	case has("OggS"):
		return "Ogg data"
	case has("RIFF") && len(head) >= 12 && string(head[8:12]) == "WAVE":
		return "WAV audio"
	case has("RIFF"):
		return "a RIFF file of another kind"
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	lower := bytes.ToLower(text[:min(len(text), 256)])
	switch {
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")), bytes.Contains(lower, []byte("<head")), bytes.Contains(lower, []byte("<body")):
		return "HTML (a web page, often an error or login page saved under the image's name)"
	case bytes.Contains(lower, []byte("<svg")):
		return "SVG (a vector drawing, not among the API's formats)"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return "XML"
	case bytes.HasPrefix(text, []byte("{")), bytes.HasPrefix(text, []byte("[")):
		if isText(head) {
			return "JSON or other text"
		}
	}
	if isText(head) {
		return "text"
	}
	return "unrecognised binary data"
}

// isText reports whether b looks like UTF-8 text: no NUL or other control
// bytes but tab, CR, LF and form feed.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			return false
		}
	}
	return len(b) > 0
}

// mislabelled reports whether the extension claims a different format than
// the content. Container families that share a layout (mp4/mov/3gp,
// mkv/webm) are not counted as mislabelled.
func mislabelled(path, format string) bool {
	ext := ExtFormat(path)
	if ext == "" || ext == format {
		return false
	}
	same := map[string]string{"mov": "mp4", "3gp": "mp4", "webm": "mkv", "avif": "heic"}
	norm := func(s string) string {
		if v, ok := same[s]; ok {
			return v
		}
		return s
	}
	return norm(ext) != norm(format)
}
