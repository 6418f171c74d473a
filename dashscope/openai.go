package dashscope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ChatCompletion calls the OpenAI-compatible chat completions endpoint with
// the same Request as Generate. Content becomes text, image_url, video_url
// and {"type":"video","video":[frames…]} parts with fps and pixel fields as
// siblings; DashScope's extras (enable_thinking, thinking_budget,
// vl_high_resolution_images) go at the top level. MaxFrames is not sent:
// compatible mode does not accept it. Usage is mapped onto the native
// fields. API reference:
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions .
func (c *Client) ChatCompletion(ctx context.Context, req *Request) (*Response, error) {
	return c.chatCompletion(ctx, req, nil)
}

// ChatCompletionStream is ChatCompletion with stream: true and
// stream_options.include_usage, calling onDelta for every increment; it
// behaves like GenerateStream. Reference:
// https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions .
func (c *Client) ChatCompletionStream(ctx context.Context, req *Request, onDelta func(Delta) error) (*Response, error) {
	if onDelta == nil {
		return nil, errors.New("dashscope: ChatCompletionStream needs an onDelta callback")
	}
	return c.chatCompletion(ctx, req, onDelta)
}

// Wire types of the compatible API.
type openaiRequest struct {
	Model         string               `json:"model"`
	Messages      []openaiMessage      `json:"messages"`
	Stream        bool                 `json:"stream,omitempty"`
	StreamOptions *openaiStreamOptions `json:"stream_options,omitempty"`
	commonParams
}

type openaiStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type openaiMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // string or []openaiPart
	Partial bool   `json:"partial,omitempty"`
}

type openaiPart struct {
	Type        string     `json:"type"`
	Text        *string    `json:"text,omitempty"`
	ImageURL    *openaiURL `json:"image_url,omitempty"`
	VideoURL    *openaiURL `json:"video_url,omitempty"`
	Video       []string   `json:"video,omitempty"`
	FPS         float64    `json:"fps,omitempty"`
	MinPixels   int        `json:"min_pixels,omitempty"`
	MaxPixels   int        `json:"max_pixels,omitempty"`
	TotalPixels int        `json:"total_pixels,omitempty"`
}

type openaiURL struct {
	URL string `json:"url"`
}

// buildOpenAI renders req as a compatible-mode request body. Messages that
// hold only text are sent with string content, the most widely accepted
// form; others as arrays of parts.
func buildOpenAI(req *Request, stream bool) (*body, bool, error) {
	if err := checkRequest(req); err != nil {
		return nil, false, err
	}
	t := newMediaTable()
	w := openaiRequest{Model: req.Model, commonParams: req.Parameters.common()}
	if stream {
		w.Stream = true
		w.StreamOptions = &openaiStreamOptions{IncludeUsage: true}
	}
	for i, m := range req.Messages {
		om := openaiMessage{Role: m.Role, Partial: m.Partial}
		if text, ok := onlyText(m.Content); ok && m.Role != RoleUser {
			om.Content = text
		} else {
			parts := make([]openaiPart, 0, len(m.Content))
			for j := range m.Content {
				p, err := openaiItem(&m.Content[j], t)
				if err != nil {
					return nil, false, fmt.Errorf("dashscope: message %d, content %d: %w", i, j, err)
				}
				parts = append(parts, p)
			}
			om.Content = parts
		}
		w.Messages = append(w.Messages, om)
	}
	return finishBody(t, w)
}

func onlyText(cs []Content) (string, bool) {
	var s string
	for i := range cs {
		if k, err := cs[i].kind(); err != nil || k != kindText {
			return "", false
		}
		s += cs[i].Text
	}
	return s, true
}

func openaiItem(ct *Content, t *mediaTable) (openaiPart, error) {
	k, err := ct.kind()
	if err != nil {
		return openaiPart{}, err
	}
	p := openaiPart{MinPixels: ct.MinPixels, MaxPixels: ct.MaxPixels}
	switch k {
	case kindText:
		p = openaiPart{Type: "text", Text: &ct.Text}
	case kindImage:
		p.Type, p.ImageURL = "image_url", &openaiURL{}
		if p.ImageURL.URL, err = t.ref(*ct.Image); err != nil {
			return p, err
		}
	case kindVideo:
		p.Type, p.VideoURL, p.FPS, p.TotalPixels = "video_url", &openaiURL{}, ct.FPS, ct.TotalPixels
		if p.VideoURL.URL, err = t.ref(*ct.Video); err != nil {
			return p, err
		}
	case kindFrames:
		p.Type, p.FPS, p.TotalPixels = "video", ct.FPS, ct.TotalPixels
		p.Video = make([]string, len(ct.Frames))
		for i, f := range ct.Frames {
			if p.Video[i], err = t.ref(f); err != nil {
				return p, fmt.Errorf("frame %d: %w", i, err)
			}
		}
	}
	return p, nil
}

func (c *Client) chatCompletion(ctx context.Context, req *Request, onDelta func(Delta) error) (*Response, error) {
	stream := onDelta != nil
	b, oss, err := buildOpenAI(req, stream)
	if err != nil {
		return nil, err
	}
	var out *Response
	cl := &call{op: "chat completion", method: http.MethodPost, url: c.endpoint(pathChat), header: jsonHeader(stream, oss), body: b, stream: stream, partial: true}
	cl.decode = func(resp *http.Response, r io.Reader, st *attemptState) error {
		out = &Response{Partial: isPartial(resp.Header)}
		if stream {
			ds := c.newDeltaStream(onDelta)
			return ds.finish(out, decodeOpenAIStream(resp, r, st, out, ds))
		}
		return decodeOpenAI(resp, r, out)
	}
	return c.answer(out, stream, c.do(ctx, cl))
}

// openaiResponse is a compatible-mode response body or stream chunk.
type openaiResponse struct {
	ID        string `json:"id"`
	RequestID string `json:"request_id"`
	Model     string `json:"model"`
	Choices   []struct {
		FinishReason *string       `json:"finish_reason"`
		Message      openaiContent `json:"message"`
		Delta        openaiContent `json:"delta"`
	} `json:"choices"`
	Usage *openaiUsage `json:"usage"`
	// Errors, in-stream or in a 200 body.
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Error   *openaiErrorObj `json:"error"`
}

type openaiContent struct {
	Content          json.RawMessage `json:"content"`
	ReasoningContent *string         `json:"reasoning_content"`
	ImageHW          json.RawMessage `json:"image_hw"`
}

type openaiUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		TextTokens   int `json:"text_tokens"`
		ImageTokens  int `json:"image_tokens"`
		VideoTokens  int `json:"video_tokens"`
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		TextTokens      int `json:"text_tokens"`
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *openaiUsage) usage() Usage {
	out := Usage{
		InputTokens:  u.PromptTokens,
		OutputTokens: u.CompletionTokens,
		TotalTokens:  u.TotalTokens,
		CachedTokens: u.PromptTokensDetails.CachedTokens,
		InputTokensDetails: InputTokensDetails{
			TextTokens:  u.PromptTokensDetails.TextTokens,
			ImageTokens: u.PromptTokensDetails.ImageTokens,
			VideoTokens: u.PromptTokensDetails.VideoTokens,
		},
		OutputTokensDetails: OutputTokensDetails{
			TextTokens:      u.CompletionTokensDetails.TextTokens,
			ReasoningTokens: u.CompletionTokensDetails.ReasoningTokens,
		},
	}
	out.normalize()
	return out
}

// apiError returns the error carried by a 2xx body or chunk, if any.
func (r *openaiResponse) apiError(status int) *APIError {
	b := errorBody{Code: r.Code, Message: r.Message, RequestID: r.RequestID, ID: r.ID, Error: r.Error}
	if e, ok := b.toAPIError(status); ok {
		return e
	}
	return nil
}

// hasOutput reports whether a response carries answer or reasoning text.
func (r *openaiResponse) hasOutput() bool {
	if len(r.Choices) == 0 {
		return false
	}
	m := r.Choices[0].Message
	text, _, _ := contentText(m.Content)
	return text != "" || (m.ReasoningContent != nil && *m.ReasoningContent != "")
}

func (r *openaiResponse) requestID(h http.Header) string {
	if r.RequestID != "" {
		return r.RequestID
	}
	if id := headerRequestID(h); id != "" {
		return id
	}
	return r.ID
}

func decodeOpenAI(resp *http.Response, r io.Reader, out *Response) error {
	var w openaiResponse
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return &decodeError{err}
	}
	if e := w.apiError(resp.StatusCode); e != nil && !(out.Partial && w.hasOutput()) {
		if e.RequestID == "" {
			e.RequestID = w.requestID(resp.Header)
		}
		return e
	}
	out.RequestID, out.Model = w.requestID(resp.Header), w.Model
	if len(w.Choices) > 0 {
		ch := w.Choices[0]
		text, hw, err := contentText(ch.Message.Content)
		if err != nil {
			return &decodeError{err}
		}
		out.Text, out.ImageHW = text, hw
		if len(ch.Message.ImageHW) > 0 && string(ch.Message.ImageHW) != "null" {
			out.ImageHW = ch.Message.ImageHW
		}
		if ch.Message.ReasoningContent != nil {
			out.Reasoning = *ch.Message.ReasoningContent
		}
		if ch.FinishReason != nil {
			out.FinishReason = *ch.FinishReason
		}
	}
	if w.Usage != nil {
		out.Usage = w.Usage.usage()
	}
	return nil
}
