package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestAskErrorMessages: what vision says when the service's answer says
// little or asks for much: a 503 with an empty JSON body reads as the
// status text; a Retry-After longer than the client waits says how long
// and until when; an upload refused because its policy expired gets a
// hint about the policy, not about the key; a base URL with more than a
// scheme and host names what is extra, never user info.
func TestAskErrorMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/api/v1/uploads":
			fmt.Fprintf(w, `{"request_id":"p","data":{"policy":"P","signature":"S","upload_dir":"d/x","upload_host":"http://%s/oss","expire_in_seconds":300,"oss_access_key_id":"AK"}}`, r.Host)
		case r.URL.Path == "/oss":
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(403)
			io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message><RequestId>oss-1</RequestId></Error>")
		case strings.Contains(string(body), "empty-503"):
			w.Header().Set("Retry-After-Ms", "1")
			w.WriteHeader(503)
			io.WriteString(w, "{}")
		default:
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(429)
			io.WriteString(w, `{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded"}`)
		}
	}))
	defer srv.Close()
	t.Setenv("DASHSCOPE_API_KEY", secretKey)
	t.Setenv("DASHSCOPE_BASE_URL", srv.URL)
	png := filepath.Join(images, "png.png")
	many := filepath.Join(t.TempDir(), "many")
	distinctPNGs(t, many, 251) // uploaded
	for _, tc := range []struct {
		args       []string
		code       int
		want, not  string
		wantHint   string
		notInHints string
	}{
		{[]string{"ask", png, "-p", "empty-503"}, exitError, "vision: error: dashscope: 503 Service Unavailable\n", "{}", "", ""},
		{[]string{"ask", png, "-p", "?"}, exitError, "the service asks to wait 600 s; try again after ", "", "", ""},
		{[]string{"ask", "--no-upload-cache", many, "-p", "?"}, exitError, "Policy expired", "", "policy expired", "DASHSCOPE_API_KEY"},
		{[]string{"ask", png, "-p", "?", "--base-url", "https://dashscope-intl.aliyuncs.com/?x=1"}, exitUsage, "without a query", `""`, "", ""},
		{[]string{"ask", png, "-p", "?", "--base-url", "https://me:hunter2@dashscope-intl.aliyuncs.com"}, exitUsage, "without user info", "hunter2", "", ""},
		{[]string{"ask", png, "-p", "?", "--base-url", "https://dashscope-intl.aliyuncs.com/v1?x#y"}, exitUsage, `without the path "/v1", a query, a fragment`, `""`, "", ""},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		hints := ""
		for _, line := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(line, "vision: hint:") {
				hints += line + "\n"
			}
		}
		if code != tc.code || !strings.Contains(stderr, tc.want) || (tc.not != "" && strings.Contains(stderr, tc.not)) ||
			!strings.Contains(hints, tc.wantHint) || (tc.notInHints != "" && strings.Contains(hints, tc.notInHints)) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", tc.args[len(tc.args)-2:], code, tc.code, tc.want, stderr)
		}
	}
}
