package pipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard selects a deterministic part of a job, so that several machines (or
// any job runner) can split one run; their journals concatenate into the
// same result as a single run. Index is 1-based; the zero Shard keeps
// everything.
type Shard struct {
	Index int // 1…Count
	Count int
}

// ParseShard parses "i/n", as given to --shard.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 1/3", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("shard %q: want two whole numbers i/n, e.g. 1/3", s)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %q: the number of shards must be at least 1", s)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf("shard %q: i must be between 1 and %d (shards are numbered from 1)", s, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// String formats the shard as "i/n" ("" for the zero Shard).
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Keep reports whether the input at path belongs to this shard: the first
// 8 bytes of sha256(path) modulo Count pick the shard. The key is the path
// (cleaned, forward slashes), not the item ID, because the ID includes the
// content hash: a path is known before any file is read, so each machine
// skips the others' files without hashing them. Give every machine the same
// relative paths (run from the same directory) so they agree.
func (s Shard) Keep(path string) bool {
	if s.Count <= 1 {
		return true
	}
	sum := sha256.Sum256([]byte(cleanKey(path)))
	return binary.BigEndian.Uint64(sum[:8])%uint64(s.Count) == uint64(s.Index-1)
}
