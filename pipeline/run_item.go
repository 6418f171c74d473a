package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
		tmp, err := r.tempDir()
		if err != nil {
			return Prepared{}, err
		}
		return preparePage(ctx, r.cfg, t.it, t.page, tmp, up)
	}
	if t.it.est.Video != nil {
		select {
		case r.videoSem <- struct{}{}:
			defer func() { <-r.videoSem }()
		case <-ctx.Done():
			return Prepared{}, ctx.Err()
		}
	}
	p, err := Prepare(ctx, r.cfg, t.it.est, up)
	if e := p.Replanned; err == nil && e != nil {
		// The frames sent were planned otherwise: pace and journal them.
		it := t.it
		it.est, it.inTok, it.outTok, it.cost, it.cur = *e, e.InputTokens, e.OutputTokens, e.Cost, e.Currency
	}
	return p, err
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
	slot.Release() // a client without PaceAttempts never reports the start
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
	case errors.Is(err, media.ErrFrameMissing), errors.Is(err, media.ErrWrongFrame):
		p, _ := extractProblem("", err)
		return p.Code // video.damaged, video.seek_missed
	case errors.As(err, &te):
		return dashscope.ClassTimeout.String()
	}
	return dashscope.Classify(err).String()
}

// StageOutput marks a record whose answer arrived but whose output file
// could not be written; the answer is kept in it, and a resumed run writes
// the output from it without sending again.
const StageOutput = "output"

// record turns an item's task results into its one journal record,
// writing its output file when it is ok. results has one slot per request
// of the item (per page of a PDF, in page order); a nil slot is a PDF page
// answered before (it.pdf.done), not sent this time.
func (r *runner) record(it *runItem, results []*taskResult) Record {
	rec := r.baseRecord(it)
	var answers []string
	var failed *taskResult
	sent, notStarted, partial := false, 0, false
	for i, res := range results {
		if res == nil { // a page kept from an earlier attempt
			pr := it.pdf.done[i+1]
			r.addPage(&rec, PageResult{Page: i + 1, RequestID: pr.RequestID, Usage: pr.Usage, Cost: pr.Cost, Reused: true}, pr.Currency)
			answers = append(answers, pr.Answer)
			continue
		}
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
			u, cost, cur := r.usageOf(res.resp)
			r.addPage(&rec, PageResult{Page: res.page, RequestID: res.resp.RequestID, Usage: &u, Cost: cost}, cur)
			answers = append(answers, res.resp.Text)
			partial = partial || res.resp.Partial
		}
		if res.err != nil && failed == nil {
			failed = res
		}
	}
	if it.pdf == nil {
		rec.PageResults = nil // one request: its usage is the record's
	} else {
		rec.Pages = len(rec.PageResults)
	}
	if rec.Finished.IsZero() {
		rec.Finished = Stamp{time.Now()}
	}
	if rec.Started.IsZero() {
		rec.Started = rec.Finished
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
	case notStarted > 0 && !sent && len(answers) == 0:
		rec.Status, rec.Stage, rec.ErrorClass = StatusSkipped, StageInterrupted, "canceled"
		rec.Error = "interrupted before it was sent; run again with --resume"
		return rec
	case notStarted > 0:
		rec.Status, rec.Stage, rec.ErrorClass = StatusFailed, StageInterrupted, "canceled"
		rec.Error = fmt.Sprintf("interrupted: %d of %d pages not sent (the %d answered are kept); run again with --resume",
			notStarted, len(results), len(answers))
		return rec
	case partial:
		rec.Status, rec.Stage, rec.ErrorClass = StatusFailed, "send", "partial"
		rec.Error = "the answer is partial: the service cut it at its time limit"
		return rec
	}
	rec.Answer = answers[0]
	if it.pdf != nil {
		rec.Answer = mergePages(answers)
	}
	if len(results) == 1 && results[0] != nil {
		for _, f := range results[0].prep.Frames {
			rec.FrameTimes = append(rec.FrameTimes, f.TimeS)
		}
	}
	r.finishOutputs(it, &rec)
	return rec
}

// finishOutputs writes the outputs of an answered record, which stays ok,
// or becomes failed at StageOutput (parse, for unreadable events) with
// its answer kept.
func (r *runner) finishOutputs(it *runItem, rec *Record) {
	rec.Status = StatusOK
	if err := r.writeOutputs(it, rec); err != nil {
		rec.Status = StatusFailed
		if rec.Stage == "" {
			rec.Stage = StageOutput
		}
		rec.Error = err.Error()
		if rec.ErrorClass == "" {
			rec.ErrorClass = "output"
		}
	}
}

// rebuild is the record of an item whose answer is in the journal (it.prev)
// but whose output was not written: the output is written from the answer
// and nothing is sent. Usage, cost and request are the earlier record's.
func (r *runner) rebuild(it *runItem) Record {
	rec := *it.prev
	rec.Path, rec.Reused, rec.Outputs = it.in.Path, true, nil
	rec.Error, rec.ErrorClass, rec.Stage = "", "", ""
	rec.PageResults = slices.Clone(rec.PageResults)
	for i := range rec.PageResults {
		rec.PageResults[i].Reused = true
	}
	rec.Finished = Stamp{time.Now()}
	r.finishOutputs(it, &rec)
	return rec
}

// pageRecord is what the page journal keeps of an answered page.
func (r *runner) pageRecord(res *taskResult) PageRecord {
	it := res.it
	u, cost, cur := r.usageOf(res.resp)
	return PageRecord{ID: it.id, Path: it.in.Path, SHA256: it.sha, Settings: r.settings, Page: res.page, Pages: it.pdf.pages(),
		Answer: res.resp.Text, Usage: &u, Cost: cost, Currency: cur, RequestID: res.resp.RequestID,
		Started: Stamp{res.started}, Finished: Stamp{res.finished}}
}

// baseRecord is the part of a record known from the plan.
func (r *runner) baseRecord(it *runItem) Record {
	rec := Record{ID: it.id, Path: it.in.Path, SHA256: it.sha, Settings: r.settings, Currency: it.cur}
	if it.action == ActionSend {
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
	rec.Status, rec.ErrorClass, rec.Fix = StatusFailed, it.code, it.fix
	if rec.ErrorClass == "" {
		rec.ErrorClass = "invalid_input"
	}
	return rec
}

// usageOf is the usage one response reported and its cost (nil when the
// price table does not know it); each request is priced on its own, as
// tiers depend on its input length.
func (r *runner) usageOf(resp *dashscope.Response) (RecordUsage, *float64, string) {
	u := resp.Usage
	ru := RecordUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TextTokens: u.InputTokensDetails.TextTokens,
		ImageTokens: u.ImageTokens, VideoTokens: u.VideoTokens, ReasoningTokens: u.OutputTokensDetails.ReasoningTokens,
		CachedTokens: u.CachedTokens}
	c := r.cfg.prices().Cost(r.cfg.Model, r.cfg.region(), u.InputTokens, u.OutputTokens)
	if !c.Known {
		return ru, nil, ""
	}
	total := c.Total
	return ru, &total, c.Currency
}

// addPage adds one request's result to rec: its usage and cost to the
// record's sums (the cost unknown once any request's is), its request as
// the record's request_id, and it to PageResults.
func (r *runner) addPage(rec *Record, pr PageResult, currency string) {
	if pr.RequestID != "" {
		rec.RequestID = pr.RequestID
	}
	rec.PageResults = append(rec.PageResults, pr)
	first := rec.Usage == nil
	if first {
		rec.Usage = &RecordUsage{}
	}
	if pr.Usage != nil {
		rec.Usage.add(*pr.Usage)
	}
	switch {
	case pr.Cost == nil:
		rec.Cost = nil
	case first:
		c := *pr.Cost
		rec.Cost, rec.Currency = &c, currency
	case rec.Cost != nil:
		c := *rec.Cost + *pr.Cost
		rec.Cost = &c
	}
}

// writeOutputs writes the preset's output file of an answered item to
// it.out: the answer as .md (ocr), or the parsed, time-mapped and checked
// events as .json (video-events). Event problems keep the record ok,
// prefixed "warning:" in its error field, and are listed in the .json.
func (r *runner) writeOutputs(it *runItem, rec *Record) error {
	preset := Presets[r.ro.Preset]
	path := it.out
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
	fps, dur := 0.0, it.est.DurationS
	if it.est.Video != nil {
		fps = it.est.Video.SampleFPS
	}
	// The model placed frame k at k/fps for the fps the list was declared
	// with, which is the sampled fps clamped into [0.1, 10].
	events = MapFrameTimes(events, rec.FrameTimes, r.cfg.Spec.ListFPS(fps))
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
