package dashscope

import (
	"crypto/sha256"
	"encoding/hex"
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

// UploadKey names one upload in an UploadCache. Temporary files are bound to
// the account (the key), the region (the host) and the model, so all of
// them are part of the key besides the content hash.
type UploadKey struct {
	Account string `json:"account"` // KeyFingerprint of the API key, never the key
	Host    string `json:"host"`    // the base URL's host, e.g. dashscope-intl.aliyuncs.com
	Model   string `json:"model"`
	SHA256  string `json:"sha256"` // hex SHA-256 of the content
}

// UploadCache remembers uploads by UploadKey. The Client never uses an
// entry older than UploadMaxAge, whatever the cache returns.
// Implementations must be safe for concurrent use. This package keeps
// caches in memory only (NewMemoryCache); a persistent one lives with the
// caller, who owns file paths (package pipeline has one).
type UploadCache interface {
	Load(k UploadKey) (CachedUpload, bool)
	Store(k UploadKey, u CachedUpload) error
}

// KeyFingerprint identifies an API key without revealing it: the first 128
// bits of a SHA-256 over a fixed label and the key, in hex. It lets a cache
// tell accounts apart; the key cannot be recovered from it.
func KeyFingerprint(apiKey string) string {
	sum := sha256.Sum256([]byte("vision upload cache v1\x00" + apiKey))
	return hex.EncodeToString(sum[:16])
}

// MemoryCache is an UploadCache that lives as long as the process.
type MemoryCache struct {
	mu      sync.Mutex
	entries map[UploadKey]CachedUpload
}

// NewMemoryCache returns an empty in-memory cache.
func NewMemoryCache() *MemoryCache {
	return &MemoryCache{entries: map[UploadKey]CachedUpload{}}
}

// Load returns the entry for k.
func (mc *MemoryCache) Load(k UploadKey) (CachedUpload, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	u, ok := mc.entries[k]
	return u, ok
}

// Store records an upload.
func (mc *MemoryCache) Store(k UploadKey, u CachedUpload) error {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	mc.entries[k] = u
	return nil
}
