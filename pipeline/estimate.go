package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// Statuses of a result record.
const (
	StatusOK      = "ok"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Estimate is what one file will cost, from its headers alone. It is one
// JSON line of `vision estimate --json` (DESIGN.md CLI contract).
type Estimate struct {
	Path          string          `json:"path"`
	Status        string          `json:"status"`
	Kind          media.Kind      `json:"kind"`
	Format        string          `json:"format"`
	Width         int             `json:"width"`
	Height        int             `json:"height"`
	Bytes         int64           `json:"bytes"`
	ResizedWidth  int             `json:"resized_width"`
	ResizedHeight int             `json:"resized_height"`
	Frames        int             `json:"frames"`
	SampleFPS     float64         `json:"sample_fps,omitempty"`
	DurationS     float64         `json:"duration_s,omitempty"`
	DurationFrom  string          `json:"duration_source,omitempty"` // "packets" or "stream_tag" when the container states none
	SourceFPS     float64         `json:"source_fps,omitempty"`
	SourceFrames  int             `json:"source_frames,omitempty"`    // frames in the video
	FramesEst     bool            `json:"frames_estimated,omitempty"` // SourceFrames derived from duration × fps
	VFR           bool            `json:"vfr,omitempty"`              // variable frame rate
	Rotation      int             `json:"rotation,omitempty"`         // degrees clockwise to display upright
	Codec         string          `json:"codec,omitempty"`
	Tokens        int             `json:"tokens"`       // visual tokens (image_tokens / video_tokens)
	InputTokens   int             `json:"input_tokens"` // visual + markers + prompt
	PromptTokens  int             `json:"prompt_tokens,omitempty"`
	PromptApprox  bool            `json:"prompt_tokens_approximate,omitempty"` // PromptTokens is an estimate
	OutputTokens  int             `json:"output_tokens,omitempty"`
	Cost          *float64        `json:"cost"` // null when no price is known
	Currency      string          `json:"currency,omitempty"`
	CostLower     bool            `json:"cost_lower_bound,omitempty"` // Cost is only a lower bound (CostNote says why)
	CostNote      string          `json:"cost_note,omitempty"`        // why the cost is a lower bound, unknown or borrowed
	PricedAs      string          `json:"priced_as,omitempty"`        // the price row's model name
	FrameList     *FrameList      `json:"frame_list,omitempty"`
	Problems      []media.Problem `json:"problems"`
	Reason        string          `json:"reason,omitempty"` // why skipped
	Error         string          `json:"error,omitempty"`  // why failed
	Stage         string          `json:"stage,omitempty"`  // where it failed

	Info  media.Info        `json:"-"`
	Image *tokens.ImagePlan `json:"-"`
	Video *tokens.FramePlan `json:"-"`
	In    Input             `json:"-"`

	// HeaderFrames is the header's frame count when ExactVideo re-planned
	// from a different exact count (0 otherwise).
	HeaderFrames int `json:"-"`
}

// FrameList is a video estimated as the list of frames vision sends.
type FrameList struct {
	Frames      int      `json:"frames"`
	Width       int      `json:"width"`
	Height      int      `json:"height"`
	SampleFPS   float64  `json:"sample_fps"` // declared: the plan's clamped into [0.1, 10] (tokens.Spec.ListFPS)
	Tokens      int      `json:"tokens"`
	InputTokens int      `json:"input_tokens"` // with the prompt, like Estimate.InputTokens
	Cost        *float64 `json:"cost"`         // null when no price is known
	Currency    string   `json:"currency,omitempty"`
	CostLower   bool     `json:"cost_lower_bound,omitempty"`
	CostNote    string   `json:"cost_note,omitempty"`
}

// Summary totals an estimate run.
type Summary struct {
	Files          int            `json:"files"`
	OK             int            `json:"ok"`
	Skipped        int            `json:"skipped"`
	Failed         int            `json:"failed"`
	Images         int            `json:"images"`
	Videos         int            `json:"videos"`
	Tokens         int            `json:"tokens"`
	InputTokens    int            `json:"input_tokens"`
	OutputTokens   int            `json:"output_tokens"`
	Cost           float64        `json:"cost"`
	Currency       string         `json:"currency,omitempty"`
	CostComplete   bool           `json:"cost_complete"`        // false when some file had no known price or only a lower bound
	CostNotes      map[string]int `json:"cost_notes,omitempty"` // each cost note and how many files have it
	PromptApprox   bool           `json:"prompt_tokens_approximate,omitempty"`
	Problems       int            `json:"problems"` // errors (and warnings with Strict)
	Warnings       int            `json:"warnings"`
	ProblemsByCode map[string]int `json:"problems_by_code"`
}

// add counts one estimate into the totals.
func (s *Summary) add(e Estimate, strict bool) {
	s.Files++
	switch e.Status {
	case StatusOK:
		s.OK++
	case StatusSkipped:
		s.Skipped++
	case StatusFailed:
		s.Failed++
	}
	switch e.Kind {
	case media.KindImage:
		s.Images++
	case media.KindVideo:
		s.Videos++
	}
	if e.Status == StatusOK {
		s.Tokens += e.Tokens
		s.InputTokens += e.InputTokens
		s.OutputTokens += e.OutputTokens
		if e.CostNote != "" {
			if s.CostNotes == nil {
				s.CostNotes = map[string]int{}
			}
			s.CostNotes[e.CostNote]++
		}
		if e.CostLower {
			s.CostComplete = false
		}
		if e.Cost != nil {
			s.Cost = tokens.RoundMoney(s.Cost + *e.Cost) // as each cost is: no 0.0005030000000000004
			if s.Currency == "" {
				s.Currency = e.Currency
			} else if s.Currency != e.Currency {
				s.CostComplete = false
			}
		} else {
			s.CostComplete = false
		}
	}
	if e.PromptTokens > 0 {
		s.PromptApprox = true
	}
	for _, p := range e.Problems {
		if s.ProblemsByCode == nil {
			s.ProblemsByCode = map[string]int{}
		}
		s.ProblemsByCode[p.Code]++
		if p.Severity == media.SeverityError || strict {
			s.Problems++
		} else {
			s.Warnings++
		}
	}
}

// MarshalJSON writes ProblemsByCode as {} rather than null when no file
// has a problem, so readers can index it without a null check, and cost
// as null when files were to be paid for but none had a known price
// (unknown, never zero).
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary // without this method
	if s.ProblemsByCode == nil {
		s.ProblemsByCode = map[string]int{}
	}
	if s.Currency != "" || s.CostComplete {
		return json.Marshal(plain(s))
	}
	return json.Marshal(struct {
		plain
		Cost *float64 `json:"cost"` // shadows plain's
	}{plain: plain(s)})
}

// Codes lists problem codes in a stable order, most frequent first.
func (s Summary) Codes() []string {
	codes := make([]string, 0, len(s.ProblemsByCode))
	for c := range s.ProblemsByCode {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		a, b := s.ProblemsByCode[codes[i]], s.ProblemsByCode[codes[j]]
		if a != b {
			return a > b
		}
		return codes[i] < codes[j]
	})
	return codes
}

// EstimateFiles expands args, probes every file from its headers, plans it
// for the model and calls emit with one Estimate per file, in input order.
// It never decodes pixels and never sends anything.
func EstimateFiles(ctx context.Context, cfg Config, args []string, emit func(Estimate) error) (Summary, error) {
	return EstimateInputsFromArgs(ctx, cfg, args, os.Stdin, emit)
}

// EstimateInputsFromArgs is EstimateFiles reading "-" paths from stdin.
func EstimateInputsFromArgs(ctx context.Context, cfg Config, args []string, stdin io.Reader, emit func(Estimate) error) (Summary, error) {
	inputs, err := Expand(ctx, args, stdin)
	if err != nil {
		return Summary{}, err
	}
	return EstimateInputs(ctx, cfg, inputs, emit)
}

// EstimateInputs is EstimateFiles for inputs already expanded.
func EstimateInputs(ctx context.Context, cfg Config, inputs []Input, emit func(Estimate) error) (Summary, error) {
	sum := Summary{CostComplete: true}
	prompt := PromptTokens(cfg.Prompt)
	err := forEachOrdered(ctx, len(inputs), cfg.probeWorkers(),
		func(ctx context.Context, i int) Estimate { return estimateOne(ctx, cfg, inputs[i], prompt) },
		func(e Estimate) error {
			sum.add(e, cfg.Strict)
			return emit(e)
		})
	return sum, err
}

// estimateOne probes and plans one input. Every outcome is a record; a
// record that is not ok carries no tokens and no cost (it will not be sent).
func estimateOne(ctx context.Context, cfg Config, in Input, promptTokens int) Estimate {
	e := estimateProbe(ctx, cfg, in, promptTokens, media.Probe)
	if e.Status != StatusOK {
		e.clearCost()
	}
	return e
}

// estimateScanned is estimateOne for an input about to be extracted: a
// video's packet scan runs beside its probe (media.ProbeScanned) and is
// kept for the exact plan and the extraction. Only for inputs handled
// soon, one or a few at a time: a scan holds a few bytes a frame.
func estimateScanned(ctx context.Context, cfg Config, in Input, promptTokens int) Estimate {
	e := estimateProbe(ctx, cfg, in, promptTokens, media.ProbeScanned)
	if e.Status != StatusOK {
		e.clearCost()
	}
	return e
}

func estimateProbe(ctx context.Context, cfg Config, in Input, promptTokens int, probe func(context.Context, string) (media.Info, error)) Estimate {
	e := Estimate{Path: in.Path, In: in, Status: StatusOK, Problems: []media.Problem{}}
	switch {
	case in.Err != nil && errors.Is(in.Err, errPattern):
		return failed(e, "walk", in.Err, "file.unreadable", "check the pattern and the folder it names; quote it so the shell passes it as it is")
	case in.Err != nil:
		return failed(e, "walk", in.Err, "file.unreadable", "check the path and its permissions")
	case in.Skip != "":
		e.Status, e.Kind, e.Reason = StatusSkipped, media.KindOther, in.Skip
		return e
	}
	info, err := probe(ctx, in.Path)
	e.Info, e.Kind, e.Format, e.Bytes = info, info.Kind, info.Format, info.Bytes
	if err != nil {
		return probeFailed(ctx, e, err)
	}
	e.Width, e.Height = info.Width, info.Height
	switch info.Kind {
	case media.KindImage:
		estimateImage(cfg, &e)
	case media.KindVideo:
		estimateVideo(cfg, &e)
	}
	if e.Status != StatusOK {
		return e
	}
	e.price(cfg, promptTokens)
	return e
}

// price adds the prompt and output tokens to a planned estimate and its
// cost, when the model's price is known.
func (e *Estimate) price(cfg Config, promptTokens int) {
	e.PromptTokens = promptTokens
	e.PromptApprox = promptTokens > 0
	e.InputTokens += promptTokens
	e.OutputTokens = cfg.OutputTokens
	var c tokens.Cost
	e.Cost, e.Currency, e.CostLower, c = cfg.cost(e.InputTokens, e.OutputTokens)
	e.CostNote, e.PricedAs = c.Note, c.PricedAs
	if fl := e.FrameList; fl != nil {
		fl.InputTokens += promptTokens
		fl.Cost, fl.Currency, fl.CostLower, c = cfg.cost(fl.InputTokens, e.OutputTokens)
		fl.CostNote = c.Note
	}
}

// cost prices one request of the given tokens: what it costs at least (nil
// when nothing is priced), whether that is only a lower bound (input above
// the highest known tier, or no output price), and the full tokens.Cost
// with its note.
func (c Config) cost(input, output int) (*float64, string, bool, tokens.Cost) {
	p := c.prices().Cost(c.Model, c.region(), input, output)
	amount, lower, ok := p.AtLeast()
	if !ok {
		return nil, "", false, p
	}
	return &amount, p.Currency, lower, p
}

// probeFailed turns a probe error into the record: skipped for files that
// are not media and do not claim to be, failed with a stable code and fix
// otherwise.
func probeFailed(ctx context.Context, e Estimate, err error) Estimate {
	switch {
	case errors.Is(err, media.ErrNotMedia):
		if p, ok := media.NotMediaProblem(e.Path, err); ok {
			return failedWith(e, "probe", err, p)
		}
		e.Status, e.Kind, e.Reason = StatusSkipped, media.KindOther, media.SkipReason(err)
		return e
	case ctx.Err() != nil:
		return failed(e, "probe", ctx.Err(), "run.interrupted", "run again")
	case errors.Is(err, media.ErrEmpty):
		return failed(e, "probe", err, "file.empty", "the file is empty: re-export or remove it")
	case e.Kind == media.KindVideo:
		p := media.VideoErrorProblem(e.Path, err)
		p.Message = trimPath(e.Path, p.Message)
		return failedWith(e, "probe", err, p)
	case errors.Is(err, media.ErrToolMissing):
		return failed(e, "probe", err, "tool.missing", media.ToolInstallHint)
	case errors.Is(err, media.ErrCorrupt):
		return failed(e, "probe", err, "file.corrupt", "the file is corrupt or truncated: re-export or re-download it")
	case errors.Is(err, media.ErrUnsupported):
		return failed(e, "probe", err, "file.unsupported", "convert it to JPEG or PNG (images) or MP4 (videos)")
	}
	return failed(e, "probe", err, "file.unreadable", "check the file and its permissions")
}

// imagePrepareProblem is the problem of an image that failed to prepare
// because of the file (corrupt data behind a good header, over the decode
// limit, undecodable, unsupported), with its fix; ok is false for other
// errors (an interruption, a full disk).
func imagePrepareProblem(path string, err error) (media.Problem, bool) {
	p := media.Problem{Severity: media.SeverityError, Path: path, Message: problemMessage(path, err)}
	switch {
	case errors.Is(err, media.ErrCorrupt):
		p.Code, p.Fix = "file.corrupt", "the file is corrupt or truncated: re-export or re-download it"
	case errors.Is(err, media.ErrTooManyPixels):
		p.Code, p.Fix = "image.decode_limit", "downscale it first, or raise --max-decode-pixels if it is trusted (about 4 bytes of memory a pixel)"
	case errors.Is(err, media.ErrCannotDecode):
		p.Code, p.Fix = "image.decode_unsupported", "convert it to JPEG or PNG first"
	case errors.Is(err, media.ErrUnsupported):
		p.Code, p.Fix = "file.unsupported", "convert it to JPEG or PNG"
	case errors.Is(err, media.ErrEmpty):
		p.Code, p.Fix = "file.empty", "the file is empty: re-export or remove it"
	default:
		return media.Problem{}, false
	}
	return p, true
}

// clearCost drops the tokens and cost of a record that will not be sent;
// the planned sizes stay, for the user.
func (e *Estimate) clearCost() {
	e.Tokens, e.InputTokens, e.PromptTokens, e.PromptApprox, e.OutputTokens = 0, 0, 0, false, 0
	e.Cost, e.Currency, e.FrameList = nil, "", nil
	e.CostLower, e.CostNote, e.PricedAs = false, "", ""
}

// fail marks the record failed at stage with msg, clearing its cost.
func (e *Estimate) fail(stage, msg string) {
	e.Status, e.Stage, e.Error = StatusFailed, stage, msg
	e.clearCost()
}

func estimateImage(cfg Config, e *Estimate) {
	e.Problems = append(e.Problems, media.ValidateImageLimit(e.Info, cfg.Spec, cfg.Image, cfg.transport(), cfg.MaxDecodePixels)...)
	p, err := tokens.PlanImage(e.Info.Width, e.Info.Height, cfg.Spec, cfg.Image)
	e.ResizedWidth, e.ResizedHeight = p.ResizedWidth, p.ResizedHeight // kept for a resized ratio over 200:1
	if err != nil {
		// ValidateImage already names the limit (ratio, zero side); the
		// item cannot be sent as it is.
		e.fail("plan", trimTokens(err))
		return
	}
	e.Image = &p
	e.Tokens, e.InputTokens = p.Tokens, p.InputTokens
	if media.HasErrors(e.Problems) && !fixable(e.Problems) {
		e.fail("validate", firstError(e.Problems))
	}
}

// firstError is the message of the error that fails a file
// (failureProblem).
func firstError(ps []media.Problem) string {
	p, _ := failureProblem(ps)
	return p.Message
}

func estimateVideo(cfg Config, e *Estimate) {
	info := e.Info
	e.DurationS, e.SourceFPS, e.SourceFrames, e.FramesEst = info.Duration, info.FPS, info.Frames, info.FramesEstimated
	e.VFR, e.Rotation, e.Codec = info.VFR, info.Rotation, info.Codec
	e.DurationFrom = info.DurationSource
	p, err := tokens.PlanVideo(tokens.VideoSource{Width: info.Width, Height: info.Height, Frames: info.Frames, FPS: info.FPS}, cfg.Spec, cfg.Video)
	var plan *tokens.FramePlan
	if err == nil {
		plan = &p
	}
	e.Problems = append(e.Problems, media.ValidateVideoWith(info, cfg.Spec, plan, cfg.transport(), cfg.Video)...)
	if err != nil {
		e.Problems = append(e.Problems, videoPlanProblem(cfg, e.Path, info, err))
		e.fail("plan", trimTokens(err))
		return
	}
	e.Video = plan
	e.Frames, e.SampleFPS = p.Frames, p.SampleFPS
	e.ResizedWidth, e.ResizedHeight, e.Tokens, e.InputTokens = p.ResizedWidth, p.ResizedHeight, p.Tokens, p.InputTokens
	// The frames vision extracts are already at the planned size; sent as a
	// list, the server re-plans them as an image list. The list is declared
	// at the fps the API accepts (video.sample_fps when that is not the
	// sampled one); its tokens do not depend on fps, so none is passed.
	fl, err := tokens.PlanImageList(p.ResizedWidth, p.ResizedHeight, p.Frames, cfg.Spec, tokens.VideoOptions{TotalPixels: cfg.Video.TotalPixels, MinPixels: cfg.Video.MinPixels, MaxPixels: cfg.Video.MaxPixels})
	if err == nil {
		e.FrameList = &FrameList{Frames: fl.Frames, Width: fl.ResizedWidth, Height: fl.ResizedHeight, SampleFPS: cfg.Spec.ListFPS(p.SampleFPS), Tokens: fl.Tokens, InputTokens: fl.InputTokens}
	}
	if media.HasErrors(e.Problems) && !fixable(e.Problems) {
		e.fail("validate", firstError(e.Problems))
	}
}

// fixable reports whether every error problem is one vision fixes itself
// (re-encoding, resizing, sending frames), so the file can still be sent.
func fixable(ps []media.Problem) bool {
	for _, p := range ps {
		if p.Severity == media.SeverityError && !p.Fixable() {
			return false
		}
	}
	return true
}

func failed(e Estimate, stage string, err error, code, fix string) Estimate {
	return failedWith(e, stage, err, media.Problem{Code: code, Severity: media.SeverityError, Path: e.Path, Message: problemMessage(e.Path, err), Fix: fix})
}

// failedWith marks e failed at stage with err, reporting problem p.
func failedWith(e Estimate, stage string, err error, p media.Problem) Estimate {
	e.Status, e.Stage, e.Error = StatusFailed, stage, err.Error()
	e.Problems = append(e.Problems, p)
	return e
}

// problemMessage is err's text for a problem line, which names the path
// itself: without the path (and "probe PATH:" wrappers) and the "media: "
// prefix of sentinels.
func problemMessage(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Sprintf("cannot %s it: %v", pe.Op, pe.Err)
	}
	return trimPath(path, err.Error())
}

// trimPath removes path (with its "probe PATH:" wrappers) and the "media: "
// prefix of sentinels from a message. A wrapper counts only at the start of
// the message or of one of its ": "-separated parts, never inside a longer
// path (ffprobe's "file:/abs/v/x.mp4: Invalid data" keeps its path whole).
func trimPath(path, s string) string {
	for _, op := range []string{"probe ", "decode ", "prepare ", ""} {
		w := op + path + ": "
		for from := 0; ; {
			i := strings.Index(s[from:], w)
			if i < 0 {
				break
			}
			i += from
			if i == 0 || strings.HasSuffix(s[:i], ": ") {
				s = s[:i] + s[i+len(w):]
				from = i
			} else {
				from = i + 1
			}
		}
	}
	return strings.ReplaceAll(s, "media: ", "")
}

func trimTokens(err error) string {
	s := err.Error()
	if len(s) > 8 && s[:8] == "tokens: " {
		return s[8:]
	}
	return s
}
