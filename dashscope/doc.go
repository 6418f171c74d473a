// Package dashscope is a small client for Alibaba Cloud Model Studio
// (DashScope) as used by Qwen-VL models: native multimodal generation, the
// OpenAI-compatible chat completions endpoint, SSE streaming for both,
// temporary OSS uploads, typed errors and retries.
//
// API reference: https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-dashscope
// and https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions .
//
// # Usage
//
//	c, err := dashscope.NewClient(os.Getenv("DASHSCOPE_API_KEY"), dashscope.WithRegion("intl"))
//	resp, err := c.Generate(ctx, &dashscope.Request{
//		Model: "qwen3-vl-plus",
//		Messages: []dashscope.Message{{
//			Role: dashscope.RoleUser,
//			Content: []dashscope.Content{
//				dashscope.Image(dashscope.MediaBytes("image/jpeg", jpegBytes)),
//				dashscope.Text("What is in this picture?"),
//			},
//		}},
//	})
//
// One [Request] type serves both APIs: [Client.Generate] and
// [Client.GenerateStream] speak the native protocol,
// [Client.ChatCompletion] and [Client.ChatCompletionStream] the
// OpenAI-compatible one, and [Client.Send] picks by [API].
//
// # Media
//
// A [Media] is a URL (https://, data:, oss://) or raw bytes ([MediaBytes],
// [MediaReaderAt]). Raw bytes are base64-encoded while the request body is
// being sent, so a request carrying 250 images never holds its base64 text in
// memory; the body has an exact Content-Length and can be replayed on retry.
// A request that references an oss:// URL automatically carries
// X-DashScope-OssResourceResolve: enable.
//
// # Errors and retries
//
// Failures returned by the service are [*APIError] values carrying the HTTP
// status, the DashScope code, the message and the request ID; [APIError.Class]
// and [Classify] sort them into rate limits (requests, tokens, bursts), data
// inspection, moderation, auth/region, too large, bad request, server and
// timeout. Connection errors, 408, 429 and 5xx are retried with capped
// exponential backoff and jitter (see [WithMaxRetries], [WithBackoff],
// [WithOnRetry]). A 429 without Retry-After is retried more often and more
// slowly, so the retries outlast DashScope's per-minute windows: five
// retries waiting 2–4, 4–8, 8–16, 16–32 and 30–60 s ([WithRateLimitRetries],
// [WithRateLimitBackoff]). A request that timed out, or whose connection
// dropped, after it was completely sent is not replayed unless
// [WithRetryAfterSentTimeout] is given, because the service may already have
// run and billed it; the error says so. A response marked
// x-dashscope-partialresponse: true is returned as a partial answer
// ([Response.Partial]), whatever its status, and never retried.
//
// # What this package does not do
//
// It never opens, reads or names files: callers pass bytes, an
// [io.ReaderAt] or URLs, and a persistent upload cache is the caller's
// [UploadCache] (it keeps only an in-memory one). It does not decode, resize or sniff media, count
// tokens, estimate cost or rate-limit callers; those belong to the media,
// tokens and pipeline packages. It never prints and never logs; progress is
// reported through callbacks ([WithOnRetry], stream deltas). The API key never
// appears in an error (nor in any field of an [APIError], nor in what
// [WithOnRetry] sees), an answer, a stream delta (a key split across deltas
// is held back until it can be hidden, see [Redactor]), a String or a
// GoString; [Client.Redact] scrubs it from anything else a caller logs.
package dashscope
