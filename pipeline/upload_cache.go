package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/qwen-vision/vision/dashscope"
)

// UploadCache is a dashscope.UploadCache kept in memory and appended to a
// JSON Lines file, so later runs of ask and run reuse temporary uploads
// instead of sending the same media again. Entries are keyed by the API
// key's fingerprint (never the key), the API host, the model and the
// content's SHA-256: an upload is bound to the account, the region and the
// model (reference/dashscope-notes.md §2). Entries older than
// dashscope.UploadMaxAge (47 h, the files live 48 h) are never returned.
type UploadCache struct {
	mu      sync.Mutex
	path    string
	now     func() time.Time
	entries map[dashscope.UploadKey]dashscope.CachedUpload
}

// uploadLine is one line of the cache file.
type uploadLine struct {
	dashscope.UploadKey
	dashscope.CachedUpload
}

// DefaultUploadCachePath is where ask and run keep the upload cache:
// uploads.jsonl in os.UserCacheDir()/vision ($XDG_CACHE_HOME/vision or
// ~/.cache/vision on Linux, ~/Library/Caches/vision on macOS).
func DefaultUploadCachePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("upload cache: %w", err)
	}
	return filepath.Join(dir, "vision", "uploads.jsonl"), nil
}

// OpenUploadCache loads (or starts) the cache file at path. Expired and
// unreadable lines are dropped, and the file is compacted when that removed
// anything. The file and its folder are created on the first Store.
func OpenUploadCache(path string) (*UploadCache, error) {
	return openUploadCache(path, time.Now)
}

func openUploadCache(path string, now func() time.Time) (*UploadCache, error) {
	uc := &UploadCache{path: path, now: now, entries: map[dashscope.UploadKey]dashscope.CachedUpload{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return uc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open upload cache: %w", err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		lines++
		var l uploadLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.URL == "" || l.SHA256 == "" || !uc.fresh(l.CachedUpload) {
			continue
		}
		if old, ok := uc.entries[l.UploadKey]; !ok || l.Created.After(old.Created) {
			uc.entries[l.UploadKey] = l.CachedUpload
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read upload cache %s: %w", path, err)
	}
	if lines != len(uc.entries) {
		if err := uc.rewrite(); err != nil {
			return nil, err
		}
	}
	return uc, nil
}

func (uc *UploadCache) fresh(u dashscope.CachedUpload) bool {
	return uc.now().Sub(u.Created) < dashscope.UploadMaxAge
}

// Load returns the entry for k if it is younger than dashscope.UploadMaxAge.
func (uc *UploadCache) Load(k dashscope.UploadKey) (dashscope.CachedUpload, bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	u, ok := uc.entries[k]
	if !ok || !uc.fresh(u) {
		return dashscope.CachedUpload{}, false
	}
	return u, true
}

// Store records an upload and appends it to the file (mode 0600).
func (uc *UploadCache) Store(k dashscope.UploadKey, u dashscope.CachedUpload) error {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	uc.entries[k] = u
	line, err := json.Marshal(uploadLine{k, u})
	if err != nil {
		return fmt.Errorf("write upload cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(uc.path), 0o700); err != nil {
		return fmt.Errorf("write upload cache: %w", err)
	}
	f, err := os.OpenFile(uc.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("write upload cache: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write upload cache: %w", err)
	}
	return nil
}

// rewrite replaces the file with the live entries (temp file + rename).
func (uc *UploadCache) rewrite() error {
	tmp, err := os.CreateTemp(filepath.Dir(uc.path), filepath.Base(uc.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("compact upload cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for k, u := range uc.entries {
		line, _ := json.Marshal(uploadLine{k, u}) // plain strings and a time: cannot fail
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
		err = os.Rename(tmp.Name(), uc.path)
	}
	if err != nil {
		return fmt.Errorf("compact upload cache: %w", err)
	}
	return nil
}
