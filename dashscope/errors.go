package dashscope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 1 << 20

// APIError is a failure reported by DashScope (or by OSS during an upload):
// a non-2xx response, or an error event inside a stream. Upload also returns
// one (413 FileTooLarge) for a file over the policy's max_file_size_mb,
// without sending it. Use errors.As to
// get it and Class to decide what to do. Error codes:
// https://www.alibabacloud.com/help/en/model-studio/error-code .
type APIError struct {
	StatusCode int    // HTTP status; for a stream error, the status it announced
	Code       string // e.g. "Throttling.RateQuota", "InvalidParameter.DataInspection"
	Type       string // OpenAI-compatible error type, e.g. "insufficient_quota"
	Message    string
	RequestID  string
	// Partial is set when the error ended a stream after some output had
	// already been delivered; such a call is not retried.
	Partial bool
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

// Error reads like
// "dashscope: 429 Throttling.RateQuota: Requests rate limit exceeded (request id abc)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("dashscope: ")
	if e.StatusCode > 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteByte(' ')
	}
	code := e.Code
	if code == "" {
		code = e.Type
	}
	switch {
	case code != "" && e.Message != "":
		b.WriteString(code + ": " + e.Message)
	case code != "":
		b.WriteString(code)
	case e.Message != "":
		b.WriteString(e.Message)
	default:
		b.WriteString(http.StatusText(e.StatusCode))
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	if e.Partial {
		b.WriteString(" (after partial output)")
	}
	return b.String()
}

// Hint is a one-line suggestion for a person, or "": Class().Hint(), or a
// more precise one where the error says more.
func (e *APIError) Hint() string {
	if e.StatusCode == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), "policy expired") {
		// OSS: "Invalid according to Policy: Policy expired." Upload has
		// already fetched a fresh policy once and it expired too.
		return "the temporary-upload policy expired before the file reached OSS, also after a fresh one was fetched: check this computer's clock, then try again (a slow link may need a longer upload timeout)"
	}
	return e.Class().Hint()
}

// Class sorts the error; see Class for the meaning of each value.
func (e *APIError) Class() Class {
	code := strings.ToLower(e.Code)
	typ := strings.ToLower(e.Type)
	msg := strings.ToLower(e.Message)
	// Compatible mode spells codes in snake case (data_inspection_failed).
	flat := strings.ReplaceAll(code+" "+typ, "_", "")
	switch {
	case strings.Contains(flat, "datainspectionfailed"), strings.Contains(msg, "inappropriate content"):
		return ClassContentModeration
	case strings.Contains(flat, "datainspection"),
		strings.Contains(msg, "failed to download multimodal content"):
		return ClassDataInspection
	case e.StatusCode == http.StatusTooManyRequests, strings.HasPrefix(code, "throttling"),
		typ == "insufficient_quota", code == "insufficient_quota":
		switch {
		case strings.Contains(msg, "increased too quickly"), strings.Contains(code, "burst"):
			return ClassRateLimitBurst
		case code == "throttling.allocationquota", typ == "insufficient_quota",
			code == "insufficient_quota", strings.Contains(msg, "quota"):
			return ClassRateLimitTokens
		default:
			return ClassRateLimitRequests
		}
	case code == "arrearage":
		return ClassBilling
	case e.StatusCode == http.StatusUnauthorized, e.StatusCode == http.StatusForbidden,
		code == "invalidapikey", strings.HasPrefix(code, "accessdenied"):
		return ClassAuth
	case e.StatusCode == http.StatusRequestEntityTooLarge, strings.Contains(code, "toolarge"),
		strings.Contains(msg, "too large"), strings.Contains(msg, "entitytoolarge"):
		return ClassTooLarge
	case e.StatusCode == http.StatusRequestTimeout, strings.Contains(code, "timeout"):
		return ClassTimeout
	case e.StatusCode >= 500:
		return ClassServer
	case e.StatusCode >= 400, code != "":
		return ClassBadRequest
	}
	return ClassUnknown
}

// Class is a coarse kind of failure, for exit codes, hints and retry
// policy above this package.
type Class int

// The classes. The rate-limit ones follow DashScope's three throttles
// (https://www.alibabacloud.com/help/en/model-studio/rate-limit): requests
// per minute, tokens per minute (on the compatible endpoint worded like
// OpenAI's "insufficient_quota", but transient), and burst protection
// ("Request rate increased too quickly").
const (
	ClassUnknown           Class = iota
	ClassRateLimitRequests       // 429 requests per minute
	ClassRateLimitTokens         // 429 tokens per minute (Throttling.AllocationQuota, insufficient_quota)
	ClassRateLimitBurst          // 429 "Request rate increased too quickly"
	ClassDataInspection          // InvalidParameter.DataInspection: media could not be downloaded or read
	ClassContentModeration       // DataInspectionFailed: input or output refused by moderation
	ClassAuth                    // 401 InvalidApiKey (also a key from another region), 403 AccessDenied
	ClassBilling                 // Arrearage: the account is overdue
	ClassTooLarge                // 413 or a "too large" message
	ClassBadRequest              // other 4xx
	ClassServer                  // 5xx
	ClassTimeout                 // 408, request timeout, stalled stream
	ClassNetwork                 // connection failures
)

// String returns a snake_case name, e.g. "rate_limit_tokens".
func (c Class) String() string {
	names := [...]string{"unknown", "rate_limit_requests", "rate_limit_tokens", "rate_limit_burst",
		"data_inspection", "content_moderation", "auth", "billing", "too_large", "bad_request",
		"server", "timeout", "network"}
	if c < 0 || int(c) >= len(names) {
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
	return names[c]
}

// IsRateLimit reports whether c is one of the 429 classes.
func (c Class) IsRateLimit() bool {
	return c == ClassRateLimitRequests || c == ClassRateLimitTokens || c == ClassRateLimitBurst
}

// Hint is a one-line suggestion for a person, or "".
func (c Class) Hint() string {
	switch c {
	case ClassRateLimitRequests:
		return "lower the request rate or concurrency; the limit is per minute and per account"
	case ClassRateLimitTokens:
		return "lower the tokens per minute (fewer or smaller images, fewer frames); this is a per-minute throttle, not billing"
	case ClassRateLimitBurst:
		return "ramp up more slowly; the service throttles sudden bursts even below the per-minute limit"
	case ClassDataInspection:
		return "the service could not fetch or read the media: send it as base64 or a temporary upload, and check its format"
	case ClassContentModeration:
		return "the input or output was refused by content moderation; the service gives no detail"
	case ClassAuth:
		return "check DASHSCOPE_API_KEY and that the region (--region) matches the key"
	case ClassBilling:
		return "the Alibaba Cloud account is overdue"
	case ClassTooLarge:
		return "the request is too large: downscale media, send fewer items or use a temporary upload"
	case ClassTimeout:
		return "the call timed out; a timed-out request may still have been billed"
	}
	return ""
}

// Classify returns the Class of any error this package returns.
func Classify(err error) Class {
	var apiErr *APIError
	var te *TimeoutError
	var nerr net.Error
	switch {
	case err == nil:
		return ClassUnknown
	case errors.As(err, &apiErr):
		return apiErr.Class()
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.As(err, &nerr):
		if nerr.Timeout() {
			return ClassTimeout
		}
		return ClassNetwork
	case errors.Is(err, errStreamTruncated), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassNetwork // the connection ended in the middle of a response
	}
	return ClassUnknown
}

// errorBody covers both error shapes: native {"code","message","request_id"}
// and OpenAI-compatible {"error":{"message","type","code"},"request_id"|"id"}.
type errorBody struct {
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	ID        string          `json:"id"`
	Error     *openaiErrorObj `json:"error"`
}

type openaiErrorObj struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// toAPIError converts a decoded body; ok is false when it holds no error.
func (b *errorBody) toAPIError(status int) (*APIError, bool) {
	e := &APIError{StatusCode: status, Code: b.Code, Message: b.Message, RequestID: b.RequestID}
	if e.RequestID == "" {
		e.RequestID = b.ID
	}
	if b.Error != nil {
		e.Type = b.Error.Type
		if e.Message == "" {
			e.Message = b.Error.Message
		}
		if e.Code == "" {
			e.Code = rawString(b.Error.Code)
		}
	}
	return e, e.Code != "" || e.Message != "" || e.Type != ""
}

// rawString returns a JSON string's value, a number's text, or "" for null.
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// decodeAPIError builds the error for a non-2xx response from its (limited)
// body. data must already be scrubbed of secrets (Client.redactText): a text
// body is cut to 200 bytes here, and a cut through the key would hide it
// from the redaction.
func decodeAPIError(resp *http.Response, data []byte) *APIError {
	var b errorBody
	isJSON := json.Unmarshal(data, &b) == nil
	if isJSON {
		if e, ok := b.toAPIError(resp.StatusCode); ok {
			if e.RequestID == "" {
				e.RequestID = headerRequestID(resp.Header)
			}
			return e
		}
	}
	e := &APIError{StatusCode: resp.StatusCode, RequestID: headerRequestID(resp.Header)}
	// A JSON object without an error in it ({}) says nothing: the status
	// text does (see Error).
	if text := strings.TrimSpace(string(data)); text != "" && !isJSON && !strings.HasPrefix(text, "<") {
		e.Message = truncate(text, 200)
	}
	return e
}

func headerRequestID(h http.Header) string {
	for _, k := range []string{"X-Request-Id", "X-Dashscope-Request-Id", "X-Acs-Request-Id", "X-Oss-Request-Id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// streamError builds an APIError from a JSON payload found inside a stream.
func streamError(status int, data []byte) (*APIError, bool) {
	var b errorBody
	if json.Unmarshal(data, &b) != nil {
		return nil, false
	}
	return b.toAPIError(status)
}

// errorf creates an error with the package prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("dashscope: "+format, args...)
}
