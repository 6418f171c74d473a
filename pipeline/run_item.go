package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qwen-vision/vision/dashscope"
	"github.com/qwen-vision/vision/media"
)

// StageInterrupted marks records of items stopped by cancellation (Ctrl-C):
// failed when their request was in flight past the grace period, skipped
// when it had not been sent yet. A resumed run sends both again.
const StageInterrupted = "interrupted"

// task is one request of an item: the whole item, or one page of a PDF.
type task struct {
	it   *runItem
	page int // from 1 for a PDF page, 0 otherwise
}

// taskResult is how one task ended.
type taskResult struct {
	task
	prep       Prepared
	resp       *dashscope.Response
	err        error
	stage      string
	notStarted bool      // never sent: the run was stopped first
	sent       bool      // the request was sent (at least its first attempt began)
	started    time.Time // when its preparation began
	finished   time.Time
}

// tokens is the task's estimated input, what the limiter charges.
func (r *runner) tokens(t task) int {
	if t.page > 0 {
		return t.it.pdf.plans[t.page-1].InputTokens + r.prompt
	}
	return t.it.est.InputTokens
}

// prepare resizes, extracts frames or renders a page; videos wait for one
// of the ffmpeg slots.
func (r *runner) prepare(ctx context.Context, t task, up Uploader) (Prepared, error) {
	if t.page > 0 {
		return preparePage(ctx, r.cfg, t.it, t.page, r.tmp, up)
	}
	if t.it.est.Video != nil {
		select {
		case r.videoSem <- struct{}{}:
			defer func() { <-r.videoSem }()
		case <-ctx.Done():
			return Prepared{}, ctx.Err()
		}
	}
	return Prepare(ctx, r.cfg, t.it.est, up)
}

// request builds the request of one prepared task.
func (r *runner) request(p Prepared) *dashscope.Request {
	return &dashscope.Request{
		Model: r.cfg.Model,
		Messages: []dashscope.Message{{Role: dashscope.RoleUser,
			Content: []dashscope.Content{p.Content, dashscope.Text(r.cfg.Prompt)}}},
		Parameters: dashscope.Parameters{
			VLHighResolutionImages: r.cfg.Image.HighRes,
			EnableThinking:         r.ro.Thinking,
			ThinkingBudget:         r.ro.ThinkingBudget,
			MaxTokens:              r.ro.MaxTokens,
		},
	}
}

// send waits for the limiter (under launch: a canceled run sends nothing
// more) and sends under sendCtx (canceled only after the grace period).
func (r *runner) send(launch, sendCtx context.Context, res *taskResult) {
	n := r.tokens(res.task)
	slot, err := r.lim.Acquire(launch, n)
	if err != nil {
		res.notStarted = true
		return
	}
	path, page := res.it.in.Path, res.page
	p := &pace{lim: r.lim, tokens: n, first: slot, onRetry: func(attempt int, cause string) {
		r.retries.Add(1)
		if r.hooks.Retry != nil {
			r.hooks.Retry(RetryEvent{Path: path, Page: page, Attempt: attempt, Cause: cause})
		}
	}}
	res.sent = true
	resp, err := r.client.Send(withPace(sendCtx, p), r.ro.API, r.request(res.prep), nil)
	res.finished = time.Now()
	res.resp, res.err = resp, err
	res.prep.Content = dashscope.Content{} // drop the media bytes
	if err == nil {
		return
	}
	res.stage = "send"
	if errors.Is(err, context.Canceled) && sendCtx.Err() != nil {
		res.stage = StageInterrupted
	}
	var ae *dashscope.APIError
	if errors.As(err, &ae) && ae.Class().IsRateLimit() {
		// The client gave up on a 429: pause everyone, whatever its client.
		d := ae.RetryAfter
		if d <= 0 {
			d = defaultThrottlePause
		}
		r.lim.Backoff(d)
	}
}

// errorClass names the kind of a failure for the journal: DashScope's
// classes (rate_limit_requests, server, timeout…), "canceled",
// "invalid_input" for media that cannot be read, "tool_missing".
func errorClass(err error) string {
	var te *dashscope.TimeoutError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, media.ErrToolMissing):
		return "tool_missing"
	case errors.Is(err, media.ErrCorrupt), errors.Is(err, media.ErrUnsupported), errors.Is(err, media.ErrEmpty),
		errors.Is(err, media.ErrNotMedia), errors.Is(err, media.ErrTooLarge):
		return "invalid_input"
	case errors.As(err, &te):
		return dashscope.ClassTimeout.String()
	}
	return dashscope.Classify(err).String()
}

// record turns an item's task results (one per request, in page order)
// into its one journal record, writing its output file when it is ok.
func (r *runner) record(it *runItem, results []*taskResult) Record {
	rec := r.baseRecord(it)
	var answers []string
	var failed *taskResult
	sent, notStarted := false, 0
	for _, res := range results {
		if res.notStarted {
			notStarted++
			continue
		}
		sent = sent || res.sent
		if !res.started.IsZero() && (rec.Started.IsZero() || res.started.Before(rec.Started.Time)) {
			rec.Started = Stamp{res.started}
		}
		if res.finished.After(rec.Finished.Time) {
			rec.Finished = Stamp{res.finished}
		}
		if res.resp != nil {
			r.addUsage(&rec, res.resp)
			if res.resp.RequestID != "" {
				rec.RequestID = res.resp.RequestID
			}
			answers = append(answers, res.resp.Text)
		}
		if res.err != nil && failed == nil {
			failed = res
		}
	}
	if rec.Finished.IsZero() {
		rec.Finished = Stamp{time.Now()}
	}
	if rec.Started.IsZero() {
		rec.Started = rec.Finished
	}
	if it.pdf != nil {
		rec.Pages = len(answers)
	}
	switch {
	case failed != nil:
		rec.Status, rec.Stage = StatusFailed, failed.stage
		rec.Error, rec.ErrorClass = failed.err.Error(), errorClass(failed.err)
		if failed.page > 0 {
			rec.Error = fmt.Sprintf("page %d: %s", failed.page, rec.Error)
		}
		var ae *dashscope.APIError
		if errors.As(failed.err, &ae) && ae.RequestID != "" {
			rec.RequestID = ae.RequestID
		}
		return rec
	case notStarted > 0 && !sent:
		rec.Status, rec.Stage, rec.ErrorClass = StatusSkipped, StageInterrupted, "canceled"
		rec.Error = "interrupted before it was sent; run again with --resume"
		return rec
	case notStarted > 0:
		rec.Status, rec.Stage, rec.ErrorClass = StatusFailed, StageInterrupted, "canceled"
		rec.Error = fmt.Sprintf("interrupted: %d of %d pages not sent; run again with --resume", notStarted, len(results))
		return rec
	}
	rec.Answer = answers[0]
	if it.pdf != nil {
		rec.Answer = mergePages(answers)
	}
	for _, res := range results {
		if res.resp.Partial {
			rec.Status, rec.Stage, rec.ErrorClass = StatusFailed, "send", "partial"
			rec.Error = "the answer is partial: the service cut it at its time limit"
			return rec
		}
	}
	rec.Status = StatusOK
	if err := r.writeOutputs(it, results, &rec); err != nil {
		rec.Status = StatusFailed
		if rec.Stage == "" {
			rec.Stage = "output"
		}
		rec.Error = err.Error()
		if rec.ErrorClass == "" {
			rec.ErrorClass = "output"
		}
	}
	return rec
}

// baseRecord is the part of a record known from the plan.
func (r *runner) baseRecord(it *runItem) Record {
	rec := Record{ID: it.id, Path: it.in.Path, SHA256: it.sha, Settings: r.settings, Currency: it.cur}
	if it.reqs > 0 {
		est := RecordEstimate{InputTokens: it.inTok, OutputTokens: it.outTok}
		if it.cost != nil {
			est.Cost = *it.cost
		}
		rec.Estimate = &est
	}
	return rec
}

// planRecord is the record of an item the plan already skips or fails.
func (r *runner) planRecord(it *runItem) Record {
	rec := r.baseRecord(it)
	now := Stamp{time.Now()}
	rec.Started, rec.Finished = now, now
	rec.Stage, rec.Error = it.stage, it.reason
	if it.action == ActionSkip {
		rec.Status = StatusSkipped
		return rec
	}
	rec.Status, rec.ErrorClass = StatusFailed, it.code
	if rec.ErrorClass == "" {
		rec.ErrorClass = "invalid_input"
	}
	return rec
}

func (r *runner) addUsage(rec *Record, resp *dashscope.Response) {
	u := resp.Usage
	if rec.Usage == nil {
		rec.Usage = &RecordUsage{}
		if c := r.cfg.prices().Cost(r.cfg.Model, r.cfg.region(), 0, 0); c.Known {
			zero := 0.0
			rec.Cost, rec.Currency = &zero, c.Currency
		}
	}
	ru := rec.Usage
	ru.InputTokens += u.InputTokens
	ru.OutputTokens += u.OutputTokens
	ru.TextTokens += u.InputTokensDetails.TextTokens
	ru.ImageTokens += u.ImageTokens
	ru.VideoTokens += u.VideoTokens
	ru.ReasoningTokens += u.OutputTokensDetails.ReasoningTokens
	ru.CachedTokens += u.CachedTokens
	// Each request is priced on its own: tiers depend on its input length.
	c := r.cfg.prices().Cost(r.cfg.Model, r.cfg.region(), u.InputTokens, u.OutputTokens)
	if !c.Known {
		rec.Cost = nil
		return
	}
	if rec.Cost != nil {
		v := *rec.Cost + c.Total
		rec.Cost, rec.Currency = &v, c.Currency
	}
}

// writeOutputs writes the preset's output file of an ok item: the answer as
// .md (ocr), or the parsed, time-mapped and checked events as .json
// (video-events). Event problems keep the record ok, prefixed "warning:"
// in its error field, and are listed in the .json.
func (r *runner) writeOutputs(it *runItem, results []*taskResult, rec *Record) error {
	preset := Presets[r.ro.Preset]
	path := outputPath(r.ro.OutDir, preset.OutputExt, it.in)
	if !preset.ParseEvents {
		if path == "" {
			return nil
		}
		if err := writeOutput(path, markdownOutput(rec.Answer)); err != nil {
			return err
		}
		rec.Outputs = append(rec.Outputs, path)
		return nil
	}
	events, problems, err := ParseVideoEvents(rec.Answer)
	if err != nil {
		rec.Stage, rec.ErrorClass = "parse", "invalid_answer"
		return fmt.Errorf("video events: %w", err)
	}
	var times []float64
	for _, f := range results[0].prep.Frames {
		times = append(times, f.TimeS)
	}
	fps, dur := 0.0, it.est.DurationS
	if it.est.Video != nil {
		fps = it.est.Video.SampleFPS
	}
	events = MapFrameTimes(events, times, fps)
	tol := 0.0
	if fps > 0 {
		tol = 1 / fps
	}
	problems = append(problems, CheckVideoEvents(events, dur, tol)...)
	if len(problems) > 0 {
		rec.Error = "warning: " + strings.Join(problems, "; ")
	}
	if path == "" {
		return nil
	}
	data, err := eventsOutput(eventsFile{Path: it.in.Path, DurationS: dur, SampleFPS: fps, Events: events, Problems: problems})
	if err != nil {
		return err
	}
	if err := writeOutput(path, data); err != nil {
		return err
	}
	rec.Outputs = append(rec.Outputs, path)
	return nil
}
