package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// runner holds what the stages of one run share.
type runner struct {
	cfg      Config
	ro       RunOptions
	client   Sender
	hooks    Hooks
	lim      *Limiter
	settings string
	prompt   int // estimated prompt tokens
	tmp      string
	videoSem chan struct{}
	retries  atomic.Int64
}

// Run is `vision run`: it expands args (files, folders, globs, @lists, "-"
// for stdin), keeps ro.Shard's part, hashes, probes, validates and plans
// every input (headers only), reports the plan, refuses a plan above
// ro.MaxCost, asks hooks.Confirm, and then either writes each request body
// (a dry run) or sends every item: preparation (resize, frames, PDF pages)
// on bounded workers, ro.Concurrency requests in flight, paced by requests
// and estimated tokens per minute with one shared pause on 429.
//
// Every input ends as exactly one Record appended to ro.Journal as it
// completes (ok, failed or skipped), except items resumed from an ok record
// (ro.Resume). When ctx is canceled, Run stops launching, gives requests in
// flight ro.Grace to finish, then cancels them (records failed, stage
// "interrupted"); items not sent yet are recorded skipped, stage
// "interrupted". It then returns an error wrapping ctx's. A crash loses at
// most the requests in flight: every record is synced when appended.
//
// The error is nil when the run went through, even if items failed: the
// summary counts them.
func Run(ctx context.Context, cfg Config, ro RunOptions, client Sender, args []string, stdin io.Reader, hooks Hooks) (RunSummary, error) {
	begin := time.Now()
	sum, err := run(ctx, cfg, ro, client, args, stdin, hooks)
	sum.ElapsedS = time.Since(begin).Seconds()
	return sum, err
}

func run(ctx context.Context, cfg Config, ro RunOptions, client Sender, args []string, stdin io.Reader, hooks Hooks) (RunSummary, error) {
	sum := RunSummary{CostKnown: true, FailuresByClass: map[string]int{}}
	if ro.Journal == "" {
		return sum, errors.New("run: no results file (-o results.jsonl)")
	}
	if client == nil {
		return sum, errors.New("run: no API client")
	}
	if ro.Preset != "" {
		p, err := LookupPreset(ro.Preset)
		if err != nil {
			return sum, fmt.Errorf("run: %w", err)
		}
		ro.Preset = p.Name
	}
	ro = ro.withDefaults(cfg)
	cfg, err := applyPreset(cfg, ro)
	if err != nil {
		return sum, err
	}
	cfg.Prices = cfg.prices() // parse the built-in table once, not per item
	sum.Journal, sum.OutDir, sum.DryRun, sum.Shard = ro.Journal, ro.OutDir, ro.DryRun, ro.Shard.String()
	if ro.DryRun {
		sum.DryRunDir, sum.Journal = ro.DryRunDir, ""
	}

	// Refuse to touch an existing journal without --resume, before any work.
	prev, err := loadJournal(ro.Journal)
	if err != nil {
		return sum, err
	}
	if len(prev) > 0 && !ro.Resume && !ro.DryRun {
		return sum, fmt.Errorf("%w: %s has %d records; pass --resume to continue it, or -o a new file", ErrJournalExists, ro.Journal, len(prev))
	}

	inputs, err := Expand(ctx, args, stdin)
	if err != nil {
		return sum, err
	}
	kept := inputs[:0:0]
	for _, in := range inputs {
		if ro.Shard.Keep(in.Path) {
			kept = append(kept, in)
		}
	}
	r := &runner{cfg: cfg, ro: ro, client: client, hooks: hooks, settings: settingsKey(cfg, ro),
		prompt: PromptTokens(cfg.Prompt), videoSem: make(chan struct{}, ro.VideoWorkers)}
	items, err := planItems(ctx, cfg, ro, kept)
	if err != nil {
		return sum, err
	}
	if ro.Resume {
		markResumed(items, prev, r.settings)
	}
	plan := buildPlan(items, cfg, ro, r.settings)
	sum.Items, sum.Resumed, sum.Currency = plan.Inputs, plan.Resumed, plan.Currency
	sum.EstimatedInputTokens, sum.EstimatedOutputTokens, sum.EstimatedCost = plan.InputTokens, plan.OutputTokens, plan.Cost
	if hooks.Plan != nil {
		hooks.Plan(plan)
	}
	if err := checkBudget(plan, ro.MaxCost); err != nil {
		return sum, err
	}

	tmp, err := os.MkdirTemp("", "vision-run-")
	if err != nil {
		return sum, fmt.Errorf("run: temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	r.tmp = tmp

	if ro.DryRun {
		err := r.dryRun(ctx, items, &sum)
		return sum, err
	}
	if hooks.Confirm != nil && plan.Send > 0 {
		if err := confirm(ctx, hooks.Confirm, plan); err != nil {
			return sum, err
		}
	}
	if hooks.Start != nil {
		hooks.Start(plan)
	}
	j, err := OpenJournal(ro.Journal)
	if err != nil {
		return sum, err
	}
	r.lim = NewLimiter(ro.RPM, ro.TPM)
	err = r.execute(ctx, items, j, &sum)
	sum.Retries = int(r.retries.Load())
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("run interrupted: %w", ctx.Err())
	}
	return sum, err
}

// confirm asks hook, giving up when ctx ends first: the hook may be
// blocked reading a terminal, and Ctrl-C must still stop the run.
func confirm(ctx context.Context, hook func(Plan) (bool, error), plan Plan) error {
	type answer struct {
		ok  bool
		err error
	}
	got := make(chan answer, 1)
	go func() {
		ok, err := hook(plan)
		got <- answer{ok, err}
	}()
	select {
	case a := <-got:
		switch {
		case a.err != nil:
			return fmt.Errorf("run: confirm: %w", a.err)
		case !a.ok:
			return ErrDeclined
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("run: interrupted at the confirmation, nothing sent: %w", ctx.Err())
	}
}

// loadJournal reads the records of an existing journal (none when the
// file does not exist).
func loadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	recs, err := ReadJournal(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a vision results file: %w", path, err)
	}
	return recs, nil
}

// markResumed turns items already ok in the journal, with the same content
// hash and settings, into resumed ones.
func markResumed(items []*runItem, prev []Record, settings string) {
	ok := map[doneKey]bool{}
	for _, r := range prev {
		if r.Status == StatusOK {
			ok[doneKey{r.ID, r.SHA256, r.Settings}] = true
		}
	}
	for _, it := range items {
		if it.action == ActionSend && ok[doneKey{it.id, it.sha, settings}] {
			it.action, it.reason = ActionResume, "already ok in the journal"
			it.reqs, it.inTok, it.outTok, it.cost, it.trans = 0, 0, 0, nil, ""
		}
	}
}

// execute runs the send stages. Goroutines, all on one errgroup whose
// context ends only on a fatal error (a journal write):
//
//	feeder → tasks → prepare workers → ready → send workers → results → collector
//
// The collector is the only writer of the journal and of outputs. launch
// ends on Ctrl-C (stop starting work); sendCtx ends ro.Grace later (cancel
// what is in flight).
func (r *runner) execute(ctx context.Context, items []*runItem, j *Journal, sum *RunSummary) error {
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	launch, stopLaunch := context.WithCancel(gctx)
	defer stopLaunch()
	sendCtx, cancelSend := context.WithCancel(gctx)
	defer cancelSend()
	var grace atomic.Pointer[time.Timer]
	unhook := context.AfterFunc(ctx, func() {
		stopLaunch()
		grace.Store(time.AfterFunc(r.ro.Grace, cancelSend))
	})
	defer func() {
		unhook()
		if t := grace.Load(); t != nil {
			t.Stop()
		}
	}()

	var send []*runItem
	for _, it := range items {
		if it.action == ActionSend {
			send = append(send, it)
		}
	}
	tasks := make(chan task)
	ready := make(chan *taskResult, r.ro.Concurrency)
	results := make(chan *taskResult, r.ro.Concurrency)
	emit := func(res *taskResult) error {
		select {
		case results <- res:
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}

	g.Go(func() error { // feeder
		defer close(tasks)
		for _, it := range send {
			for _, t := range itemTasks(it) {
				select {
				case tasks <- t:
				case <-launch.Done():
					return nil // the rest is recorded as not started
				}
			}
		}
		return nil
	})

	var prepWG, sendWG sync.WaitGroup
	for range r.cfg.prepareWorkers() {
		prepWG.Add(1)
		g.Go(func() error {
			defer prepWG.Done()
			for t := range tasks {
				res := &taskResult{task: t, started: time.Now()}
				if launch.Err() == nil {
					res.prep, res.err = r.prepare(launch, t, r.client)
				}
				switch {
				case launch.Err() != nil:
					res.notStarted, res.err = true, nil
				case res.err != nil:
					res.stage, res.finished = "prepare", time.Now()
					if t.page > 0 {
						res.stage = "render"
					}
				default:
					select {
					case ready <- res:
						continue
					case <-gctx.Done():
						return gctx.Err()
					}
				}
				if err := emit(res); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for range r.ro.Concurrency {
		sendWG.Add(1)
		g.Go(func() error {
			defer sendWG.Done()
			for res := range ready {
				if launch.Err() != nil {
					res.notStarted = true
				} else {
					r.send(launch, sendCtx, res)
				}
				if err := emit(res); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error { // closer
		prepWG.Wait()
		close(ready)
		sendWG.Wait()
		close(results)
		return nil
	})
	g.Go(func() error { return r.collect(items, send, results, j, sum) })
	return g.Wait()
}

// itemTasks is one task per request of an item.
func itemTasks(it *runItem) []task {
	if it.pdf == nil {
		return []task{{it: it}}
	}
	ts := make([]task, it.pdf.pages())
	for i := range ts {
		ts[i] = task{it: it, page: i + 1}
	}
	return ts
}

// collect is the one goroutine that writes the journal: first the records
// the plan already decided, then each sent item as its last request ends,
// and finally the items the run never got to.
func (r *runner) collect(items, send []*runItem, results <-chan *taskResult, j *Journal, sum *RunSummary) error {
	write := func(rec Record) error {
		if err := j.Append(rec); err != nil {
			return err
		}
		sum.add(rec)
		if r.hooks.Done != nil {
			r.hooks.Done(rec)
		}
		return nil
	}
	for _, it := range items {
		if it.action == ActionSkip || it.action == ActionFail {
			if err := write(r.planRecord(it)); err != nil {
				return err
			}
		}
	}
	pending := map[int][]*taskResult{}
	got := map[int]int{}
	for res := range results {
		it := res.it
		if pending[it.idx] == nil {
			pending[it.idx] = make([]*taskResult, it.reqs)
		}
		i := max(res.page-1, 0)
		pending[it.idx][i] = res
		if res.sent {
			sum.Requests++
		}
		got[it.idx]++
		if got[it.idx] < it.reqs {
			continue
		}
		rec := r.record(it, pending[it.idx])
		delete(pending, it.idx)
		if err := write(rec); err != nil {
			return err
		}
	}
	for _, it := range send { // never fed, or partly done when interrupted
		if got[it.idx] >= it.reqs {
			continue
		}
		rs := pending[it.idx]
		if rs == nil {
			rs = make([]*taskResult, it.reqs)
		}
		for i := range rs {
			if rs[i] == nil {
				rs[i] = &taskResult{task: itemTasks(it)[i], notStarted: true}
			}
		}
		if err := write(r.record(it, rs)); err != nil {
			return err
		}
	}
	return nil
}
