// Package memtest measures peak memory for benchmarks: the highest heap
// while a piece of code runs, and the process's peak resident set.
package memtest

import (
	"bufio"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Heap samples runtime.MemStats.HeapAlloc every millisecond until Stop.
type Heap struct {
	done chan struct{}
	wg   sync.WaitGroup
	base uint64
	peak atomic.Uint64
}

// StartHeap collects garbage, notes the heap as the base and starts
// sampling.
func StartHeap() *Heap {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &Heap{done: make(chan struct{}), base: ms.HeapAlloc}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the highest heap seen and the base, in
// bytes.
func (h *Heap) Stop() (peak, base uint64) {
	close(h.done)
	h.wg.Wait()
	return h.peak.Load(), h.base
}

// ResetPeakRSS sets the kernel's peak-RSS mark (VmHWM) to the current RSS
// (Linux /proc/self/clear_refs); false where that is not possible.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS returns VmHWM, the peak resident set since the start or the last
// ResetPeakRSS, in bytes.
func PeakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
