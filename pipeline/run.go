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
	tmpOnce  sync.Once
	tmp      string // temporary folder (rendered PDF pages), made on first use
	tmpErr   error
	videoSem chan struct{}
	retries  atomic.Int64
	latest   map[string]Record // the journal's last record per id, before this run
	redact   Redactor          // applied to every record and page written or reported
	pages    *pageJournal      // PDF pages, kept as they are answered
	seams    runSeams
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
// (ro.Resume) and skips or failures the journal already records as the
// item's latest record; the last record per id is the item's result. Each
// answered page of a PDF is also kept at once in the page journal
// (PagesPath), so a resumed run never sends it again. When ctx is
// canceled, Run stops launching, gives requests in flight ro.Grace to
// finish, then cancels them (records failed, stage "interrupted"); items
// not sent yet are recorded skipped, stage "interrupted". It then returns
// an error wrapping ctx's. A crash loses at most the requests in flight:
// every record and page is synced when appended.
//
// The error is nil when the run went through, even if items failed: the
// summary counts them.
func Run(ctx context.Context, cfg Config, ro RunOptions, client Sender, args []string, stdin io.Reader, hooks Hooks) (RunSummary, error) {
	return run(ctx, cfg, ro, client, args, stdin, hooks, runSeams{})
}

// runSeams replace stages of a run in tests; the zero value replaces none.
type runSeams struct {
	// prepare stands in for preparing a task (the overhead benchmark
	// hands out payloads prepared beforehand, so encoding is not counted).
	prepare func(ctx context.Context, t task) (Prepared, error)
	// limiter is given the run's limiter before anything is sent (the rate
	// tests watch what it grants and starts).
	limiter func(*Limiter)
	// redact replaces the run's Redactor.
	redact Redactor
}

func run(ctx context.Context, cfg Config, ro RunOptions, client Sender, args []string, stdin io.Reader, hooks Hooks, seams runSeams) (RunSummary, error) {
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

	if err := checkOutputs(ro); err != nil {
		return sum, err
	}

	// Lock the journal (creating it, and its folder, when new) and read
	// what it holds, before any work: a second run on the same file stops
	// here, and one without --resume never appends to an existing journal.
	st, err := openState(ro)
	if err != nil {
		return sum, err
	}
	defer st.close()

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
		prompt: PromptTokens(cfg.Prompt), videoSem: make(chan struct{}, ro.VideoWorkers), latest: st.latest, seams: seams,
		redact: Redactor(recordRedactor(cfg, client))}
	if seams.redact != nil {
		r.redact = seams.redact
	}
	items, err := planItems(ctx, cfg, ro, kept)
	if err != nil {
		return sum, err
	}
	// Output paths come from every input, before the shard, so shards
	// agree; those the journal's records claim stay with their inputs.
	outs := outputPaths(inputs, ro.OutDir, Presets[ro.Preset].OutputExt, st.claims, ro.Journal, PagesPath(ro.Journal))
	for _, it := range items {
		it.out = outs[it.in.Path]
	}
	if ro.Resume {
		markResumed(items, st, r.settings, cfg)
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

	defer r.removeTemp()

	if ro.DryRun {
		begin := time.Now()
		err := r.dryRun(ctx, items, &sum)
		sum.ElapsedS = time.Since(begin).Seconds()
		return sum, err
	}
	if hooks.Confirm != nil && plan.Requests > 0 {
		if err := confirm(ctx, hooks.Confirm, plan); err != nil {
			return sum, err
		}
	}
	begin := time.Now() // the time at the prompt is not the run's
	if hooks.Start != nil {
		hooks.Start(plan)
	}
	j, err := st.journal()
	if err != nil {
		return sum, err
	}
	j.lf.redact = recordRedactor(cfg, client)
	r.lim = NewLimiter(ro.RPM, ro.TPM)
	if seams.limiter != nil {
		seams.limiter(r.lim)
	}
	r.pages = &pageJournal{path: PagesPath(ro.Journal), lf: lineFile{redact: j.lf.redact}}
	err = r.execute(ctx, items, j, &sum)
	sum.Retries = int(r.retries.Load())
	if cerr := r.pages.Close(); err == nil {
		err = cerr
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("run interrupted: %w", ctx.Err())
	}
	sum.ElapsedS = time.Since(begin).Seconds()
	return sum, err
}

// tempDir is the run's temporary folder, created on first use (most runs
// have no PDF page to render).
func (r *runner) tempDir() (string, error) {
	r.tmpOnce.Do(func() {
		if r.tmp, r.tmpErr = os.MkdirTemp("", "vision-run-"); r.tmpErr != nil {
			r.tmpErr = fmt.Errorf("run: temporary folder: %w", r.tmpErr)
		}
	})
	return r.tmp, r.tmpErr
}

// removeTemp removes the temporary folder, once every stage has ended.
func (r *runner) removeTemp() {
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
	}
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
					if r.seams.prepare != nil {
						res.prep, res.err = r.seams.prepare(launch, t)
					} else {
						res.prep, res.err = r.prepare(launch, t, r.client)
					}
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

// itemTasks is one task per request of an item: the item, or each page of
// a PDF not answered before.
func itemTasks(it *runItem) []task {
	if it.pdf == nil {
		return []task{{it: it}}
	}
	var ts []task
	for p := 1; p <= it.pdf.pages(); p++ {
		if _, done := it.pdf.done[p]; !done {
			ts = append(ts, task{it: it, page: p})
		}
	}
	return ts
}

// slots is the number of results an item's record is made of: one per
// page of a PDF (a page answered before fills its slot from the page
// journal), else one.
func slots(it *runItem) int {
	if it.pdf != nil {
		return it.pdf.pages()
	}
	return 1
}

// samePlanRecord reports whether a plan record says what the item's latest
// record already says, so a resumed run need not append it again.
func samePlanRecord(last, rec Record) bool {
	return last.ID == rec.ID && last.SHA256 == rec.SHA256 && last.Settings == rec.Settings &&
		last.Status == rec.Status && last.Error == rec.Error && last.Stage == rec.Stage && last.ErrorClass == rec.ErrorClass
}

// collect is the one goroutine that writes the journal and the page
// journal: first the records the plan already decided (a skip or failure
// the journal already has as the item's latest record is not appended
// again) and the outputs rebuilt from stored answers, then each answered
// PDF page as it arrives and each sent item as its last request ends, and
// finally the items the run never got to.
func (r *runner) collect(items, send []*runItem, results <-chan *taskResult, j *Journal, sum *RunSummary) error {
	done := func(rec Record) {
		sum.count(rec)
		if r.hooks.Done != nil {
			r.hooks.Done(r.redact.record(rec))
		}
	}
	write := func(rec Record) error {
		if err := j.Append(r.redact.record(rec)); err != nil {
			return err
		}
		done(rec)
		return nil
	}
	for _, it := range items {
		var err error
		switch it.action {
		case ActionSkip, ActionFail:
			rec := r.redact.record(r.planRecord(it)) // as the journal has it
			if last, ok := r.latest[it.id]; ok && samePlanRecord(last, rec) {
				done(rec) // unchanged: the journal has it
				continue
			}
			err = write(rec)
		case ActionRebuild:
			err = write(r.rebuild(it))
		}
		if err != nil {
			return err
		}
	}
	need := map[int]int{}
	for _, it := range send {
		if need[it.idx] = len(itemTasks(it)); need[it.idx] == 0 { // every page answered before
			if err := write(r.record(it, make([]*taskResult, slots(it)))); err != nil {
				return err
			}
		}
	}
	pending := map[int][]*taskResult{}
	got := map[int]int{}
	for res := range results {
		it := res.it
		if pending[it.idx] == nil {
			pending[it.idx] = make([]*taskResult, slots(it))
		}
		pending[it.idx][max(res.page-1, 0)] = res
		if res.sent {
			sum.Requests++
		}
		if res.resp != nil {
			sum.bill(r.usageOf(res.resp))
			if res.page > 0 && res.err == nil && !res.resp.Partial {
				if err := r.pages.Append(r.redact.page(r.pageRecord(res))); err != nil {
					return err
				}
			}
		}
		if got[it.idx]++; got[it.idx] < need[it.idx] {
			continue
		}
		rec := r.record(it, pending[it.idx])
		delete(pending, it.idx)
		if err := write(rec); err != nil {
			return err
		}
	}
	for _, it := range send { // never fed, or partly done when interrupted
		if need[it.idx] == 0 || got[it.idx] >= need[it.idx] {
			continue
		}
		rs := pending[it.idx]
		if rs == nil {
			rs = make([]*taskResult, slots(it))
		}
		for _, t := range itemTasks(it) {
			if i := max(t.page-1, 0); rs[i] == nil {
				rs[i] = &taskResult{task: t, notStarted: true}
			}
		}
		if err := write(r.record(it, rs)); err != nil {
			return err
		}
	}
	return nil
}
