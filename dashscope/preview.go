package dashscope

import (
	"fmt"
	"net/http"
)

// RequestPreview is a request as it would be sent, for dry runs: base64
// payloads are elided from Body and the key is redacted from Header.
type RequestPreview struct {
	Method        string
	URL           string
	Header        http.Header
	Body          []byte // JSON with "<N bytes of base64 elided>" in place of media
	ContentLength int64  // the exact size of the real body
}

// Preview renders req for api (streaming or not) without sending anything.
// See https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope
// and https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions
// for the two body shapes.
func (c *Client) Preview(api API, req *Request, stream bool) (*RequestPreview, error) {
	var (
		b    *body
		oss  bool
		err  error
		path string
	)
	switch api {
	case Native, "":
		b, oss, err = buildNative(req, stream)
		path = pathGeneration
	case OpenAI:
		b, oss, err = buildOpenAI(req, stream)
		path = pathChat
	default:
		return nil, fmt.Errorf("dashscope: unknown API %s", shown(string(api)))
	}
	if err != nil {
		return nil, err
	}
	h := jsonHeader(stream, oss)
	if stream && path == pathGeneration {
		h.Set("X-DashScope-SSE", "enable")
	}
	h.Set("Authorization", "Bearer "+RedactKey(c.apiKey))
	if c.userAgent != "" {
		h.Set("User-Agent", c.userAgent)
	}
	if c.workspace != "" {
		h.Set("X-DashScope-WorkSpace", c.workspace)
	}
	return &RequestPreview{Method: http.MethodPost, URL: c.endpoint(path), Header: h, Body: b.preview(), ContentLength: b.size}, nil
}
