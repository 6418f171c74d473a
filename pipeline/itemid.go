package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ItemID is the stable identifier of one input: the first 16 hex digits of
// sha256(path + "\x00" + sha256hex), where path is cleaned and written with
// forward slashes. The same file content under the same path always gets
// the same ID, on any OS; pass the path exactly as it is recorded in the
// journal (as the user named it), so a resumed run from the same directory
// finds its earlier records.
func ItemID(path string, sha256hex string) string {
	h := sha256.New()
	io.WriteString(h, cleanKey(path))
	h.Write([]byte{0})
	io.WriteString(h, sha256hex)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// cleanKey is the path form used for IDs and shards.
func cleanKey(path string) string { return filepath.ToSlash(filepath.Clean(path)) }

// HashFile returns the lowercase hex SHA-256 of a file's content, read as a
// stream (the file is never held in memory). It stops between chunks of
// hashChunk bytes when ctx ends, returning an error wrapping ctx's, so
// Ctrl-C does not wait for a large video to be read to its end.
func HashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, hashChunk)
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashChunk is how much HashFile reads between checks of its context:
// small enough that hashing a small file allocates little (a megabyte
// buffer per file was most of the pipeline's CPU per item), large enough
// that the check costs nothing.
const hashChunk = 64 << 10

// SettingsKey is the first 16 hex digits of the SHA-256 of v's canonical
// JSON: object keys sorted at every level, no insignificant space, numbers
// as written. Pass only the settings that change an answer (model, prompt,
// preset, pixel and fps settings, thinking, max tokens...), so a resumed run
// redoes exactly the items whose answer would differ. A struct and a map
// with the same fields and values give the same key. A value that cannot be
// encoded as JSON (a channel, a NaN) is hashed from its Go syntax instead,
// which is deterministic but not canonical.
func SettingsKey(v any) string {
	b, err := canonicalJSON(v)
	if err != nil {
		b = fmt.Appendf(nil, "unencodable %#v", v)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// canonicalJSON encodes v, decodes it into generic values (keeping numbers
// as written) and encodes it again; encoding/json sorts map keys.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var g any
	if err := d.Decode(&g); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if err := e.Encode(g); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}
