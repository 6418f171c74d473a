package dashscope

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// UploadMaxAge is how long an uploaded file's oss:// URL is handed out from
// a cache. Temporary uploads live 48 h; an hour of margin covers a request
// that is slow to start.
const UploadMaxAge = 47 * time.Hour

// CachedUpload is a remembered temporary upload.
type CachedUpload struct {
	URL     string    `json:"url"`
	Created time.Time `json:"created"` // when the upload started
}

// UploadCache remembers uploads by model and SHA-256 (hex) of the content.
// The Client never uses an entry older than UploadMaxAge, whatever the cache
// returns. Implementations must be safe for concurrent use.
type UploadCache interface {
	Load(model, sha256 string) (CachedUpload, bool)
	Store(model, sha256 string, u CachedUpload) error
}

// FileCache is an UploadCache kept in memory and, when it has a path,
// appended to a JSON Lines file so later runs reuse uploads.
type FileCache struct {
	mu      sync.Mutex
	path    string
	entries map[cacheKey]CachedUpload
}

type cacheKey struct{ model, hash string }

type cacheLine struct {
	Model  string `json:"model"`
	SHA256 string `json:"sha256"`
	CachedUpload
}

// NewMemoryCache returns a cache that lives as long as the process.
func NewMemoryCache() *FileCache {
	return &FileCache{entries: map[cacheKey]CachedUpload{}}
}

// OpenFileCache loads (or starts) the cache file at path, a configuration
// path chosen by the caller, e.g. under os.UserCacheDir. Entries older than
// UploadMaxAge and unreadable lines are dropped, and the file is compacted
// when that removed anything.
func OpenFileCache(path string) (*FileCache, error) {
	return openFileCache(path, time.Now())
}

func openFileCache(path string, now time.Time) (*FileCache, error) {
	fc := &FileCache{path: path, entries: map[cacheKey]CachedUpload{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dashscope: open upload cache: %w", err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		lines++
		var l cacheLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.URL == "" || now.Sub(l.Created) >= UploadMaxAge {
			continue
		}
		k := cacheKey{l.Model, l.SHA256}
		if old, ok := fc.entries[k]; !ok || l.Created.After(old.Created) {
			fc.entries[k] = l.CachedUpload
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dashscope: read upload cache: %w", err)
	}
	if lines != len(fc.entries) {
		if err := fc.rewrite(); err != nil {
			return nil, err
		}
	}
	return fc, nil
}

// Load returns the entry for model and hash.
func (fc *FileCache) Load(model, sha256 string) (CachedUpload, bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	u, ok := fc.entries[cacheKey{model, sha256}]
	return u, ok
}

// Store records an upload, appending it to the file if there is one.
func (fc *FileCache) Store(model, sha256 string, u CachedUpload) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.entries[cacheKey{model, sha256}] = u
	if fc.path == "" {
		return nil
	}
	line, err := json.Marshal(cacheLine{Model: model, SHA256: sha256, CachedUpload: u})
	if err != nil {
		return fmt.Errorf("dashscope: write upload cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(fc.path), 0o755); err != nil {
		return fmt.Errorf("dashscope: write upload cache: %w", err)
	}
	f, err := os.OpenFile(fc.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dashscope: write upload cache: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dashscope: write upload cache: %w", err)
	}
	return nil
}

// rewrite replaces the file with the live entries (temp file + rename).
func (fc *FileCache) rewrite() error {
	dir := filepath.Dir(fc.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(fc.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("dashscope: compact upload cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for k, u := range fc.entries {
		line, _ := json.Marshal(cacheLine{Model: k.model, SHA256: k.hash, CachedUpload: u})
		w.Write(append(line, '\n'))
	}
	err = w.Flush()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), fc.path)
	}
	if err != nil {
		return fmt.Errorf("dashscope: compact upload cache: %w", err)
	}
	return nil
}
