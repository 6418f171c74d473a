package dashscope

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func nativeErr(status int, code, msg, rid string) string {
	return "id:1\nevent:error\n:HTTP_STATUS/" + itoa(status) + "\ndata:{\"code\":" + quote(code) + ",\"message\":" + quote(msg) + ",\"request_id\":" + quote(rid) + "}\n\n"
}

func nativeChunk(text, finish string) string {
	fr := "null"
	if finish != "" {
		fr = quote(finish)
	}
	return "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":[{\"text\":" + quote(text) + "}],\"role\":\"assistant\"},\"finish_reason\":" + fr + "}]},\"request_id\":\"s\"}\n\n"
}

func TestNativeStreamErrorBeforeOutputIsRetried(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeSSE(w, nativeErr(429, "Throttling.RateQuota", "Requests rate limit exceeded", "e1"))
			return
		}
		writeSSE(w, nativeChunk("ok", "stop"))
	})
	resp, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
	if err != nil || resp.Text != "ok" || calls.Load() != 2 {
		t.Fatalf("resp %+v, err %v, calls %d", resp, err, calls.Load())
	}
}

func TestNativeStreamErrorAfterOutput(t *testing.T) {
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeSSE(w, nativeChunk("The pic", ""), nativeErr(400, "DataInspectionFailed", "Output data may contain inappropriate content.", "e2"))
	})
	resp, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err %v", err)
	}
	want := APIError{StatusCode: 400, Code: "DataInspectionFailed", Message: "Output data may contain inappropriate content.", RequestID: "e2", Partial: true}
	if *apiErr != want || apiErr.Class() != ClassContentModeration {
		t.Errorf("APIError %+v", *apiErr)
	}
	if want := "dashscope: 400 DataInspectionFailed: Output data may contain inappropriate content. (request id e2) (after partial output)"; err.Error() != want {
		t.Errorf("Error() = %q", err.Error())
	}
	if calls.Load() != 1 || resp == nil || !resp.Partial || resp.Text != "The pic" {
		t.Errorf("calls %d, resp %+v", calls.Load(), resp)
	}
}

func TestNativeStreamWithoutFinishIsTruncated(t *testing.T) {
	c, mux, _ := setup(t, WithMaxRetries(0))
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, nativeChunk("cut", ""))
	})
	resp, err := c.GenerateStream(context.Background(), textRequest("m"), func(Delta) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "stream ended before the final event") || !resp.Partial {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestReadSSE(t *testing.T) {
	in := ": comment\nevent: result\ndata: {\"a\":\ndata: 1}\n\n:HTTP_STATUS/503\nevent:error\ndata:x\n\ndata:last"
	var got []sseEvent
	err := readSSE(strings.NewReader(in), func(ev sseEvent) error {
		ev.data = append([]byte(nil), ev.data...)
		got = append(got, ev)
		return nil
	})
	if err != nil || len(got) != 3 {
		t.Fatalf("events %+v, err %v", got, err)
	}
	if got[0].event != "result" || string(got[0].data) != "{\"a\":\n1}" {
		t.Errorf("event 0 %+v %q", got[0], got[0].data)
	}
	if got[1].event != "error" || got[1].status != 503 || string(got[1].data) != "x" || string(got[2].data) != "last" {
		t.Errorf("events %+v", got)
	}
}
