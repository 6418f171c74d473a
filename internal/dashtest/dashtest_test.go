package dashtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/qwen-vision/vision/dashscope"
)

const key = "sk-dashtest-0123456789abcdef"

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// post sends a native request body with or without the OSS resolve header.
func post(t *testing.T, s *Server, body any, resolve bool) int {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+Path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if resolve {
		req.Header.Set("X-DashScope-OssResourceResolve", "enable")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func request(model string, images ...string) map[string]any {
	var content []map[string]any
	for _, u := range images {
		content = append(content, map[string]any{"image": u})
	}
	content = append(content, map[string]any{"text": "what?"})
	return map[string]any{"model": model, "input": map[string]any{"messages": []any{map[string]any{"role": "user", "content": content}}}}
}

// TestUploadThenResolve: the real client's upload passes every check, and
// the oss:// URL resolves in the next request only with the header and
// only for the model it was uploaded for.
func TestUploadThenResolve(t *testing.T) {
	s := New(t, key)
	c, err := dashscope.NewClient(key, dashscope.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Upload(context.Background(), "qwen3-vl-plus", dashscope.MediaBytes("image/png", pngOf(t, 40, 30)))
	if err != nil || !strings.HasPrefix(u, "oss://dashscope-instant/") {
		t.Fatalf("upload: %s %v (violations %v)", u, err, s.Violations())
	}
	resp, err := c.Generate(context.Background(), &dashscope.Request{Model: "qwen3-vl-plus",
		Messages: []dashscope.Message{{Role: dashscope.RoleUser, Content: []dashscope.Content{dashscope.Image(dashscope.MediaURL(u)), dashscope.Text("what?")}}}})
	if err != nil || resp.Text == "" || len(s.Violations()) > 0 {
		t.Fatalf("generate: %v, violations %v", err, s.Violations())
	}
	if r := s.Requests(); len(r) != 1 || r[0].OSS != 1 || r[0].Width != 40 {
		t.Fatalf("requests %+v", r)
	}
	if s.Uploads() != 1 || s.Policies() != 1 {
		t.Errorf("uploads %d, policies %d", s.Uploads(), s.Policies())
	}
	for _, tt := range []struct {
		name    string
		body    any
		resolve bool
		want    string
	}{
		{"no resolve header", request("qwen3-vl-plus", u), false, "without X-DashScope-OssResourceResolve"},
		{"other model", request("qwen3-vl-flash", u), true, "was uploaded for qwen3-vl-plus"},
		{"never uploaded", request("qwen3-vl-plus", u+"x"), true, "never uploaded"},
		{"a file URL", request("qwen3-vl-plus", "file:///etc/passwd"), true, "want a data: or oss:// URL"},
	} {
		before := len(s.Violations())
		if code := post(t, s, tt.body, tt.resolve); code != http.StatusBadRequest {
			t.Errorf("%s: status %d", tt.name, code)
		}
		v := s.Violations()
		if len(v) != before+1 || !strings.Contains(v[len(v)-1], tt.want) {
			t.Errorf("%s: violations %v", tt.name, v[before:])
		}
	}
}

// TestBase64Limits: more than 250 data URLs, or one over 10 MB, is refused.
func TestBase64Limits(t *testing.T) {
	s := New(t, key)
	small := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngOf(t, 12, 12))
	many := make([]string, MaxBase64Items+1)
	for i := range many {
		many[i] = small
	}
	if code := post(t, s, request("qwen3-vl-plus", many...), false); code != http.StatusBadRequest || !strings.Contains(strings.Join(s.Violations(), "\n"), "251 base64 data URLs") {
		t.Errorf("251 data URLs: %d %v", code, s.Violations())
	}
	if code := post(t, s, request("qwen3-vl-plus", many[:MaxBase64Items]...), false); code != http.StatusOK {
		t.Errorf("250 data URLs: %d %v", code, s.Violations())
	}
	huge := "data:image/png;base64," + strings.Repeat("A", MaxBase64Bytes)
	if code := post(t, s, request("qwen3-vl-plus", huge), false); code != http.StatusBadRequest || !strings.Contains(strings.Join(s.Violations(), "\n"), "at most 10000000") {
		t.Errorf("11 MB data URL: %d %v", code, s.Violations())
	}
}

// TestOSSFormChecks: the PostObject endpoint refuses a form that OSS or the
// upload page would not take.
func TestOSSFormChecks(t *testing.T) {
	s := New(t, key)
	req, _ := http.NewRequest(http.MethodGet, s.URL+UploadsPath+"?action=getPolicy&model=qwen3-vl-plus", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Data struct {
			Policy    string `json:"policy"`
			Signature string `json:"signature"`
			UploadDir string `json:"upload_dir"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&pol)
	resp.Body.Close()
	if err != nil || pol.Data.Policy == "" {
		t.Fatalf("getPolicy: %v %+v", err, pol)
	}
	file := pngOf(t, 20, 20)
	name := sha(file) + ".png"
	good := map[string]string{"OSSAccessKeyId": "LTAI-standin", "Signature": pol.Data.Signature, "policy": pol.Data.Policy,
		"key": pol.Data.UploadDir + "/" + name, "x-oss-object-acl": "private", "x-oss-forbid-overwrite": "true",
		"success_action_status": "200", "x-oss-content-type": "image/png"}
	form := func(order []string, disposition string) (*bytes.Buffer, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, f := range order {
			if f == "file" {
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", disposition)
				h.Set("Content-Type", "image/png")
				w, _ := mw.CreatePart(h)
				w.Write(file)
				continue
			}
			mw.WriteField(f, good[f])
		}
		mw.Close()
		return &b, mw.FormDataContentType()
	}
	send := func(b *bytes.Buffer, ct string, auth bool) int {
		req, _ := http.NewRequest(http.MethodPost, s.URL+OSSPath, b)
		req.Header.Set("Content-Type", ct)
		if auth {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	okDisp := fmt.Sprintf(`form-data; name="file"; filename="%s"`, name)
	fileFirst := append([]string{"file"}, ossFields[:len(ossFields)-1]...)
	for _, tt := range []struct {
		name  string
		order []string
		disp  string
		auth  bool
		want  string
	}{
		{"file first", fileFirst, okDisp, false, "the file last"},
		{"sorted, unquoted disposition", ossFields, "form-data; filename=" + name + "; name=file", false, "Content-Disposition"},
		{"API key sent to OSS", ossFields, okDisp, true, "API key was sent to OSS"},
	} {
		before := len(s.Violations())
		b, ct := form(tt.order, tt.disp)
		if code := send(b, ct, tt.auth); code != http.StatusBadRequest {
			t.Errorf("%s: status %d", tt.name, code)
		}
		if v := s.Violations(); len(v) != before+1 || !strings.Contains(v[len(v)-1], tt.want) {
			t.Errorf("%s: violations %v", tt.name, v[before:])
		}
	}
	b, ct := form(ossFields, okDisp)
	if code := send(b, ct, false); code != http.StatusOK || s.Uploads() != 1 {
		t.Errorf("a good form: %d, uploads %d, violations %v", code, s.Uploads(), s.Violations())
	}
	b, ct = form(ossFields, okDisp)
	if code := send(b, ct, false); code != http.StatusConflict {
		t.Errorf("the same object again: %d, want 409 (x-oss-forbid-overwrite)", code)
	}
}
