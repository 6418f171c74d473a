package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qwen-vision/vision/pipeline"
)

// progress draws one status line on stderr (a terminal) with \r: items
// done of the items to send, tokens and cost so far against the estimate,
// items per second, ETA and retries. Failures are printed above it.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	plan    pipeline.Plan
	began   time.Time
	done    int
	ok      int
	failed  int
	in, out int
	cost    float64
	retries int
	drawn   time.Time
	active  bool
	stop    chan struct{}
	stopped sync.WaitGroup
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

// start begins drawing once the plan is known; a ticker keeps the rate
// and ETA fresh while requests are slow.
func (p *progress) start(plan pipeline.Plan) {
	p.mu.Lock()
	p.plan, p.began, p.active = plan, time.Now(), plan.Send > 0
	p.stop = make(chan struct{})
	p.mu.Unlock()
	if !p.active {
		return
	}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.draw(true)
				p.mu.Unlock()
			case <-p.stop:
				return
			}
		}
	}()
}

func (p *progress) record(r pipeline.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Estimate == nil { // decided by the plan, already listed
		return
	}
	p.done++
	switch r.Status {
	case pipeline.StatusOK:
		p.ok++
	case pipeline.StatusFailed:
		p.failed++
		p.clear()
		fmt.Fprintf(p.w, "vision: failed: %s: %s\n", shown(r.Path), inline(r.Error))
	}
	if r.Usage != nil {
		p.in += r.Usage.InputTokens
		p.out += r.Usage.OutputTokens
	}
	if r.Cost != nil {
		p.cost += *r.Cost
	}
	p.draw(p.done == p.plan.Send)
}

// note prints a line on w, above the progress line when p draws one.
func note(w io.Writer, p *progress, line string) {
	if p == nil {
		fmt.Fprintln(w, line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, line)
	p.draw(true)
}

func (p *progress) retry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries++
	p.draw(false)
}

// finish stops the ticker and clears the line.
func (p *progress) finish() {
	p.mu.Lock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.mu.Unlock()
	p.stopped.Wait()
	p.mu.Lock()
	p.clear()
	p.active = false
	p.mu.Unlock()
}

func (p *progress) clear() {
	if p.active {
		io.WriteString(p.w, "\r\033[K")
	}
}

// draw writes the line, at most ten times a second unless forced.
func (p *progress) draw(force bool) {
	if !p.active || (!force && time.Since(p.drawn) < 100*time.Millisecond) {
		return
	}
	p.drawn = time.Now()
	total := max(p.plan.Send, 1)
	const width = 20
	fill := p.done * width / total
	bar := strings.Repeat("█", fill) + strings.Repeat("·", width-fill)
	line := fmt.Sprintf("%s %d/%d", bar, p.done, p.plan.Send)
	if p.failed > 0 {
		line += fmt.Sprintf(" (%d failed)", p.failed)
	}
	line += fmt.Sprintf("  tokens %s/%s", short(p.in+p.out), short(p.plan.InputTokens+p.plan.OutputTokens))
	if p.plan.CostKnown {
		line += fmt.Sprintf("  %s of ~%s", formatCost(p.cost, p.plan.Currency), formatCost(p.plan.Cost, p.plan.Currency))
	}
	elapsed := time.Since(p.began)
	if p.done > 0 && elapsed > 0 {
		rate := float64(p.done) / elapsed.Seconds()
		eta := time.Duration(float64(p.plan.Send-p.done) / rate * float64(time.Second))
		line += fmt.Sprintf("  %.2f/s  ETA %s", rate, eta.Round(time.Second))
	}
	if p.retries > 0 {
		line += fmt.Sprintf("  retries %d", p.retries)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}

// short writes 12345 as 12.3k.
func short(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// isTTY reports whether v (a reader or writer) is an *os.File open on a
// terminal (isTerminalFd: an ioctl, not the file mode, so /dev/null and
// /dev/zero are not terminals).
func isTTY(v any) bool {
	if rw, ok := v.(*redactWriter); ok {
		v = rw.underlying()
	}
	f, ok := v.(*os.File)
	return ok && f != nil && isTerminalFd(f.Fd())
}
