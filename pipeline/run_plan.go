package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// Actions a plan gives an input.
const (
	ActionSend   = "send"   // requests will be sent
	ActionSkip   = "skip"   // recorded as skipped (not media, excluded by the preset…)
	ActionFail   = "fail"   // recorded as failed before sending (corrupt, over a limit…)
	ActionResume = "resume" // already ok in the journal with the same hash and settings
	// ActionRebuild: the journal holds the answer (same hash and settings)
	// but writing its output failed; the output is written again from it,
	// nothing is sent.
	ActionRebuild = "rebuild"
)

// Plan is what a run will do, known before anything is sent.
type Plan struct {
	Items        []PlanItem     `json:"items"`
	Inputs       int            `json:"inputs"`
	Send         int            `json:"send"`     // items to send
	Requests     int            `json:"requests"` // requests to send (a PDF sends one per page)
	Skipped      int            `json:"skipped"`
	Failed       int            `json:"failed"`
	Resumed      int            `json:"resumed"`
	Rebuild      int            `json:"rebuild"`       // answered before: only the output is written again
	InputTokens  int            `json:"input_tokens"`  // estimated, of the requests to send
	OutputTokens int            `json:"output_tokens"` // estimated
	Cost         float64        `json:"cost"`          // estimated
	Currency     string         `json:"currency,omitempty"`
	CostKnown    bool           `json:"cost_known"` // false when some item has no price
	Transports   map[string]int `json:"transports"` // items by expected transport
	Settings     string         `json:"settings"`   // SettingsKey of the run
	Prompt       string         `json:"prompt"`
	Preset       string         `json:"preset,omitempty"`
	Journal      string         `json:"journal"`
	OutDir       string         `json:"out_dir,omitempty"`
	Shard        string         `json:"shard,omitempty"`
	DryRun       bool           `json:"dry_run,omitempty"` // nothing will be sent or journaled
}

// PlanItem is one input in the plan.
type PlanItem struct {
	ID           string   `json:"id"`
	Path         string   `json:"path"`
	Kind         string   `json:"kind"` // image, video, pdf, other
	Action       string   `json:"action"`
	Reason       string   `json:"reason,omitempty"` // why skipped or failed
	Fix          string   `json:"fix,omitempty"`    // how to repair a failure, when vision knows
	Stage        string   `json:"stage,omitempty"`
	Requests     int      `json:"requests,omitempty"`
	InputTokens  int      `json:"input_tokens,omitempty"`
	OutputTokens int      `json:"output_tokens,omitempty"`
	Cost         *float64 `json:"cost,omitempty"`
	Transport    string   `json:"transport,omitempty"`
	Output       string   `json:"output,omitempty"` // the preset's output file
}

// runItem is one input through a run.
type runItem struct {
	idx    int
	in     Input
	id     string
	sha    string
	est    Estimate
	pdf    *pdfPlan
	kind   string
	action string
	reason string
	stage  string
	code   string // error class of a failure found while planning
	fix    string // how to repair that failure ("" when unknown)
	reqs   int
	inTok  int
	outTok int
	cost   *float64
	cur    string
	trans  string
	out    string  // the preset's output file ("" for none)
	prev   *Record // ActionRebuild: the record holding the answer
}

func (it *runItem) planItem() PlanItem {
	return PlanItem{ID: it.id, Path: it.in.Path, Kind: it.kind, Action: it.action, Reason: it.reason, Fix: it.fix, Stage: it.stage,
		Requests: it.reqs, InputTokens: it.inTok, OutputTokens: it.outTok, Cost: it.cost, Transport: it.trans, Output: it.out}
}

// runSettings is what changes an answer, hashed into each record's
// settings: a resumed run redoes exactly the items whose answer would
// differ.
type runSettings struct {
	Model          string              `json:"model"`
	API            string              `json:"api"`
	Prompt         string              `json:"prompt"`
	Preset         string              `json:"preset,omitempty"`
	Image          tokens.ImageOptions `json:"image"`
	Video          tokens.VideoOptions `json:"video"`
	MaxTokens      int                 `json:"max_tokens,omitempty"`
	Thinking       *bool               `json:"thinking,omitempty"`
	ThinkingBudget int                 `json:"thinking_budget,omitempty"`
	ExtractMode    media.ExtractMode   `json:"extract_mode,omitempty"`
}

func settingsKey(cfg Config, ro RunOptions) string {
	return SettingsKey(runSettings{Model: cfg.Model, API: string(ro.API), Prompt: cfg.Prompt, Preset: ro.Preset,
		Image: cfg.Image, Video: cfg.Video, MaxTokens: ro.MaxTokens, Thinking: ro.Thinking,
		ThinkingBudget: ro.ThinkingBudget, ExtractMode: cfg.ExtractMode})
}

// defaultOutputTokens is the answer length assumed for the cost estimate
// when neither --output-tokens nor --max-tokens says: rough typical lengths
// (a dense page of Markdown, a paragraph, a dozen events). The estimate
// says so; pass --output-tokens for a better one.
var defaultOutputTokens = map[string]int{"ocr": 1500, "describe": 250, "video-events": 400, "": 250}

// applyPreset fills what cfg leaves zero from the preset, so flags win:
// the prompt, the pixel bounds (both, or neither), the video fps.
func applyPreset(cfg Config, ro RunOptions) (Config, error) {
	if ro.Preset != "" {
		p, err := LookupPreset(ro.Preset)
		if err != nil {
			return cfg, err
		}
		if strings.TrimSpace(cfg.Prompt) == "" {
			cfg.Prompt = p.Prompt
		}
		if cfg.Image.MinPixels == 0 && cfg.Image.MaxPixels == 0 && (p.MinPixels > 0 || p.MaxPixels > 0) && !cfg.Image.HighRes {
			b := ScalePixelBounds(cfg.Spec, p)
			cfg.Image.MinPixels, cfg.Image.MaxPixels = b.MinPixels, b.MaxPixels
		}
		if cfg.Video.FPS == 0 && cfg.Video.NFrames == 0 && p.FPS > 0 {
			cfg.Video.FPS = p.FPS
		}
	}
	if strings.TrimSpace(cfg.Prompt) == "" {
		return cfg, ErrNoPrompt
	}
	if cfg.OutputTokens == 0 {
		cfg.OutputTokens = ro.MaxTokens
		if cfg.OutputTokens == 0 {
			cfg.OutputTokens = defaultOutputTokens[ro.Preset]
		}
	}
	return cfg, nil
}

// planItems hashes, probes, validates and plans every input on the probe
// workers, in input order. Every input gets an item with an action.
func planItems(ctx context.Context, cfg Config, ro RunOptions, inputs []Input) ([]*runItem, error) {
	items := make([]*runItem, 0, len(inputs))
	prompt := PromptTokens(cfg.Prompt)
	err := forEachOrdered(ctx, len(inputs), cfg.probeWorkers(),
		func(ctx context.Context, i int) *runItem {
			it := planOne(ctx, cfg, ro, inputs[i], prompt)
			it.idx = i
			return it
		},
		func(it *runItem) error {
			items = append(items, it)
			return nil
		})
	return items, err
}

func planOne(ctx context.Context, cfg Config, ro RunOptions, in Input, prompt int) *runItem {
	it := &runItem{in: in, kind: string(media.KindOther)}
	if in.Err == nil && in.Skip == "" {
		sha, err := HashFile(ctx, in.Path)
		if err != nil {
			it.id = ItemID(in.Path, "")
			return it.fail("hash", "file.unreadable", err.Error(), "check the file and its permissions")
		}
		it.sha = sha
	}
	it.id = ItemID(in.Path, it.sha)
	e := PlanExact(ctx, cfg, estimateOne(ctx, cfg, in, prompt)) // videos planned as they will be sent
	it.est = e
	if e.Kind != "" {
		it.kind = string(e.Kind)
	}
	switch {
	case e.Status == StatusSkipped && e.Format == "pdf":
		it.kind = "pdf"
		planPDF(ctx, cfg, it, prompt)
	case e.Status == StatusSkipped:
		stage := "probe"
		if in.Skip != "" {
			stage = "walk"
		}
		it.action, it.reason, it.stage = ActionSkip, e.Reason, stage
	case e.Status == StatusFailed:
		code, fix := "invalid_input", ""
		if p, ok := failureProblem(e.Problems); ok {
			code = p.Code
			if !p.Fixable() { // "none needed" does not repair a failure
				fix = p.Fix
			}
		}
		it.fail(e.Stage, code, e.Error, fix)
	default:
		it.action, it.reqs = ActionSend, 1
		it.inTok, it.outTok, it.cost, it.cur = e.InputTokens, e.OutputTokens, e.Cost, e.Currency
		it.trans = plannedTransport(cfg, e)
	}
	if ro.Preset == "video-events" && it.action == ActionSend && it.kind != string(media.KindVideo) {
		it.action, it.reason, it.stage = ActionSkip, "the video-events preset takes videos only", "plan"
		it.reqs, it.inTok, it.outTok, it.cost, it.trans = 0, 0, 0, nil, ""
	}
	return it
}

// plannedTransport is how Prepare will send e: a video's frames by upload
// when there are more than the API takes as base64, an image by upload when
// it might not fit a data URL even re-encoded (imageTransport).
func plannedTransport(cfg Config, e Estimate) string {
	switch {
	case e.Video != nil:
		if e.Video.Frames > cfg.Spec.ImagesPerRequestBase64 {
			return SendUpload
		}
	case e.Image != nil:
		return imageTransport(cfg.Spec, e.Info, e.Image.ResizedWidth, e.Image.ResizedHeight)
	}
	return SendBase64
}

// worstJPEGBytesPerPixel bounds the JPEG size of an image at quality 50,
// the last quality Prepare tries before uploading: random saturated
// colours, the worst case measured for image/jpeg, take 0.56 bytes per
// pixel (uniform noise 0.41). At the default image bounds (2.6 MP) every
// image fits the 10 MB data-URL limit; from about 12 MP (--high-res) the
// source decides.
const worstJPEGBytesPerPixel = 0.6

// imageTransport is how Prepare will send an image resized to w×h:
// base64 when the original is kept (already that size, upright, JPEG or
// PNG) and fits the data-URL limit; base64 when even a worst-case JPEG of
// w×h fits, or when a JPEG source's own density, scaled to w×h with 50%
// to spare, does; else by upload. Prepare decides on the bytes it really
// encodes and records the transport it used. info may be zero (a rendered
// PDF page: PNG, decided by the worst case).
func imageTransport(spec tokens.Spec, info media.Info, w, h int) string {
	limit := spec.ImageBase64MaxBytes
	fits := func(n float64) bool { return media.Base64Len(int(n)+64<<10, "image/jpeg") <= limit } // + headers, EXIF
	px := float64(w) * float64(h)
	asIs := info.Width == w && info.Height == h && info.Orientation <= 1 && !info.Animated &&
		(info.Format == "jpeg" || info.Format == "png")
	switch {
	case limit <= 0:
		return SendBase64
	case asIs && media.Base64Len(int(info.Bytes), info.MIME) <= limit:
		return SendBase64
	case fits(px * worstJPEGBytesPerPixel):
		return SendBase64
	case info.Format == "jpeg" && info.Width > 0 && info.Height > 0 &&
		fits(1.5*float64(info.Bytes)*px/(float64(info.Width)*float64(info.Height))):
		return SendBase64
	}
	return SendUpload
}

// failureProblem is the problem that fails a file: its first error that
// vision cannot fix itself, else its first error. Warnings never name the
// failure, wherever they come in ps (image.over_8k follows the
// image.decode_limit of a bomb). ok is false when ps holds no error.
func failureProblem(ps []media.Problem) (p media.Problem, ok bool) {
	for _, q := range ps {
		if q.Severity != media.SeverityError {
			continue
		}
		if !q.Fixable() {
			return q, true
		}
		if !ok {
			p, ok = q, true
		}
	}
	return p, ok
}

// fail marks the item failed before sending: at stage, with error class
// code, message msg and fix ("" when unknown).
func (it *runItem) fail(stage, code, msg, fix string) *runItem {
	it.action, it.stage, it.code, it.reason, it.fix = ActionFail, stage, code, msg, fix
	it.trans = ""
	return it
}

// buildPlan totals the items.
func buildPlan(items []*runItem, cfg Config, ro RunOptions, settings string) Plan {
	p := Plan{Inputs: len(items), CostKnown: true, Transports: map[string]int{}, Settings: settings,
		Prompt: cfg.Prompt, Preset: ro.Preset, Journal: ro.Journal, OutDir: ro.OutDir, Shard: ro.Shard.String(), DryRun: ro.DryRun}
	for _, it := range items {
		p.Items = append(p.Items, it.planItem())
		switch it.action {
		case ActionSkip:
			p.Skipped++
		case ActionFail:
			p.Failed++
		case ActionResume:
			p.Resumed++
		case ActionRebuild:
			p.Rebuild++
		case ActionSend:
			p.Send++
			p.Requests += it.reqs
			p.InputTokens += it.inTok
			p.OutputTokens += it.outTok
			p.Transports[it.trans]++
			switch {
			case it.cost == nil:
				p.CostKnown = false
			case p.Currency == "" || p.Currency == it.cur:
				p.Cost = tokens.RoundMoney(p.Cost + *it.cost) // as each cost is
				p.Currency = it.cur
			default:
				p.CostKnown = false // mixed currencies do not add up
			}
		}
	}
	return p
}

// checkBudget refuses a plan above maxCost (0: no cap).
func checkBudget(p Plan, maxCost float64) error {
	if maxCost <= 0 || p.Send == 0 {
		return nil
	}
	if !p.CostKnown {
		return fmt.Errorf("%w: the cost of some items is unknown (no price for this model and region; pass --prices FILE)", ErrOverBudget)
	}
	if p.Cost > maxCost {
		return fmt.Errorf("%w: estimated %.6g %s for %d requests, over the cap of %.6g", ErrOverBudget, p.Cost, p.Currency, p.Requests, maxCost)
	}
	return nil
}
