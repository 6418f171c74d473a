package media

import "encoding/base64"

// DataURL returns data as an RFC 2397 data URL: "data:MIME;base64,…" with
// standard, padded base64.
func DataURL(mime string, data []byte) string {
	prefix := "data:" + mime + ";base64,"
	buf := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(len(data)))
	copy(buf, prefix)
	base64.StdEncoding.Encode(buf[len(prefix):], data)
	return string(buf)
}

// Base64Len is the exact length of DataURL(mime, data) for n bytes of data:
// 4·⌈n/3⌉ plus the "data:MIME;base64," prefix. The API's base64 limit
// applies to this string.
func Base64Len(n int, mime string) int64 {
	return int64(len("data:")+len(mime)+len(";base64,")) + 4*((int64(n)+2)/3)
}
