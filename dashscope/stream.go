package dashscope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxSSELine bounds one SSE line (a final chunk with usage is small; this
// is generous).
const maxSSELine = 8 << 20

// sseEvent is one server-sent event.
type sseEvent struct {
	event  string
	data   []byte
	status int // DashScope's ":HTTP_STATUS/<code>" comment, 0 if absent
}

// readSSE calls fn for every event in r. It follows the SSE format: fields
// "event", "data" (joined by newlines), comments starting with ':'; an empty
// line ends an event.
func readSSE(r io.Reader, fn func(sseEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	var ev sseEvent
	var data bytes.Buffer
	hasData := false
	dispatch := func() error {
		if !hasData && ev.event == "" {
			return nil
		}
		ev.data = data.Bytes()
		err := fn(ev)
		ev, hasData = sseEvent{}, false
		data.Reset()
		return err
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if err := dispatch(); err != nil {
				return err
			}
			continue
		}
		if line[0] == ':' {
			if s, ok := strings.CutPrefix(string(line[1:]), "HTTP_STATUS/"); ok {
				ev.status, _ = strconv.Atoi(strings.TrimSpace(s))
			}
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			ev.event = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return dispatch()
}

// deltaStream hands a stream's deltas to the caller with secrets scrubbed
// (Client.scrubAnswer): a key the model echoes token by token is split
// across deltas, so each channel has a Redactor that holds back a tail
// that could be the start of a key and releases it with the next delta or
// at the end (finish). The Response gets exactly what the caller got.
type deltaStream struct {
	fn              func(Delta) error
	text, reasoning *Redactor
}

func (c *Client) newDeltaStream(fn func(Delta) error) *deltaStream {
	return &deltaStream{fn: fn, text: c.secrets.fork(), reasoning: c.secrets.fork()}
}

// deliver passes a delta on, reasoning first.
func (ds *deltaStream) deliver(st *attemptState, out *Response, reasoning, text string) error {
	if reasoning != "" || text != "" {
		st.delivered = true // received: a failure from here on is partial
	}
	return ds.send(out, ds.reasoning.Push(reasoning), ds.text.Push(text))
}

func (ds *deltaStream) send(out *Response, reasoning, text string) error {
	for _, d := range []Delta{{Reasoning: reasoning}, {Text: text}} {
		if d.Reasoning == "" && d.Text == "" {
			continue
		}
		out.Reasoning += d.Reasoning
		out.Text += d.Text
		if err := ds.fn(d); err != nil {
			return &stopError{err}
		}
	}
	return nil
}

// finish releases what the redactors hold back, after the stream ended
// with err (nil or not), unless the caller's callback stopped it.
func (ds *deltaStream) finish(out *Response, err error) error {
	var stop *stopError
	if errors.As(err, &stop) {
		return err
	}
	if ferr := ds.send(out, ds.reasoning.Flush(), ds.text.Flush()); ferr != nil {
		return ferr
	}
	return err
}

// textError is a stream's error event that is not JSON: its text, scrubbed
// of secrets before it is cut to 200 bytes.
func textError(status int, data []byte, st *attemptState) *APIError {
	return &APIError{StatusCode: status, Message: truncate(st.scrub(data), 200)}
}

// errStreamTruncated reports a stream that ended without its final event.
const errStreamTruncated = constError("stream ended before the final event")

// decodeNativeStream reads a native SSE stream (event:result chunks with
// incremental output; event:error on failure).
func decodeNativeStream(resp *http.Response, r io.Reader, st *attemptState, out *Response, ds *deltaStream) error {
	finished := false
	err := readSSE(r, func(ev sseEvent) error {
		status := ev.status
		if status == 0 {
			status = resp.StatusCode
		}
		if ev.event == "error" || status >= 400 {
			if e, ok := streamError(status, ev.data); ok {
				return e
			}
			return textError(status, ev.data, st)
		}
		if len(bytes.TrimSpace(ev.data)) == 0 {
			return nil
		}
		var chunk nativeResponse
		if err := json.Unmarshal(ev.data, &chunk); err != nil {
			return &decodeError{err}
		}
		if chunk.Code != "" {
			return &APIError{StatusCode: status, Code: chunk.Code, Message: chunk.Message, RequestID: chunk.RequestID}
		}
		if chunk.RequestID != "" {
			out.RequestID = chunk.RequestID
		}
		text, reasoning, finish, hw, err := chunk.parts()
		if err != nil {
			return &decodeError{err}
		}
		if hw != nil {
			out.ImageHW = hw
		}
		if chunk.Usage != nil {
			out.Usage = chunk.Usage.usage()
		}
		if finish != "" {
			out.FinishReason, finished = finish, true
		}
		return ds.deliver(st, out, reasoning, text)
	})
	if err != nil {
		return err
	}
	if !finished {
		return errStreamTruncated
	}
	return nil
}

// decodeOpenAIStream reads compatible-mode chunks up to "data: [DONE]".
func decodeOpenAIStream(resp *http.Response, r io.Reader, st *attemptState, out *Response, ds *deltaStream) error {
	done := false
	err := readSSE(r, func(ev sseEvent) error {
		data := bytes.TrimSpace(ev.data)
		if string(data) == "[DONE]" {
			done = true
			return nil
		}
		if len(data) == 0 {
			return nil
		}
		status := ev.status
		if status == 0 {
			status = resp.StatusCode
		}
		var chunk openaiResponse
		if err := json.Unmarshal(data, &chunk); err != nil {
			if ev.event == "error" || status >= 400 { // an error event in plain text
				return textError(status, data, st)
			}
			return &decodeError{err}
		}
		if e := chunk.apiError(status); e != nil || ev.event == "error" {
			if e == nil {
				e = textError(status, data, st)
			}
			return e
		}
		if out.RequestID == "" {
			out.RequestID = chunk.requestID(resp.Header)
		}
		if chunk.Model != "" {
			out.Model = chunk.Model
		}
		if chunk.Usage != nil {
			out.Usage = chunk.Usage.usage()
		}
		if len(chunk.Choices) == 0 {
			return nil
		}
		ch := chunk.Choices[0]
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			out.FinishReason = *ch.FinishReason
		}
		text, hw, err := contentText(ch.Delta.Content)
		if err != nil {
			return &decodeError{err}
		}
		if hw != nil {
			out.ImageHW = hw
		}
		if len(ch.Delta.ImageHW) > 0 && string(ch.Delta.ImageHW) != "null" {
			out.ImageHW = ch.Delta.ImageHW
		}
		reasoning := ""
		if ch.Delta.ReasoningContent != nil {
			reasoning = *ch.Delta.ReasoningContent
		}
		return ds.deliver(st, out, reasoning, text)
	})
	if err != nil {
		return err
	}
	if !done {
		return errStreamTruncated
	}
	return nil
}
