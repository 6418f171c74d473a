package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/internal/dashtest"
	"github.com/qwen-vision/vision/tokens"
)

const testKey = "sk-test-0123456789abcdef-secret"

func testConfig(t testing.TB) Config {
	t.Helper()
	m, err := tokens.Lookup("qwen3-vl-plus")
	if err != nil {
		t.Fatal(err)
	}
	return Config{Model: m.Name, Spec: m.Spec}
}

// testClient talks to the stand-in with fast retries and short timeouts,
// its attempts paced by the run (PaceAttempts).
func testClient(t testing.TB, url string, opts ...dashscope.Option) *dashscope.Client {
	t.Helper()
	all := append([]dashscope.Option{
		dashscope.WithBaseURL(url),
		dashscope.WithHTTPClient(PaceAttempts(nil)),
		dashscope.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		dashscope.WithTimeouts(time.Second, 5*time.Second, 0),
	}, opts...)
	c, err := dashscope.NewClient(testKey, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writePNGs writes n distinct small PNGs into dir/sub and returns their paths.
func writePNGs(t testing.TB, dir string, n int) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for y := range 48 {
			for x := range 64 {
				img.Set(x, y, color.RGBA{uint8(i * 37), uint8(i * 91 >> 2), uint8(x * 4), 255})
			}
		}
		img.Set(i%64, 0, color.RGBA{uint8(i), uint8(i >> 8), 1, 255}) // distinct even when colours wrap
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "img-"+pad(i)+".png")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func pad(i int) string { s := "000" + itoa(i); return s[len(s)-3:] }
func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadRecords(t testing.TB, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// onePerPath fails unless there is exactly one record per path in want.
func onePerPath(t *testing.T, recs []Record, want []string) map[string]Record {
	t.Helper()
	by := map[string]Record{}
	for _, r := range recs {
		if _, dup := by[r.Path]; dup {
			t.Errorf("two records for %s", r.Path)
		}
		by[r.Path] = r
	}
	for _, p := range want {
		if _, ok := by[p]; !ok {
			t.Errorf("no record for %s", p)
		}
	}
	if len(by) != len(want) {
		t.Errorf("%d records for %d inputs", len(by), len(want))
	}
	return by
}

// fixture is a folder of distinct PNGs, a stand-in, a journal path and a
// config asking "What is this?".
type fixture struct {
	srv              *dashtest.Server
	dir, in, journal string
	cfg              Config
}

func newFixture(t testing.TB, images int) fixture {
	t.Helper()
	f := fixture{srv: dashtest.New(t, testKey), dir: t.TempDir(), cfg: testConfig(t)}
	f.in, f.journal = filepath.Join(f.dir, "in"), filepath.Join(f.dir, "r.jsonl")
	writePNGs(t, f.in, images)
	f.cfg.Prompt = "What is this?"
	return f
}

func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func TestRunMixedFolderOCR(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	copyFile(t, "../testdata/images/png.png", filepath.Join(in, "a", "scan.png"))
	copyFile(t, "../testdata/images/orient6.jpg", filepath.Join(in, "photo.jpg"))
	copyFile(t, "../testdata/images/garbage.jpg", filepath.Join(in, "broken.jpg"))
	if err := os.WriteFile(filepath.Join(in, "notes.txt"), []byte("just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(in, "a", "scan.png"), filepath.Join(in, "photo.jpg"), filepath.Join(in, "broken.jpg"), filepath.Join(in, "notes.txt")}
	pdf := false
	if _, err := exec.LookPath("pdftoppm"); err == nil {
		copyFile(t, "../testdata/pdf/two-pages.pdf", filepath.Join(in, "doc.pdf"))
		want = append(want, filepath.Join(in, "doc.pdf"))
		pdf = true
	}
	journal := filepath.Join(dir, "results.jsonl")
	var plan Plan
	var done []Record
	sum, err := Run(context.Background(), testConfig(t), RunOptions{Journal: journal, Preset: "ocr"},
		testClient(t, srv.URL), []string{in}, nil, Hooks{
			Plan: func(p Plan) { plan = p },
			Done: func(r Record) { done = append(done, r) },
		})
	if err != nil {
		t.Fatal(err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	recs := loadRecords(t, journal)
	if len(done) != len(recs) {
		t.Errorf("Done hook saw %d records, journal has %d", len(done), len(recs))
	}
	by := onePerPath(t, recs, want)
	for _, p := range []string{filepath.Join(in, "a", "scan.png"), filepath.Join(in, "photo.jpg")} {
		r := by[p]
		if r.Status != StatusOK || !strings.HasPrefix(r.Answer, "# Page ") || r.Usage == nil || r.RequestID == "" || r.Settings == "" || r.SHA256 == "" {
			t.Errorf("%s: %+v", p, r)
		}
		if len(r.Outputs) != 1 {
			t.Fatalf("%s: outputs %v", p, r.Outputs)
		}
		md, err := os.ReadFile(r.Outputs[0])
		if err != nil || string(md) != r.Answer {
			t.Errorf("%s: output %q (%v), answer %q", r.Outputs[0], md, err, r.Answer)
		}
	}
	if r := by[filepath.Join(in, "broken.jpg")]; r.Status != StatusFailed || r.Stage != "probe" || r.ErrorClass == "" {
		t.Errorf("corrupt file: %+v", r)
	}
	if r := by[filepath.Join(in, "notes.txt")]; r.Status != StatusSkipped || r.Error == "" {
		t.Errorf("text file: %+v", r)
	}
	if pdf {
		r := by[filepath.Join(in, "doc.pdf")]
		if r.Status != StatusOK || r.Pages != 2 || !strings.Contains(r.Answer, "<!-- page 2 -->") {
			t.Errorf("pdf: %+v", r)
		}
		if len(r.Outputs) != 1 || !strings.HasSuffix(r.Outputs[0], filepath.Join("results.md", "in", "doc.pdf.md")) && !strings.HasSuffix(r.Outputs[0], "doc.pdf.md") {
			t.Errorf("pdf outputs %v", r.Outputs)
		}
	}
	wantOK := 2
	if pdf {
		wantOK = 3
	}
	if sum.OK != wantOK || sum.Failed != 1 || sum.Skipped != 1 || plan.Send != wantOK {
		t.Errorf("summary %+v, plan send %d", sum, plan.Send)
	}
	if sum.Usage.InputTokens == 0 || sum.EstimatedInputTokens == 0 || !sum.CostKnown || sum.Cost <= 0 {
		t.Errorf("usage/cost: %+v", sum)
	}
	if sum.FailuresByClass["file.corrupt"] != 1 {
		t.Errorf("failures by class %v", sum.FailuresByClass)
	}
	for _, req := range srv.Requests() {
		if req.Prompt != "qwenvl markdown" {
			t.Errorf("prompt %q", req.Prompt)
		}
	}
}

func TestRunFaultsOneRecordEachAndRateLimit(t *testing.T) {
	const n, rpm = 40, 600
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) { c.RetryAfter = "1" })
	var count atomic.Int64
	kinds := []dashtest.Fault{dashtest.Throttle, dashtest.ServerError, dashtest.Reset, dashtest.Stall}
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault {
			if c := count.Add(1); c%5 == 0 { // 20% of requests
				return kinds[(c/5-1)%int64(len(kinds))]
			}
			return dashtest.None
		}
	})
	dir := t.TempDir()
	paths := writePNGs(t, filepath.Join(dir, "in"), n)
	journal := filepath.Join(dir, "r.jsonl")
	var retries atomic.Int64
	// The request timeout ends stalls; it stays above the 1 s Retry-After
	// because a retry's wait for the limiter counts against its attempt.
	client := testClient(t, srv.URL, dashscope.WithTimeouts(time.Second, 1500*time.Millisecond, 0))
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	var rl rateLog
	sum, err := run(context.Background(), cfg, RunOptions{Journal: journal, RPM: rpm, Concurrency: 6},
		client, []string{filepath.Join(dir, "in")}, nil, Hooks{Retry: func(RetryEvent) { retries.Add(1) }}, rl.seams())
	if err != nil {
		t.Fatal(err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("protocol violations: %v", v)
	}
	by := onePerPath(t, loadRecords(t, journal), paths)
	stalls := 0
	for _, r := range srv.Requests() {
		if r.Fault == dashtest.Stall || r.Fault == dashtest.Reset {
			stalls++
		}
	}
	for p, r := range by {
		switch r.Status {
		case StatusOK:
		case StatusFailed:
			// Only a stall or a reset fails an item: a request that timed
			// out or lost its connection after it was sent is not replayed
			// (it may have been billed).
			if r.ErrorClass != "timeout" && r.ErrorClass != "network" || r.Stage != "send" {
				t.Errorf("%s: failed with %s at %s: %s", p, r.ErrorClass, r.Stage, r.Error)
			}
		default:
			t.Errorf("%s: status %s", p, r.Status)
		}
	}
	if sum.OK+sum.Failed != n || sum.Failed > stalls {
		t.Errorf("ok %d + failed %d != %d (stalls %d)", sum.OK, sum.Failed, n, stalls)
	}
	if retries.Load() == 0 || sum.Retries != int(retries.Load()) {
		t.Errorf("retries: hook %d, summary %d", retries.Load(), sum.Retries)
	}
	checkRate(t, srv.Requests(), &rl, rpm)
}

// rateLog records what a run's limiter granted, started and paused (its
// observe hook): the client's side of the wire, where the limiter's
// guarantee holds exactly.
type rateLog struct {
	mu     sync.Mutex
	events []limitEvent
}

func (rl *rateLog) seams() runSeams {
	return runSeams{limiter: func(l *Limiter) {
		l.observe = func(e limitEvent) {
			rl.mu.Lock()
			rl.events = append(rl.events, e)
			rl.mu.Unlock()
		}
	}}
}

// of lists the events of one kind, in time order.
func (rl *rateLog) of(kind string) []limitEvent {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var out []limitEvent
	for _, e := range rl.events {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// stamped is one time with a weight (a request, or its estimated tokens).
type stamped struct {
	at     time.Time
	weight int
}

// checkRate checks a run's requests against --rpm: strictly on the starts
// the client made (no 1 s window holds more than ceil(rpm/60), no 60 s
// window more than rpm, nothing granted while a 429's pause is in force),
// and on the arrivals at the server with the slack of that run's own
// measured lag between start and arrival (see arrivalSlack).
func checkRate(t *testing.T, reqs []dashtest.Request, rl *rateLog, rpm int) {
	t.Helper()
	perSec := (rpm + 59) / 60
	starts := rl.of("start")
	var sent []stamped
	for _, s := range starts {
		sent = append(sent, stamped{s.at, 1})
	}
	checkWindows(t, sent, time.Second, 0, perSec, "requests started")
	checkWindows(t, sent, time.Minute, 0, rpm, "requests started")
	for _, b := range rl.of("backoff") {
		for _, g := range rl.of("grant") {
			if !g.at.Before(b.at) && g.at.Before(b.until) {
				t.Errorf("a request was granted %v into a %v pause", g.at.Sub(b.at).Round(time.Millisecond), b.until.Sub(b.at))
			}
		}
	}
	arrived, slack := arrivalSlack(t, reqs, starts)
	for i := range arrived {
		arrived[i].weight = 1
	}
	checkWindows(t, arrived, time.Second, slack, perSec, "requests arrived")
	checkWindows(t, arrived, time.Minute, slack, rpm, "requests arrived")
}

// arrivalSlack pairs the i-th start with the i-th arrival, both in time
// order, and returns the arrivals and the largest lag between the two. If
// every request arrives between 0 and L after its start, so does the i-th
// arrival after the i-th start (the i first starts arrive by start i + L,
// and the i first arrivals were started by then), so this measures the
// run's own lag without knowing which request is which; and arrivals
// closer than w − L were started closer than w: the arrival windows are
// checked shrunk by that lag, no more. An arrival before its start (by
// this pairing) is an error: the limiter's start came too late.
func arrivalSlack(t *testing.T, reqs []dashtest.Request, starts []limitEvent) ([]stamped, time.Duration) {
	t.Helper()
	var arrived []stamped
	for _, r := range reqs {
		arrived = append(arrived, stamped{at: r.At})
	}
	sort.Slice(arrived, func(i, j int) bool { return arrived[i].at.Before(arrived[j].at) })
	if len(arrived) != len(starts) {
		t.Errorf("%d requests arrived, %d started", len(arrived), len(starts))
		return arrived, time.Hour
	}
	var lag time.Duration
	for i, a := range arrived {
		d := a.at.Sub(starts[i].at)
		if d < 0 {
			t.Errorf("request %d arrived %v before it started", i+1, -d)
		}
		lag = max(lag, d)
	}
	return arrived, lag
}

// checkWindows fails when the weights of the times in any window
// [t, t+w−slack) add up to more than limit.
func checkWindows(t *testing.T, times []stamped, w, slack time.Duration, limit int, what string) {
	t.Helper()
	times = slices.Clone(times)
	sort.Slice(times, func(i, j int) bool { return times[i].at.Before(times[j].at) })
	for i := range times {
		sum := 0
		for j := i; j < len(times) && times[j].at.Sub(times[i].at) < w-slack; j++ {
			sum += times[j].weight
		}
		if sum > limit {
			var at []string
			for _, r := range times {
				at = append(at, r.at.Format("05.000000"))
			}
			t.Errorf("%d %s within %v (slack %v) from %s (limit %d); times %v", sum, what, w, slack, times[i].at.Format("15:04:05.000000"), limit, at)
		}
	}
}

// TestRunTokenRate: with --tpm binding, no 1 s window of starts holds more
// than TPM/60 estimated tokens, nor one of arrivals (with the run's lag).
func TestRunTokenRate(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	writePNGs(t, filepath.Join(dir, "in"), 10)
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	var plan Plan
	hooks := Hooks{Plan: func(p Plan) { plan = p }}
	// Plan once to learn the estimate per request, then run with a TPM of
	// four requests a second.
	if _, err := Run(context.Background(), cfg, RunOptions{Journal: filepath.Join(dir, "plan.jsonl"), DryRun: true}, testClient(t, srv.URL),
		[]string{filepath.Join(dir, "in")}, nil, hooks); err != nil {
		t.Fatal(err)
	}
	per := plan.Items[0].InputTokens
	tpm := 60 * 4 * per
	var rl rateLog
	sum, err := run(context.Background(), cfg, RunOptions{Journal: filepath.Join(dir, "r.jsonl"), RPM: -1, TPM: tpm, Concurrency: 6},
		testClient(t, srv.URL), []string{filepath.Join(dir, "in")}, nil, Hooks{}, rl.seams())
	if err != nil || sum.OK != 10 {
		t.Fatalf("%+v %v", sum, err)
	}
	starts := rl.of("start")
	var sent []stamped
	for _, s := range starts {
		if s.tokens != per {
			t.Errorf("a start charged %d tokens, want %d", s.tokens, per)
		}
		sent = append(sent, stamped{s.at, s.tokens})
	}
	limit := (tpm + 59) / 60
	checkWindows(t, sent, time.Second, 0, limit, "estimated tokens started")
	arrived, slack := arrivalSlack(t, srv.Requests(), starts)
	for i := range arrived {
		arrived[i].weight = per
	}
	checkWindows(t, arrived, time.Second, slack, limit, "estimated tokens arrived")
}

// TestRunThrottlePauseIsRetryAfter: after a 429 with Retry-After: 1, the
// next request is granted when the pause ends, not later: waiters hold
// back nothing while paused. The upper bound leaves this machine 400 ms;
// the old limiter kept the slots of the paused workers, about 3 s with six
// of them.
func TestRunThrottlePauseIsRetryAfter(t *testing.T) {
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) { c.RetryAfter = "1" })
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault {
			if r.N == 2 {
				return dashtest.Throttle
			}
			return dashtest.None
		}
	})
	dir := t.TempDir()
	writePNGs(t, filepath.Join(dir, "in"), 8)
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	var rl rateLog
	sum, err := run(context.Background(), cfg, RunOptions{Journal: filepath.Join(dir, "r.jsonl"), RPM: 120, Concurrency: 6},
		testClient(t, srv.URL), []string{filepath.Join(dir, "in")}, nil, Hooks{}, rl.seams())
	if err != nil || sum.OK != 8 {
		t.Fatalf("%+v %v", sum, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 9 || reqs[1].Fault != dashtest.Throttle {
		t.Fatalf("%d requests", len(reqs))
	}
	backoffs := rl.of("backoff")
	if len(backoffs) != 1 || backoffs[0].until.Sub(backoffs[0].at) != time.Second {
		t.Fatalf("backoffs %+v, want one of 1 s (Retry-After)", backoffs)
	}
	b := backoffs[0]
	var next time.Time
	for _, g := range rl.of("grant") {
		if g.at.After(b.at) {
			next = g.at
			break
		}
	}
	if d := next.Sub(b.until); d < 0 || d > 400*time.Millisecond {
		t.Errorf("next request granted %v after the pause ended, want at its end", d)
	}
	starts := rl.of("start")
	for i := 1; i < len(starts); i++ { // spaced, also after the pause: no herd
		if d := starts[i].at.Sub(starts[i-1].at); d < 500*time.Millisecond {
			t.Errorf("starts %d and %d are %v apart, want ≥ 0.5 s", i, i+1, d)
		}
	}
	checkRate(t, reqs, &rl, 120)
}

func TestRunResumeSkipsFinishedItems(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	paths := writePNGs(t, filepath.Join(dir, "in"), 6)
	journal := filepath.Join(dir, "r.jsonl")
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	client := testClient(t, srv.URL)
	// The first run fails two items (500 without retries).
	var count atomic.Int64
	srv.Set(func(c *dashtest.Settings) {
		c.Fault = func(r dashtest.Request) dashtest.Fault {
			if count.Add(1) <= 2 {
				return dashtest.ServerError
			}
			return dashtest.None
		}
	})
	noRetry := testClient(t, srv.URL, dashscope.WithMaxRetries(0))
	sum, err := Run(context.Background(), cfg, RunOptions{Journal: journal, Concurrency: 1}, noRetry, []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if err != nil || sum.Failed != 2 || sum.OK != 4 {
		t.Fatalf("first run: %+v, %v", sum, err)
	}
	// Without --resume the journal is never appended to.
	_, err = Run(context.Background(), cfg, RunOptions{Journal: journal}, client, []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if !errors.Is(err, ErrJournalExists) {
		t.Fatalf("second run without resume: %v", err)
	}
	before := len(srv.Requests())
	sum, err = Run(context.Background(), cfg, RunOptions{Journal: journal, Resume: true}, client, []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if err != nil || sum.OK != 2 || sum.Resumed != 4 || sum.Failed != 0 {
		t.Fatalf("resumed run: %+v, %v", sum, err)
	}
	if sent := len(srv.Requests()) - before; sent != 2 {
		t.Errorf("resumed run sent %d requests, want 2", sent)
	}
	latest := map[string]Record{}
	for _, r := range loadRecords(t, journal) {
		latest[r.Path] = r
	}
	for _, p := range paths {
		if latest[p].Status != StatusOK {
			t.Errorf("%s: %s", p, latest[p].Status)
		}
	}
	// A different prompt changes the settings: everything is sent again.
	cfg.Prompt = "Something else?"
	sum, err = Run(context.Background(), cfg, RunOptions{Journal: journal, Resume: true}, client, []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if err != nil || sum.OK != 6 || sum.Resumed != 0 {
		t.Fatalf("new settings: %+v, %v", sum, err)
	}
}

func TestRunInterruptRecordsEveryItem(t *testing.T) {
	srv := dashtest.New(t, testKey)
	srv.Set(func(c *dashtest.Settings) { c.Delay = 300 * time.Millisecond })
	dir := t.TempDir()
	paths := writePNGs(t, filepath.Join(dir, "in"), 12)
	journal := filepath.Join(dir, "r.jsonl")
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	srv.Set(func(c *dashtest.Settings) {
		c.OnRequest = func(r dashtest.Request) {
			if r.N == 3 {
				once.Do(cancel)
			}
		}
	})
	sum, err := Run(ctx, cfg, RunOptions{Journal: journal, Concurrency: 2, Grace: 100 * time.Millisecond},
		testClient(t, srv.URL), []string{filepath.Join(dir, "in")}, nil, Hooks{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	by := onePerPath(t, loadRecords(t, journal), paths)
	interrupted := 0
	for _, r := range by {
		if r.Stage == StageInterrupted {
			interrupted++
			if r.Status == StatusOK {
				t.Errorf("%s: ok but interrupted", r.Path)
			}
		}
	}
	if interrupted < 8 || sum.Interrupted != interrupted || len(srv.Requests()) > 4 {
		t.Errorf("interrupted %d (summary %d), requests %d", interrupted, sum.Interrupted, len(srv.Requests()))
	}
}

func TestRunMaxCostRefusesBeforeSending(t *testing.T) {
	f := newFixture(t, 3)
	srv, dir, journal, cfg := f.srv, f.dir, f.journal, f.cfg
	var plan Plan
	_, err := Run(context.Background(), cfg, RunOptions{Journal: journal, MaxCost: 1e-9}, testClient(t, srv.URL),
		[]string{filepath.Join(dir, "in")}, nil, Hooks{Plan: func(p Plan) { plan = p }})
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("err = %v", err)
	}
	if plan.Send != 3 || plan.Cost <= 0 || len(srv.Requests()) != 0 {
		t.Errorf("plan %+v, %d requests", plan, len(srv.Requests()))
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal written: %v", err)
	}
	// Declining the confirmation sends nothing either.
	_, err = Run(context.Background(), cfg, RunOptions{Journal: journal}, testClient(t, srv.URL),
		[]string{filepath.Join(dir, "in")}, nil, Hooks{Confirm: func(Plan) (bool, error) { return false, nil }})
	if !errors.Is(err, ErrDeclined) || len(srv.Requests()) != 0 {
		t.Errorf("declined: %v, %d requests", err, len(srv.Requests()))
	}
}

// TestRunElapsedAfterConfirmation: the summary's elapsed time starts once
// the run is confirmed, so the time a person takes at the prompt is not
// in it: it is at most the time from the answer to Run's return.
func TestRunElapsedAfterConfirmation(t *testing.T) {
	f := newFixture(t, 1)
	var answered time.Time
	sum, err := Run(context.Background(), f.cfg, RunOptions{Journal: f.journal}, testClient(t, f.srv.URL), []string{f.in}, nil,
		Hooks{Confirm: func(Plan) (bool, error) {
			time.Sleep(300 * time.Millisecond) // thinking about it
			answered = time.Now()
			return true, nil
		}})
	after := time.Since(answered).Seconds()
	if err != nil || sum.OK != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	if sum.ElapsedS <= 0 || sum.ElapsedS > after {
		t.Errorf("elapsed %.3fs, want at most the %.3fs since the answer", sum.ElapsedS, after)
	}
}

func TestRunDryRunWritesBodies(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	writePNGs(t, filepath.Join(dir, "in"), 2)
	journal := filepath.Join(dir, "r.jsonl")
	var reqs []DryRunRequest
	sum, err := Run(context.Background(), testConfig(t), RunOptions{Journal: journal, Preset: "describe", DryRun: true},
		testClient(t, srv.URL), []string{filepath.Join(dir, "in")}, nil, Hooks{DryRun: func(d DryRunRequest) { reqs = append(reqs, d) }})
	if err != nil || sum.Requests != 2 || len(reqs) != 2 || len(srv.Requests()) != 0 {
		t.Fatalf("sum %+v, reqs %v, err %v, sent %d", sum, reqs, err, len(srv.Requests()))
	}
	for _, d := range reqs {
		data, err := os.ReadFile(d.File)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if !strings.Contains(s, "base64 elided") || strings.Contains(s, testKey) || !strings.Contains(s, "Describe this image") {
			t.Errorf("%s:\n%s", d.File, s)
		}
		if filepath.Dir(d.File) != journal+".requests" {
			t.Errorf("written to %s", d.File)
		}
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run wrote the journal: %v", err)
	}
}

// TestRunDryRunReplacesItsBodies: a dry run into a folder that holds the
// previous dry run's bodies replaces them (11 → 2, not 13 left behind),
// and removes nothing else, even what a tampered index names: the user's
// files in a --dry-run-dir, anything outside it, folders.
func TestRunDryRunReplacesItsBodies(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	many, few := filepath.Join(dir, "many"), filepath.Join(dir, "few")
	writePNGs(t, many, 11)
	writePNGs(t, few, 2)
	out := filepath.Join(dir, "bodies")
	mine := []string{filepath.Join(out, "notes.txt"), filepath.Join(out, "0099-mine.json"), filepath.Join(dir, "outside.txt")}
	for _, p := range mine {
		copyFile(t, "../testdata/images/png.png", p)
	}
	if err := os.MkdirAll(filepath.Join(out, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dry := func(in string) (RunSummary, []DryRunRequest) {
		t.Helper()
		var reqs []DryRunRequest
		sum, err := Run(context.Background(), testConfig(t), RunOptions{Journal: filepath.Join(dir, "r.jsonl"), Preset: "describe", DryRun: true, DryRunDir: out},
			testClient(t, srv.URL), []string{in}, nil, Hooks{DryRun: func(d DryRunRequest) { reqs = append(reqs, d) }})
		if err != nil {
			t.Fatal(err)
		}
		return sum, reqs
	}
	bodies := func() []string {
		t.Helper()
		ents, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	if sum, _ := dry(many); sum.Requests != 11 || len(bodies()) != 11+4 {
		t.Fatalf("first dry run: %d requests, folder %v", sum.Requests, bodies())
	}
	sum, reqs := dry(few)
	want := []string{"0001-img-000.png.json", "0002-img-001.png.json", "0099-mine.json", "index.json", "notes.txt", "sub"}
	if got := bodies(); sum.Requests != 2 || !slices.Equal(got, want) {
		t.Errorf("second dry run: %d requests, folder %v, want %v", sum.Requests, got, want)
	}
	data, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil || !strings.Contains(string(data), `"file": "0002-img-001.png.json"`) || !strings.Contains(string(data), filepath.Join(few, "img-001.png")) {
		t.Errorf("index: %s %v", data, err)
	}
	for _, d := range reqs {
		if _, err := os.Stat(d.File); err != nil {
			t.Errorf("body %s: %v", d.File, err)
		}
	}
	// A tampered index: names outside the folder, the user's files, a folder.
	tampered := `{"files": [{"file": "../outside.txt"}, {"file": "sub"}, {"file": "notes.txt/"}, {"file": ""}, {"file": "0001-img-000.png.json"}]}`
	if err := os.WriteFile(filepath.Join(out, "index.json"), []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing to send: the listed body goes, and so does the index.
	if err := os.WriteFile(filepath.Join(dir, "only.txt"), []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, _ := dry(filepath.Join(dir, "only.txt")); sum.Requests != 0 || sum.Skipped != 1 {
		t.Errorf("text only: %+v", sum)
	}
	if got, want := bodies(), []string{"0002-img-001.png.json", "0099-mine.json", "notes.txt", "sub"}; !slices.Equal(got, want) {
		t.Errorf("after the tampered index: %v, want %v", got, want)
	}
	for _, p := range mine {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestRunVideoEvents(t *testing.T) {
	needTool(t, "ffmpeg")
	needTool(t, "ffprobe")
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	copyFile(t, "../testdata/video/cfr_h264.mp4", filepath.Join(in, "clip.mp4"))
	copyFile(t, "../testdata/images/png.png", filepath.Join(in, "still.png"))
	journal := filepath.Join(dir, "r.jsonl")
	sum, err := Run(context.Background(), testConfig(t), RunOptions{Journal: journal, Preset: "video-events"},
		testClient(t, srv.URL), []string{in}, nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("violations %v", v)
	}
	by := onePerPath(t, loadRecords(t, journal), []string{filepath.Join(in, "clip.mp4"), filepath.Join(in, "still.png")})
	if r := by[filepath.Join(in, "still.png")]; r.Status != StatusSkipped {
		t.Errorf("image under video-events: %+v", r)
	}
	r := by[filepath.Join(in, "clip.mp4")]
	if r.Status != StatusOK || len(r.Outputs) != 1 || !strings.HasSuffix(r.Outputs[0], filepath.Join("r.json", "clip.mp4.json")) && !strings.HasSuffix(r.Outputs[0], "clip.mp4.json") {
		t.Fatalf("video: %+v (summary %+v)", r, sum)
	}
	data, err := os.ReadFile(r.Outputs[0])
	if err != nil || !strings.Contains(string(data), `"start_time": "00:00:00"`) || !strings.Contains(string(data), "a square moves") {
		t.Errorf("events file: %s %v", data, err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Kind != "frames" {
		t.Errorf("requests %+v", reqs)
	}
}

// BenchmarkRunOverhead measures the CPU the pipeline spends per request
// beyond encoding the media: expanding, hashing, probing and planning,
// the limiter, building the request and streaming its (small) body,
// reading the answer, the journal (one fsync per record) and the
// collector. Encoding is excluded by a seam: every payload is prepared
// once before timing and handed out as is. The stand-in answering at once
// runs in another process (TestBenchStandInHelper), so getrusage of this
// process counts the pipeline's CPU alone: cpu-µs/request, target ≤ 1000.
func BenchmarkRunOverhead(b *testing.B) {
	url := startStandInProcess(b)
	dir := b.TempDir()
	const items = 50
	writePNGs(b, filepath.Join(dir, "in"), items)
	cfg := testConfig(b)
	cfg.Prompt = "What is this?"
	// Keep a connection per worker, as vision run's client does.
	client := testClient(b, url, dashscope.WithHTTPClient(PaceAttempts(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}})))
	prepared := map[string]Prepared{}
	if _, err := EstimateInputsFromArgs(context.Background(), cfg, []string{filepath.Join(dir, "in")}, nil, func(e Estimate) error {
		p, err := Prepare(context.Background(), cfg, e, nil)
		prepared[e.Path] = p
		return err
	}); err != nil {
		b.Fatal(err)
	}
	seams := runSeams{prepare: func(_ context.Context, t task) (Prepared, error) { return prepared[t.it.in.Path], nil }}
	b.ResetTimer()
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		journal := filepath.Join(dir, "r"+itoa(i)+".jsonl")
		c0 := cpuTime()
		sum, err := run(context.Background(), cfg, RunOptions{Journal: journal, RPM: -1, TPM: -1, Concurrency: 8},
			client, []string{filepath.Join(dir, "in")}, nil, Hooks{}, seams)
		cpu += cpuTime() - c0
		if err != nil || sum.OK != items || sum.Requests != items {
			b.Fatalf("%+v %v", sum, err)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*items), "cpu-µs/request")
}

// startStandInProcess runs TestBenchStandInHelper in a child process and
// returns its URL; it stops with the benchmark.
func startStandInProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchStandInHelper$")
	cmd.Env = append(os.Environ(), "VISION_BENCH_STANDIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		b.Fatalf("stand-in: %q %v", line, err)
	}
	return strings.TrimSpace(line)
}

// TestBenchStandInHelper is the stand-in of BenchmarkRunOverhead: it
// answers every request at once without looking at the body, prints its
// URL and serves until its stdin closes.
func TestBenchStandInHelper(t *testing.T) {
	if os.Getenv("VISION_BENCH_STANDIN") == "" {
		t.Skip("helper for BenchmarkRunOverhead")
	}
	answer := []byte(`{"request_id":"r","output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":[{"text":"ok"}]}}]},"usage":{"input_tokens":70,"output_tokens":1}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	defer srv.Close()
	fmt.Println(srv.URL)
	io.Copy(io.Discard, os.Stdin)
}

// TestRunConfirmCanceled: Ctrl-C while Confirm blocks (a prompt waiting
// for a line) returns at once: nothing is sent, no journal, Start never
// called.
func TestRunConfirmCanceled(t *testing.T) {
	f := newFixture(t, 2)
	srv, journal := f.srv, f.journal
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	defer close(block)
	started := false
	_, err := Run(ctx, f.cfg, RunOptions{Journal: journal}, testClient(t, srv.URL), []string{f.in}, nil, Hooks{
		Confirm: func(Plan) (bool, error) { cancel(); <-block; return true, nil },
		Start:   func(Plan) { started = true },
	})
	if !errors.Is(err, context.Canceled) || started || len(srv.Requests()) != 0 {
		t.Fatalf("err %v, started %v, %d requests", err, started, len(srv.Requests()))
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal written: %v", err)
	}
}

// slowConn writes at most rate bytes a second: a slow uplink.
type slowConn struct {
	net.Conn
	rate int
}

func (c slowConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 4<<10)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		time.Sleep(time.Duration(k) * time.Second / time.Duration(c.rate))
		p = p[k:]
	}
	return n, nil
}

// TestRunSlowUploadStartsAtHeaders: on an uplink slower than the bodies
// (about 0.8 s each at --rpm 120, 0.5 s apart), a request's start is when
// its headers are written, before the server sees them, not when its body
// is done: the old limiter took the end of the upload (WroteRequest) and
// moved the start there after later requests had been granted against
// the earlier time. The limits hold on those starts and, with the run's
// lag, on the arrivals.
func TestRunSlowUploadStartsAtHeaders(t *testing.T) {
	srv := dashtest.New(t, testKey)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 4 { // noise: the PNG stays about 50 KB
		img := image.NewRGBA(image.Rect(0, 0, 128, 128))
		for p := range img.Pix {
			img.Pix[p] = byte(rng.IntN(256))
		}
		for p := 3; p < len(img.Pix); p += 4 {
			img.Pix[p] = 255
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, "noise-"+pad(i)+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowConn{c, 80 << 10}, nil
	}}
	defer tr.CloseIdleConnections()
	client := testClient(t, srv.URL, dashscope.WithHTTPClient(PaceAttempts(&http.Client{Transport: tr})))
	cfg := testConfig(t)
	cfg.Prompt = "What is this?"
	var rl rateLog
	sum, err := run(context.Background(), cfg, RunOptions{Journal: filepath.Join(dir, "r.jsonl"), RPM: 120, Concurrency: 4},
		client, []string{in}, nil, Hooks{}, rl.seams())
	if err != nil || sum.OK != 4 {
		t.Fatalf("%+v %v", sum, err)
	}
	checkRate(t, srv.Requests(), &rl, 120)
}
