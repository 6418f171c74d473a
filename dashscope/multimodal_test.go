package dashscope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// fullRequest uses every kind of content and most parameters.
func fullRequest(jpeg, png, mp4 []byte) *Request {
	return &Request{
		Model: "qwen3-vl-plus",
		Messages: []Message{
			{Role: RoleSystem, Content: []Content{Text("be brief")}},
			{Role: RoleUser, Content: []Content{
				{Image: &Media{MIME: "image/jpeg", Data: jpeg}, MinPixels: 65536, MaxPixels: 2621440},
				Image(MediaURL("https://example.com/a.png")),
				{Video: &Media{MIME: "video/mp4", ReaderAt: bytes.NewReader(mp4), Size: int64(len(mp4))}, FPS: 2, MaxFrames: 100, TotalPixels: 134217728},
				Frames(0.5, MediaBytes("image/png", png), MediaURL("oss://dashscope-instant/x/f2.jpg"), MediaURL("https://example.com/f3.jpg"), MediaBytes("image/jpeg", jpeg)),
				Text(`what "is" <this>?`),
			}},
		},
		Parameters: Parameters{
			VLHighResolutionImages: true,
			VLEnableImageHWOutput:  true,
			EnableThinking:         Ptr(true),
			ThinkingBudget:         500,
			MaxTokens:              100,
			Temperature:            Ptr(0.0),
			TopP:                   Ptr(0.8),
			TopK:                   Ptr(20),
			Seed:                   Ptr(0),
			ResponseFormat:         &ResponseFormat{Type: "json_object"},
		},
	}
}

func TestGenerateRequestAndResponse(t *testing.T) {
	c, mux, _ := setup(t)
	jpeg, png, mp4 := fakeJPEG(3001, 1), fakePNG(1000), fakeMP4(2000)
	var calls atomic.Int32
	mux.HandleFunc("/api/v1/services/aigc/multimodal-generation/generation", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body := wantRequest(t, r, "/api/v1/services/aigc/multimodal-generation/generation")
		if got := r.Header.Get("X-DashScope-OssResourceResolve"); got != "enable" {
			t.Errorf("X-DashScope-OssResourceResolve = %q, want enable (an oss:// frame is present)", got)
		}
		if got := r.Header.Get("X-DashScope-SSE"); got != "" {
			t.Errorf("X-DashScope-SSE = %q on a non-streaming call", got)
		}
		if got := r.Header.Get("User-Agent"); got != DefaultUserAgent {
			t.Errorf("User-Agent = %q", got)
		}
		want := `{
		  "model": "qwen3-vl-plus",
		  "input": {"messages": [
		    {"role": "system", "content": [{"text": "be brief"}]},
		    {"role": "user", "content": [
		      {"image": "` + dataURL("image/jpeg", jpeg) + `", "min_pixels": 65536, "max_pixels": 2621440},
		      {"image": "https://example.com/a.png"},
		      {"video": "` + dataURL("video/mp4", mp4) + `", "fps": 2, "max_frames": 100, "total_pixels": 134217728},
		      {"video": ["` + dataURL("image/png", png) + `", "oss://dashscope-instant/x/f2.jpg", "https://example.com/f3.jpg", "` + dataURL("image/jpeg", jpeg) + `"], "fps": 0.5},
		      {"text": "what \"is\" <this>?"}
		    ]}
		  ]},
		  "parameters": {
		    "result_format": "message",
		    "vl_high_resolution_images": true,
		    "vl_enable_image_hw_output": true,
		    "enable_thinking": true,
		    "thinking_budget": 500,
		    "max_tokens": 100,
		    "temperature": 0,
		    "top_p": 0.8,
		    "top_k": 20,
		    "seed": 0,
		    "response_format": {"type": "json_object"}
		  }
		}`
		jsonEqual(t, body, want)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status_code":200,"request_id":"req-1","code":"","message":"","output":{"text":null,"finish_reason":null,
		  "choices":[{"finish_reason":"stop","message":{"role":"assistant","reasoning_content":"thinking…",
		    "content":[{"image_hw":[[448,672]]},{"text":"A dog"},{"text":" on a beach."}]}}]},
		  "usage":{"input_tokens":1200,"output_tokens":30,"image_tokens":800,"video_tokens":300,
		    "input_tokens_details":{"text_tokens":100,"image_tokens":800,"video_tokens":300},
		    "output_tokens_details":{"text_tokens":10,"reasoning_tokens":20},
		    "prompt_tokens_details":{"cached_tokens":64}}}`))
	})
	resp, err := c.Generate(context.Background(), fullRequest(jpeg, png, mp4))
	if err != nil {
		t.Fatal(err)
	}
	want := &Response{
		RequestID: "req-1", Text: "A dog on a beach.", Reasoning: "thinking…", FinishReason: "stop",
		ImageHW: json.RawMessage(`[[448,672]]`),
		Usage: Usage{InputTokens: 1200, OutputTokens: 30, TotalTokens: 1230, ImageTokens: 800, VideoTokens: 300, CachedTokens: 64,
			InputTokensDetails:  InputTokensDetails{TextTokens: 100, ImageTokens: 800, VideoTokens: 300},
			OutputTokensDetails: OutputTokensDetails{TextTokens: 10, ReasoningTokens: 20}},
	}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response\n got %+v\nwant %+v", resp, want)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestGenerateHeadersWithoutOSS(t *testing.T) {
	c, mux, _ := setup(t, WithWorkspace("ws-1"), WithUserAgent("vision/test"))
	mux.HandleFunc("/api/v1/services/aigc/multimodal-generation/generation", func(w http.ResponseWriter, r *http.Request) {
		body := wantRequest(t, r, "/api/v1/services/aigc/multimodal-generation/generation")
		if _, ok := r.Header["X-Dashscope-Ossresourceresolve"]; ok {
			t.Error("OSS resolve header sent without any oss:// URL")
		}
		if r.Header.Get("X-DashScope-WorkSpace") != "ws-1" || r.Header.Get("User-Agent") != "vision/test" {
			t.Errorf("headers %v", r.Header)
		}
		jsonEqual(t, body, `{"model":"m","input":{"messages":[{"role":"user","content":[{"text":"hi"}]}]},"parameters":{"result_format":"message"}}`)
		w.Write([]byte(okNative))
	})
	resp, err := c.Generate(context.Background(), textRequest("m"))
	if err != nil || resp.Text != "fine" || resp.Usage.TotalTokens != 4 {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestGenerateStream(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/services/aigc/multimodal-generation/generation", func(w http.ResponseWriter, r *http.Request) {
		body := wantRequest(t, r, "/api/v1/services/aigc/multimodal-generation/generation")
		if r.Header.Get("X-DashScope-SSE") != "enable" || r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("stream headers: %v", r.Header)
		}
		params := body["parameters"].(map[string]any)
		if params["incremental_output"] != true {
			t.Errorf("incremental_output = %v", params["incremental_output"])
		}
		chunk := func(id int, reasoning, text, finish string, usage string) string {
			content := `[]`
			if text != "" {
				content = `[{"text":` + quote(text) + `}]`
			}
			fr := `"null"`
			if finish != "" {
				fr = quote(finish)
			}
			u := `{"input_tokens":10,"output_tokens":` + itoa(id) + `}`
			if usage != "" {
				u = usage
			}
			return "id:" + itoa(id) + "\nevent:result\n:HTTP_STATUS/200\ndata:" +
				`{"output":{"choices":[{"message":{"content":` + content + `,"reasoning_content":` + quote(reasoning) + `,"role":"assistant"},"finish_reason":` + fr + `}]},"usage":` + u + `,"request_id":"sse-1"}` + "\n\n"
		}
		writeSSE(w,
			chunk(1, "Let me", "", "", ""),
			chunk(2, " think.", "", "", ""),
			chunk(3, "", "", "", ""), // empty: no delta
			chunk(4, "", "The answer", "", ""),
			chunk(5, "", " is 4.", "stop", `{"input_tokens":10,"output_tokens":7,"image_tokens":5,"output_tokens_details":{"reasoning_tokens":3}}`),
		)
	})
	var deltas []Delta
	resp, err := c.GenerateStream(context.Background(), textRequest("qwen3-vl-plus"), func(d Delta) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDeltas := []Delta{{Reasoning: "Let me"}, {Reasoning: " think."}, {Text: "The answer"}, {Text: " is 4."}}
	if !reflect.DeepEqual(deltas, wantDeltas) {
		t.Errorf("deltas %q, want %q", deltas, wantDeltas)
	}
	if resp.Text != "The answer is 4." || resp.Reasoning != "Let me think." || resp.FinishReason != "stop" || resp.RequestID != "sse-1" {
		t.Errorf("response %+v", resp)
	}
	if u := resp.Usage; u.OutputTokens != 7 || u.TotalTokens != 17 || u.ImageTokens != 5 || u.InputTokensDetails.ImageTokens != 5 || u.OutputTokensDetails.ReasoningTokens != 3 {
		t.Errorf("usage %+v", u)
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestContentValidation(t *testing.T) {
	c, _, _ := setup(t)
	bad := []Content{
		{Text: "x", Image: &Media{URL: "https://a"}},
		{Image: &Media{URL: "https://a"}, Video: &Media{URL: "https://b"}},
		{Frames: []Media{}},
		{Image: &Media{URL: "https://a", Data: []byte{1}}},
		{Image: &Media{MIME: "image/jpeg"}},
		{Image: &Media{MIME: `image/jpeg";x`, Data: []byte{1}}},
		{Image: &Media{MIME: "image/jpeg", Data: []byte{}}},
		{Frames: []Media{{}}},
	}
	for i, ct := range bad {
		req := &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: []Content{ct}}}}
		if _, err := c.Generate(context.Background(), req); err == nil || !strings.Contains(err.Error(), "content 0") {
			t.Errorf("case %d: err = %v, want a content error", i, err)
		}
	}
	for _, req := range []*Request{nil, {Messages: []Message{{}}}, {Model: "m"}} {
		if _, err := c.Generate(context.Background(), req); err == nil {
			t.Errorf("request %+v accepted", req)
		}
	}
}

func TestPartialResponseHeader(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/services/aigc/multimodal-generation/generation", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-dashscope-partialresponse", "true")
		w.Write([]byte(`{"request_id":"p1","output":{"choices":[{"finish_reason":"length","message":{"content":[{"text":"half an ans"}]}}]},"usage":{"input_tokens":5,"output_tokens":9}}`))
	})
	resp, err := c.Generate(context.Background(), textRequest("m"))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Partial || resp.Text != "half an ans" {
		t.Errorf("response %+v, want Partial with the text so far", resp)
	}
}

// TestPartialResponseOnErrorStatus: a partial answer that arrives with a
// non-2xx status is neither retried nor lost: the text so far and the
// request ID come back, for both APIs.
func TestPartialResponseOnErrorStatus(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-DashScope-PartialResponse", "true")
		w.WriteHeader(http.StatusGatewayTimeout)
		io.WriteString(w, `{"request_id":"p504","output":{"choices":[{"finish_reason":"length","message":{"content":[{"text":"half an ans"}]}}]},"usage":{"input_tokens":5,"output_tokens":9}}`)
	})
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-DashScope-PartialResponse", "true")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"id":"chat-p","request_id":"p500","choices":[{"finish_reason":"length","message":{"role":"assistant","content":"half"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
	})
	for _, tt := range []struct {
		api      API
		text, id string
	}{{Native, "half an ans", "p504"}, {OpenAI, "half", "p500"}} {
		calls.Store(0)
		resp, err := c.Send(context.Background(), tt.api, textRequest("m"), nil)
		if err != nil || calls.Load() != 1 {
			t.Fatalf("%s: err %v, calls %d (a billed partial answer was retried or dropped)", tt.api, err, calls.Load())
		}
		if !resp.Partial || resp.Text != tt.text || resp.RequestID != tt.id || resp.Usage.OutputTokens == 0 {
			t.Errorf("%s: response %+v", tt.api, resp)
		}
	}
	// A partial mark on a body without an answer is an error marked
	// partial, with the body's code and request ID, not retried.
	c2, mux2, _ := setup(t)
	calls.Store(0)
	mux2.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-DashScope-PartialResponse", "true")
		w.WriteHeader(http.StatusGatewayTimeout)
		io.WriteString(w, `{"code":"RequestTimeOut","message":"cut","request_id":"p0"}`)
	})
	_, err := c2.Generate(context.Background(), textRequest("m"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Partial || apiErr.Code != "RequestTimeOut" || apiErr.RequestID != "p0" || calls.Load() != 1 {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
}

func TestSendPicksAPI(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/v1/services/aigc/multimodal-generation/generation", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(okNative))
	})
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"chatcmpl-1","choices":[{"message":{"content":"compat"},"finish_reason":"stop"}]}`))
	})
	for api, want := range map[API]string{Native: "fine", OpenAI: "compat"} {
		resp, err := c.Send(context.Background(), api, textRequest("m"), nil)
		if err != nil || resp.Text != want {
			t.Errorf("%s: %+v %v", api, resp, err)
		}
	}
	if _, err := ParseAPI("grpc"); err == nil {
		t.Error("ParseAPI accepted grpc")
	}
}
