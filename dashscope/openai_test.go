package dashscope

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

func TestChatCompletionRequestAndResponse(t *testing.T) {
	c, mux, _ := setup(t)
	jpeg, png, mp4 := fakeJPEG(2000, 3), fakePNG(700), fakeMP4(1500)
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		body := wantRequest(t, r, "/compatible-mode/v1/chat/completions")
		if got := r.Header.Get("X-DashScope-OssResourceResolve"); got != "enable" {
			t.Errorf("X-DashScope-OssResourceResolve = %q", got)
		}
		want := `{
		  "model": "qwen3-vl-plus",
		  "messages": [
		    {"role": "system", "content": "be brief"},
		    {"role": "user", "content": [
		      {"type": "image_url", "image_url": {"url": "` + dataURL("image/jpeg", jpeg) + `"}, "min_pixels": 65536, "max_pixels": 2621440},
		      {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
		      {"type": "video_url", "video_url": {"url": "` + dataURL("video/mp4", mp4) + `"}, "fps": 2, "total_pixels": 134217728},
		      {"type": "video", "video": ["` + dataURL("image/png", png) + `", "oss://dashscope-instant/x/f2.jpg", "https://example.com/f3.jpg", "` + dataURL("image/jpeg", jpeg) + `"], "fps": 0.5},
		      {"type": "text", "text": "what \"is\" <this>?"}
		    ]}
		  ],
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
		}`
		jsonEqual(t, body, want)
		w.Header().Set("X-Request-Id", "hdr-req")
		w.Write([]byte(`{"id":"chatcmpl-9","object":"chat.completion","model":"qwen3-vl-plus",
		  "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"A dog.","reasoning_content":"hmm"}}],
		  "usage":{"prompt_tokens":1270,"completion_tokens":54,"total_tokens":1324,
		    "prompt_tokens_details":{"text_tokens":20,"image_tokens":1250,"cached_tokens":8},
		    "completion_tokens_details":{"reasoning_tokens":12}}}`))
	})
	resp, err := c.ChatCompletion(context.Background(), fullRequest(jpeg, png, mp4))
	if err != nil {
		t.Fatal(err)
	}
	want := &Response{RequestID: "hdr-req", Model: "qwen3-vl-plus", Text: "A dog.", Reasoning: "hmm", FinishReason: "stop",
		Usage: Usage{InputTokens: 1270, OutputTokens: 54, TotalTokens: 1324, ImageTokens: 1250, CachedTokens: 8,
			InputTokensDetails:  InputTokensDetails{TextTokens: 20, ImageTokens: 1250},
			OutputTokensDetails: OutputTokensDetails{ReasoningTokens: 12}}}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response\n got %+v\nwant %+v", resp, want)
	}
}

func TestChatCompletionStream(t *testing.T) {
	c, mux, _ := setup(t)
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		body := wantRequest(t, r, "/compatible-mode/v1/chat/completions")
		if body["stream"] != true || !reflect.DeepEqual(body["stream_options"], map[string]any{"include_usage": true}) {
			t.Errorf("stream fields: %v %v", body["stream"], body["stream_options"])
		}
		if r.Header.Get("X-DashScope-SSE") != "" {
			t.Error("X-DashScope-SSE sent to the compatible endpoint")
		}
		writeSSE(w,
			`data: {"id":"chatcmpl-s","choices":[{"delta":{"role":"assistant","content":null,"reasoning_content":"Think"},"finish_reason":null}],"usage":null}`+"\n\n",
			`data: {"id":"chatcmpl-s","choices":[{"delta":{"content":null,"reasoning_content":"ing."},"finish_reason":null}]}`+"\n\n",
			`data: {"id":"chatcmpl-s","choices":[{"delta":{"content":"Hel","reasoning_content":null},"finish_reason":null}]}`+"\n\n",
			`data: {"id":"chatcmpl-s","choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}`+"\n\n",
			`data: {"id":"chatcmpl-s","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":6,"total_tokens":106,"prompt_tokens_details":{"image_tokens":90},"completion_tokens_details":{"reasoning_tokens":4}}}`+"\n\n",
			"data: [DONE]\n\n",
		)
	})
	var deltas []Delta
	resp, err := c.ChatCompletionStream(context.Background(), textRequest("m"), func(d Delta) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Delta{{Reasoning: "Think"}, {Reasoning: "ing."}, {Text: "Hel"}, {Text: "lo"}}; !reflect.DeepEqual(deltas, want) {
		t.Errorf("deltas %q", deltas)
	}
	if resp.Text != "Hello" || resp.Reasoning != "Thinking." || resp.FinishReason != "stop" || resp.RequestID != "chatcmpl-s" {
		t.Errorf("response %+v", resp)
	}
	if u := resp.Usage; u.InputTokens != 100 || u.OutputTokens != 6 || u.ImageTokens != 90 || u.OutputTokensDetails.ReasoningTokens != 4 {
		t.Errorf("usage %+v", u)
	}
}

func TestChatCompletionStreamErrorChunk(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(2))
	var calls atomic.Int32
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeSSE(w,
			`data: {"id":"chatcmpl-e","choices":[{"delta":{"content":"par"},"finish_reason":null}]}`+"\n\n",
			`data: {"error":{"message":"Output data may contain inappropriate content.","type":"data_inspection_failed","code":"data_inspection_failed"},"id":"chatcmpl-e"}`+"\n\n",
		)
	})
	var got string
	resp, err := c.ChatCompletionStream(context.Background(), textRequest("m"), func(d Delta) error { got += d.Text; return nil })
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if apiErr.Code != "data_inspection_failed" || apiErr.RequestID != "chatcmpl-e" || !apiErr.Partial {
		t.Errorf("APIError %+v", apiErr)
	}
	if apiErr.Class() != ClassContentModeration {
		t.Errorf("class %v", apiErr.Class())
	}
	if resp == nil || !resp.Partial || resp.Text != "par" || got != "par" {
		t.Errorf("partial response %+v (delivered %q)", resp, got)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d: a stream that delivered output must not be retried", calls.Load())
	}
}

// TestStreamTruncatedIsNotReplayed: a stream that ends without [DONE]
// answered the request, which may be billed: no replay unless opted in.
func TestStreamTruncatedIsNotReplayed(t *testing.T) {
	for _, optIn := range []bool{false, true} {
		c, mux, _ := setup(t, WithRetryAfterSentTimeout(optIn))
		var calls atomic.Int32
		mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				writeSSE(w, `data: {"id":"x","choices":[]}`+"\n\n") // ends without [DONE]
				return
			}
			writeSSE(w, `data: {"id":"x","choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
		})
		resp, err := c.ChatCompletionStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
		if optIn {
			if err != nil || resp.Text != "ok" || calls.Load() != 2 {
				t.Fatalf("opted in: resp %+v, err %v, calls %d", resp, err, calls.Load())
			}
			continue
		}
		if err == nil || calls.Load() != 1 || Classify(err) != ClassNetwork || !strings.Contains(err.Error(), "not replayed") {
			t.Fatalf("resp %+v, err %v (class %v), calls %d", resp, err, Classify(err), calls.Load())
		}
	}
}

func TestStreamCallbackErrorStops(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("/compatible-mode/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeSSE(w, `data: {"id":"x","choices":[{"delta":{"content":"a"}}]}`+"\n\n", `data: {"id":"x","choices":[{"delta":{"content":"b"}}]}`+"\n\n", "data: [DONE]\n\n")
	})
	stop := errors.New("enough")
	_, err := c.ChatCompletionStream(context.Background(), textRequest("m"), func(Delta) error { return stop })
	if !errors.Is(err, stop) || calls.Load() != 1 {
		t.Fatalf("err %v, calls %d", err, calls.Load())
	}
}
