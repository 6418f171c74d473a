package dashscope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Message roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Request is one multimodal call, shared by the native and the
// OpenAI-compatible API.
type Request struct {
	Model      string
	Messages   []Message
	Parameters Parameters
}

// Message is one turn of the conversation.
type Message struct {
	Role    string
	Content []Content
	// Partial marks a final assistant message as a prefix for the model to
	// continue (partial mode), e.g. after a response came back Partial.
	Partial bool
}

// Content is one item of a message: text, one image, one video file, or a
// video given as a list of frames. Set at most one of Image, Video and
// Frames; with none set it is text. The pixel and frame fields apply to the
// item's media (min_pixels, max_pixels, total_pixels, max_frames, fps).
type Content struct {
	Text   string
	Image  *Media
	Video  *Media  // a video file: marshals as "video": "<url>"
	Frames []Media // a frame list: marshals as "video": ["<url>", …]

	MinPixels   int
	MaxPixels   int
	TotalPixels int     // video only: cap on all frames' pixels together
	MaxFrames   int     // video only; native API only (the compatible API ignores it)
	FPS         float64 // video: sampling rate of a file, or the real rate of a frame list
}

// Text is a text item.
func Text(s string) Content { return Content{Text: s} }

// Image is an image item.
func Image(m Media) Content { return Content{Image: &m} }

// Video is a video-file item.
func Video(m Media) Content { return Content{Video: &m} }

// Frames is a video given as frames sampled at fps frames per second.
func Frames(fps float64, frames ...Media) Content { return Content{Frames: frames, FPS: fps} }

type contentKind int

const (
	kindText contentKind = iota
	kindImage
	kindVideo
	kindFrames
)

func (ct *Content) kind() (contentKind, error) {
	k, n := kindText, 0
	if ct.Image != nil {
		k, n = kindImage, n+1
	}
	if ct.Video != nil {
		k, n = kindVideo, n+1
	}
	if ct.Frames != nil {
		k, n = kindFrames, n+1
		if len(ct.Frames) == 0 {
			return 0, errors.New("empty frame list")
		}
	}
	if n > 1 {
		return 0, errors.New("content item sets more than one of Image, Video and Frames")
	}
	if n == 1 && ct.Text != "" {
		return 0, errors.New("content item has both text and media; use separate items")
	}
	return k, nil
}

// Parameters are the generation settings. Zero values are left out of the
// request, so the model's defaults apply; pointer fields distinguish "unset"
// from a meaningful zero (see Ptr). Reference:
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope .
type Parameters struct {
	// ResultFormat is "message" unless set (native API only).
	ResultFormat string
	// VLHighResolutionImages raises the per-image pixel cap to 16,384 tokens
	// and ignores max_pixels.
	VLHighResolutionImages bool
	// VLEnableImageHWOutput asks for the scaled image size (Response.ImageHW).
	VLEnableImageHWOutput bool
	EnableThinking        *bool
	ThinkingBudget        int
	MaxTokens             int
	Temperature           *float64
	TopP                  *float64
	TopK                  *int
	Seed                  *int
	RepetitionPenalty     *float64
	PresencePenalty       *float64
	Stop                  []string
	ResponseFormat        *ResponseFormat
}

// ResponseFormat asks for JSON output: Type "json_object", or "json_schema"
// with JSONSchema holding {"name", "schema", "strict", …}.
type ResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// Ptr returns a pointer to v, for the optional Parameters fields.
func Ptr[T any](v T) *T { return &v }

// commonParams are the parameters both APIs spell the same way: inside
// "parameters" natively, at the top level in compatible mode.
type commonParams struct {
	VLHighResolutionImages bool            `json:"vl_high_resolution_images,omitempty"`
	VLEnableImageHWOutput  bool            `json:"vl_enable_image_hw_output,omitempty"`
	EnableThinking         *bool           `json:"enable_thinking,omitempty"`
	ThinkingBudget         int             `json:"thinking_budget,omitempty"`
	MaxTokens              int             `json:"max_tokens,omitempty"`
	Temperature            *float64        `json:"temperature,omitempty"`
	TopP                   *float64        `json:"top_p,omitempty"`
	TopK                   *int            `json:"top_k,omitempty"`
	Seed                   *int            `json:"seed,omitempty"`
	RepetitionPenalty      *float64        `json:"repetition_penalty,omitempty"`
	PresencePenalty        *float64        `json:"presence_penalty,omitempty"`
	Stop                   []string        `json:"stop,omitempty"`
	ResponseFormat         *ResponseFormat `json:"response_format,omitempty"`
}

func (p *Parameters) common() commonParams {
	return commonParams{
		VLHighResolutionImages: p.VLHighResolutionImages,
		VLEnableImageHWOutput:  p.VLEnableImageHWOutput,
		EnableThinking:         p.EnableThinking,
		ThinkingBudget:         p.ThinkingBudget,
		MaxTokens:              p.MaxTokens,
		Temperature:            p.Temperature,
		TopP:                   p.TopP,
		TopK:                   p.TopK,
		Seed:                   p.Seed,
		RepetitionPenalty:      p.RepetitionPenalty,
		PresencePenalty:        p.PresencePenalty,
		Stop:                   p.Stop,
		ResponseFormat:         p.ResponseFormat,
	}
}

// Response is the result of a call, streamed or not.
type Response struct {
	RequestID    string
	Model        string // compatible API only
	Text         string
	Reasoning    string // reasoning_content, when thinking is enabled
	FinishReason string // "stop", "length", …
	// ImageHW is image_hw as the service sent it (the scaled height and
	// width of input images) when VLEnableImageHWOutput was set.
	ImageHW json.RawMessage
	Usage   Usage
	// Partial is set when the response is incomplete: the service answered
	// with x-dashscope-partialresponse: true (a non-streaming call that hit
	// its 300 s limit; the text so far is returned and can be continued with
	// an assistant Message marked Partial), or a stream failed after some
	// output (then an error is returned too).
	Partial bool
}

// Usage is the token accounting of a call, in the native API's terms; the
// compatible API's prompt/completion fields are mapped onto it.
type Usage struct {
	InputTokens         int                 `json:"input_tokens"`
	OutputTokens        int                 `json:"output_tokens"`
	TotalTokens         int                 `json:"total_tokens"`
	ImageTokens         int                 `json:"image_tokens,omitempty"`
	VideoTokens         int                 `json:"video_tokens,omitempty"`
	CachedTokens        int                 `json:"cached_tokens,omitempty"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
}

// InputTokensDetails splits the input tokens by kind.
type InputTokensDetails struct {
	TextTokens  int `json:"text_tokens,omitempty"`
	ImageTokens int `json:"image_tokens,omitempty"`
	VideoTokens int `json:"video_tokens,omitempty"`
}

// OutputTokensDetails splits the output tokens.
type OutputTokensDetails struct {
	TextTokens      int `json:"text_tokens,omitempty"`
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
}

// normalize fills fields the service reported in only one place.
func (u *Usage) normalize() {
	if u.ImageTokens == 0 {
		u.ImageTokens = u.InputTokensDetails.ImageTokens
	}
	if u.InputTokensDetails.ImageTokens == 0 {
		u.InputTokensDetails.ImageTokens = u.ImageTokens
	}
	if u.VideoTokens == 0 {
		u.VideoTokens = u.InputTokensDetails.VideoTokens
	}
	if u.InputTokensDetails.VideoTokens == 0 {
		u.InputTokensDetails.VideoTokens = u.VideoTokens
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.InputTokens + u.OutputTokens
	}
}

// Delta is one increment of a streamed answer. Reasoning and Text are never
// both set.
type Delta struct {
	Reasoning string
	Text      string
}

// API selects the protocol.
type API string

// The two protocols.
const (
	Native API = "native" // /api/v1/services/aigc/multimodal-generation/generation
	OpenAI API = "openai" // /compatible-mode/v1/chat/completions
)

// ParseAPI accepts "native" or "openai".
func ParseAPI(s string) (API, error) {
	switch API(strings.ToLower(strings.TrimSpace(s))) {
	case Native:
		return Native, nil
	case OpenAI:
		return OpenAI, nil
	}
	return "", fmt.Errorf("dashscope: unknown API %s (want native or openai)", shown(s))
}

// Send runs req through the chosen API; with a non-nil onDelta it streams
// and calls onDelta for every increment. It is Generate, GenerateStream,
// ChatCompletion or ChatCompletionStream. References:
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope ,
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions .
func (c *Client) Send(ctx context.Context, api API, req *Request, onDelta func(Delta) error) (*Response, error) {
	switch api {
	case Native, "":
		return c.generate(ctx, req, onDelta)
	case OpenAI:
		return c.chatCompletion(ctx, req, onDelta)
	}
	return nil, fmt.Errorf("dashscope: unknown API %s", shown(string(api)))
}

// Generate calls native multimodal generation and returns the whole answer.
// A response marked x-dashscope-partialresponse: true (the service cut the
// call at its 300 s limit) is returned with Partial set, its text so far and
// its request ID, and a nil error, whatever its HTTP status; it is never
// retried (it has been billed). API reference:
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope .
func (c *Client) Generate(ctx context.Context, req *Request) (*Response, error) {
	return c.generate(ctx, req, nil)
}

// GenerateStream calls native multimodal generation with SSE
// (X-DashScope-SSE: enable, incremental_output: true) and calls onDelta with
// each increment, reasoning before answer, in order. It returns the
// assembled Response with the final usage. If onDelta returns an error the
// stream stops and that error is returned. If the stream fails after a delta
// was delivered, the partial Response (Partial set) is returned with the
// error and nothing is retried. Streaming reference:
// https://www.alibabacloud.com/help/en/model-studio/stream .
func (c *Client) GenerateStream(ctx context.Context, req *Request, onDelta func(Delta) error) (*Response, error) {
	if onDelta == nil {
		return nil, errors.New("dashscope: GenerateStream needs an onDelta callback")
	}
	return c.generate(ctx, req, onDelta)
}

// Wire types of the native API.
type nativeRequest struct {
	Model      string           `json:"model"`
	Input      nativeInput      `json:"input"`
	Parameters nativeParameters `json:"parameters"`
}

type nativeInput struct {
	Messages []nativeMessage `json:"messages"`
}

type nativeMessage struct {
	Role    string          `json:"role"`
	Content []nativeContent `json:"content"`
	Partial bool            `json:"partial,omitempty"`
}

type nativeContent struct {
	Text        *string `json:"text,omitempty"`
	Image       string  `json:"image,omitempty"`
	Video       any     `json:"video,omitempty"` // string or []string
	FPS         float64 `json:"fps,omitempty"`
	MaxFrames   int     `json:"max_frames,omitempty"`
	MinPixels   int     `json:"min_pixels,omitempty"`
	MaxPixels   int     `json:"max_pixels,omitempty"`
	TotalPixels int     `json:"total_pixels,omitempty"`
}

type nativeParameters struct {
	ResultFormat      string `json:"result_format,omitempty"`
	IncrementalOutput bool   `json:"incremental_output,omitempty"`
	commonParams
}

func checkRequest(req *Request) error {
	switch {
	case req == nil:
		return errors.New("dashscope: nil request")
	case strings.TrimSpace(req.Model) == "":
		return errors.New("dashscope: request has no model")
	case len(req.Messages) == 0:
		return errors.New("dashscope: request has no messages")
	}
	return nil
}

// buildNative renders req as a native request body.
func buildNative(req *Request, stream bool) (*body, bool, error) {
	if err := checkRequest(req); err != nil {
		return nil, false, err
	}
	t := newMediaTable()
	w := nativeRequest{Model: req.Model}
	for i, m := range req.Messages {
		nm := nativeMessage{Role: m.Role, Partial: m.Partial, Content: make([]nativeContent, 0, len(m.Content))}
		for j := range m.Content {
			nc, err := nativeItem(&m.Content[j], t)
			if err != nil {
				return nil, false, fmt.Errorf("dashscope: message %d, content %d: %w", i, j, err)
			}
			nm.Content = append(nm.Content, nc)
		}
		w.Input.Messages = append(w.Input.Messages, nm)
	}
	w.Parameters = nativeParameters{ResultFormat: req.Parameters.ResultFormat, commonParams: req.Parameters.common()}
	if w.Parameters.ResultFormat == "" {
		w.Parameters.ResultFormat = "message"
	}
	w.Parameters.IncrementalOutput = stream
	return finishBody(t, w)
}

func finishBody(t *mediaTable, w any) (*body, bool, error) {
	skel, err := marshalSkeleton(w)
	if err != nil {
		return nil, false, fmt.Errorf("dashscope: encode request: %w", err)
	}
	b, err := t.body(skel)
	if err != nil {
		return nil, false, fmt.Errorf("dashscope: encode request: %w", err)
	}
	return b, t.oss, nil
}

func nativeItem(ct *Content, t *mediaTable) (nativeContent, error) {
	k, err := ct.kind()
	if err != nil {
		return nativeContent{}, err
	}
	nc := nativeContent{MinPixels: ct.MinPixels, MaxPixels: ct.MaxPixels}
	switch k {
	case kindText:
		nc.Text = &ct.Text
		nc.MinPixels, nc.MaxPixels = 0, 0
	case kindImage:
		if nc.Image, err = t.ref(*ct.Image); err != nil {
			return nc, err
		}
	case kindVideo, kindFrames:
		nc.FPS, nc.MaxFrames, nc.TotalPixels = ct.FPS, ct.MaxFrames, ct.TotalPixels
		if k == kindVideo {
			if nc.Video, err = t.ref(*ct.Video); err != nil {
				return nc, err
			}
			break
		}
		frames := make([]string, len(ct.Frames))
		for i, f := range ct.Frames {
			if frames[i], err = t.ref(f); err != nil {
				return nc, fmt.Errorf("frame %d: %w", i, err)
			}
		}
		nc.Video = frames
	}
	return nc, nil
}

// jsonHeader returns the headers of a JSON POST.
func jsonHeader(stream, oss bool) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if oss {
		h.Set("X-DashScope-OssResourceResolve", "enable")
	}
	return h
}

func (c *Client) generate(ctx context.Context, req *Request, onDelta func(Delta) error) (*Response, error) {
	stream := onDelta != nil
	b, oss, err := buildNative(req, stream)
	if err != nil {
		return nil, err
	}
	h := jsonHeader(stream, oss)
	if stream {
		h.Set("X-DashScope-SSE", "enable")
	}
	var out *Response
	cl := &call{op: "generate", method: http.MethodPost, url: c.endpoint(pathGeneration), header: h, body: b, stream: stream, partial: true}
	cl.decode = func(resp *http.Response, r io.Reader, st *attemptState) error {
		out = &Response{Partial: isPartial(resp.Header)}
		if stream {
			ds := c.newDeltaStream(onDelta)
			return ds.finish(out, decodeNativeStream(resp, r, st, out, ds))
		}
		return decodeNative(resp, r, out)
	}
	return c.answer(out, stream, c.do(ctx, cl))
}

// answer finishes a generation call. A stream that failed after some
// output returns it, marked Partial, with the error. Secrets are scrubbed
// from answers too (streamed ones as they arrive, see deltaStream): a
// server (or a model reading a document) may echo the key, and answers end
// up in terminals and results files. So are the other strings the server
// chose, and the error (see sanitize).
func (c *Client) answer(out *Response, stream bool, err error) (*Response, error) {
	if out != nil {
		if !stream {
			out.Text, out.Reasoning = c.scrubAnswer(out.Text), c.scrubAnswer(out.Reasoning)
		}
		out.RequestID, out.Model, out.FinishReason = c.redactText(out.RequestID), c.redactText(out.Model), c.redactText(out.FinishReason)
		if len(out.ImageHW) > 0 {
			out.ImageHW = json.RawMessage(c.Redact(string(out.ImageHW)))
		}
	}
	if err != nil {
		err = c.sanitize(err)
		if out != nil && stream && (out.Text != "" || out.Reasoning != "") {
			out.Partial = true
			return out, err
		}
		return nil, err
	}
	return out, nil
}

func isPartial(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get("X-Dashscope-Partialresponse")), "true")
}

// nativeResponse is a native response body or stream chunk.
type nativeResponse struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Output    struct {
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Choices      []struct {
			FinishReason *string `json:"finish_reason"`
			Message      struct {
				Content          json.RawMessage `json:"content"`
				ReasoningContent string          `json:"reasoning_content"`
			} `json:"message"`
		} `json:"choices"`
	} `json:"output"`
	Usage *nativeUsage `json:"usage"`
}

type nativeUsage struct {
	Usage
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u *nativeUsage) usage() Usage {
	out := u.Usage
	if out.CachedTokens == 0 {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	out.normalize()
	return out
}

// parts extracts text, reasoning, finish reason and image_hw from a chunk.
func (r *nativeResponse) parts() (text, reasoning, finish string, imageHW json.RawMessage, err error) {
	if r.Output.Text != nil {
		text = *r.Output.Text
	}
	if r.Output.FinishReason != nil {
		finish = *r.Output.FinishReason
	}
	if len(r.Output.Choices) > 0 {
		ch := r.Output.Choices[0]
		var t string
		t, imageHW, err = contentText(ch.Message.Content)
		text += t
		reasoning = ch.Message.ReasoningContent
		if ch.FinishReason != nil {
			finish = *ch.FinishReason
		}
	}
	if finish == "null" {
		finish = ""
	}
	return text, reasoning, finish, imageHW, err
}

// contentText reads message content that is a string or an array of
// {"text"} / {"image_hw"} items.
func contentText(raw json.RawMessage) (string, json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, nil, err
	}
	var items []struct {
		Text    string          `json:"text"`
		ImageHW json.RawMessage `json:"image_hw"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return "", nil, err
	}
	var text strings.Builder
	var hw json.RawMessage
	for _, it := range items {
		text.WriteString(it.Text)
		if len(it.ImageHW) > 0 && string(it.ImageHW) != "null" {
			hw = it.ImageHW
		}
	}
	return text.String(), hw, nil
}

func decodeNative(resp *http.Response, r io.Reader, out *Response) error {
	var w nativeResponse
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return &decodeError{err}
	}
	text, reasoning, finish, hw, err := w.parts()
	if err != nil {
		return &decodeError{err}
	}
	// A partial response may carry the error code of the time limit beside
	// the text so far; the text is what matters then.
	if w.Code != "" && !(out.Partial && (text != "" || reasoning != "")) {
		rid := w.RequestID
		if rid == "" {
			rid = headerRequestID(resp.Header)
		}
		return &APIError{StatusCode: resp.StatusCode, Code: w.Code, Message: w.Message, RequestID: rid}
	}
	out.RequestID, out.Text, out.Reasoning, out.FinishReason, out.ImageHW = w.RequestID, text, reasoning, finish, hw
	if out.RequestID == "" {
		out.RequestID = headerRequestID(resp.Header)
	}
	if w.Usage != nil {
		out.Usage = w.Usage.usage()
	}
	return nil
}
