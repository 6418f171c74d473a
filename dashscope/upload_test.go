package dashscope

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeOSS serves getPolicy and the OSS PostObject endpoint and counts both.
type fakeOSS struct {
	t        *testing.T
	policies atomic.Int32
	uploads  atomic.Int32
	mu       sync.Mutex
	stored   map[string][]byte
	expire   int
	// failUpload, when set, answers the next upload with this status and body.
	failStatus int
	failBody   string
}

func newFakeOSS(t *testing.T, mux *http.ServeMux, uploadHost string) *fakeOSS {
	f := &fakeOSS{t: t, stored: map[string][]byte{}, expire: 300}
	mux.HandleFunc("/api/v1/uploads", func(w http.ResponseWriter, r *http.Request) {
		f.policies.Add(1)
		if r.Method != http.MethodGet || r.URL.Query().Get("action") != "getPolicy" || !strings.HasPrefix(r.URL.Query().Get("model"), "qwen3-vl-") {
			t.Errorf("getPolicy request %s %s", r.Method, r.URL)
		}
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("getPolicy Authorization %q", r.Header.Get("Authorization"))
		}
		fmt.Fprintf(w, `{"request_id":"pol-1","data":{"policy":"eyJwb2xpY3kiOjF9","signature":"c2ln","upload_dir":"dashscope-instant/abc/2026-05-01/xyz",
		  "upload_host":%q,"expire_in_seconds":%d,"max_file_size_mb":"1","capacity_limit_mb":999999999,
		  "oss_access_key_id":"LTAI-test","x_oss_object_acl":"private","x_oss_forbid_overwrite":"true"}}`, uploadHost, f.expire)
	})
	mux.HandleFunc("/oss", func(w http.ResponseWriter, r *http.Request) {
		f.uploads.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Error("the API key was sent to OSS")
		}
		if len(r.TransferEncoding) > 0 || r.ContentLength <= 0 {
			t.Errorf("upload without Content-Length")
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		raw, _ := io.ReadAll(r.Body)
		if int64(len(raw)) != r.ContentLength {
			t.Errorf("received %d of %d bytes", len(raw), r.ContentLength)
		}
		// The file part's header as mime/multipart.CreateFormFile writes it:
		// name first, both values quoted.
		if !bytes.Contains(raw, []byte("\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")) {
			t.Errorf("file part header not in CreateFormFile form:\n%s", raw[bytes.LastIndex(raw, []byte("Content-Disposition")):][:120])
		}
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		var names []string
		fields := map[string]string{}
		var file []byte
		var fileType, fileName string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			names = append(names, p.FormName())
			if p.FormName() == "file" {
				file, fileType, fileName = b, p.Header.Get("Content-Type"), p.FileName()
			} else {
				fields[p.FormName()] = string(b)
			}
		}
		wantOrder := "OSSAccessKeyId Signature policy key x-oss-object-acl x-oss-forbid-overwrite success_action_status x-oss-content-type file"
		if strings.Join(names, " ") != wantOrder {
			t.Errorf("field order %v", names)
		}
		sum := sha256.Sum256(file)
		wantName := hex.EncodeToString(sum[:]) + ".png"
		if fields["OSSAccessKeyId"] != "LTAI-test" || fields["Signature"] != "c2ln" || fields["policy"] != "eyJwb2xpY3kiOjF9" ||
			fields["key"] != "dashscope-instant/abc/2026-05-01/xyz/"+wantName || fields["x-oss-object-acl"] != "private" ||
			fields["x-oss-forbid-overwrite"] != "true" || fields["success_action_status"] != "200" ||
			fields["x-oss-content-type"] != "image/png" || fileType != "image/png" || fileName != wantName {
			t.Errorf("fields %v, file %s %s", fields, fileType, fileName)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failStatus != 0 {
			w.WriteHeader(f.failStatus)
			io.WriteString(w, f.failBody)
			f.failStatus = 0
			return
		}
		f.stored[fields["key"]] = file
		w.WriteHeader(200)
	})
	return f
}

func TestUploadFlow(t *testing.T) {
	c, mux, srv := setup(t)
	f := newFakeOSS(t, mux, srv.URL+basePath+"/oss")
	ctx := context.Background()
	var urls []string
	for i := range 3 {
		data := fakePNG(1000 + i)
		var m Media
		if i == 2 {
			m = MediaReaderAt("image/png", bytes.NewReader(data), int64(len(data)))
		} else {
			m = MediaBytes("image/png", data)
		}
		u, err := c.Upload(ctx, "qwen3-vl-plus", m)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if want := "oss://dashscope-instant/abc/2026-05-01/xyz/" + hex.EncodeToString(sum[:]) + ".png"; u != want {
			t.Errorf("url %s, want %s", u, want)
		}
		urls = append(urls, u)
	}
	// The same content again comes from the cache.
	if u, err := c.Upload(ctx, "qwen3-vl-plus", MediaBytes("image/png", fakePNG(1000))); err != nil || u != urls[0] {
		t.Errorf("cached upload %s %v", u, err)
	}
	if f.policies.Load() != 1 || f.uploads.Load() != 3 {
		t.Errorf("getPolicy called %d times, uploads %d; want 1 and 3", f.policies.Load(), f.uploads.Load())
	}
	// Too large for the policy's max_file_size_mb (1 MB).
	_, err := c.Upload(ctx, "qwen3-vl-plus", MediaBytes("image/png", fakePNG(1<<20+1)))
	if Classify(err) != ClassTooLarge {
		t.Errorf("oversized upload: %v", err)
	}
	// Using the URL turns on OSS resolution.
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		wantRequest(t, r, genPath)
		if r.Header.Get("X-DashScope-OssResourceResolve") != "enable" {
			t.Error("no OSS resolve header")
		}
		io.WriteString(w, okNative)
	})
	req := &Request{Model: "qwen3-vl-plus", Messages: []Message{{Role: RoleUser, Content: []Content{Image(MediaURL(urls[0])), Text("?")}}}}
	if _, err := c.Generate(ctx, req); err != nil {
		t.Fatal(err)
	}
}

func TestUploadPolicyRenewal(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, mux, srv := setup(t, WithClock(clock))
	f := newFakeOSS(t, mux, srv.URL+basePath+"/oss")
	up := func(i int) {
		if _, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(100+i))); err != nil {
			t.Fatal(err)
		}
	}
	up(1)
	advance(260 * time.Second) // 40 s left of 300: still valid (margin 30 s)
	up(2)
	if f.policies.Load() != 1 {
		t.Fatalf("policy fetched %d times", f.policies.Load())
	}
	advance(15 * time.Second) // 25 s left: inside the margin
	up(3)
	if f.policies.Load() != 2 {
		t.Fatalf("policy fetched %d times, want a renewal", f.policies.Load())
	}
	// OSS refusing an expired policy: renew once and retry.
	f.mu.Lock()
	f.failStatus, f.failBody = 403, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message><RequestId>oss-1</RequestId></Error>`
	f.mu.Unlock()
	up(4)
	if f.policies.Load() != 3 {
		t.Errorf("policy fetched %d times after a 403", f.policies.Load())
	}
}

func TestUploadAlreadyExists(t *testing.T) {
	c, mux, srv := setup(t, WithUploadCache(nil))
	f := newFakeOSS(t, mux, srv.URL+basePath+"/oss")
	f.failStatus, f.failBody = 409, `<Error><Code>FileAlreadyExists</Code><Message>The object you specified already exists and can not be overwritten.</Message></Error>`
	u, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(64)))
	if err != nil || !strings.HasPrefix(u, "oss://") {
		t.Fatalf("url %q err %v", u, err)
	}
}

func TestUploadErrors(t *testing.T) {
	c, mux, srv := setup(t, WithMaxRetries(0))
	f := newFakeOSS(t, mux, srv.URL+basePath+"/oss")
	f.failStatus, f.failBody = 400, `<Error><Code>InvalidArgument</Code><Message>bad form</Message><RequestId>oss-2</RequestId></Error>`
	_, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(64)))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "InvalidArgument" || apiErr.RequestID != "oss-2" {
		t.Fatalf("err %v", err)
	}
	for _, m := range []Media{MediaURL("https://x"), {}, MediaBytes("image/png", nil)} {
		if _, err := c.Upload(context.Background(), "qwen3-vl-plus", m); err == nil {
			t.Errorf("Upload(%v) accepted", m)
		}
	}
	if _, err := c.Upload(context.Background(), "", MediaBytes("image/png", fakePNG(4))); err == nil {
		t.Error("no model accepted")
	}
}

func TestUploadHostValidation(t *testing.T) {
	remote, _ := NewClient(testKey, WithRegion("cn"))
	local, _ := NewClient(testKey, WithBaseURL("http://127.0.0.1:9999"))
	local6, _ := NewClient(testKey, WithBaseURL("http://[::1]:9999"))
	tests := []struct {
		c    *Client
		host string
		ok   bool
	}{
		{remote, "https://dashscope-file-mgr.oss-cn-beijing.aliyuncs.com", true},
		{remote, "https://bucket.oss.alibabacloud.com", true},
		{remote, "http://dashscope-file-mgr.oss-cn-beijing.aliyuncs.com", false},
		{remote, "https://aliyuncs.com.evil.example", false},
		{remote, "https://evilaliyuncs.com", false},
		{remote, "https://127.0.0.1:8080", false},
		{remote, "not a url", false},
		{local, "http://127.0.0.1:8080/oss", true},
		{local, "http://localhost:8080/oss", true},
		{local, "http://example.com/oss", false},
		{local6, "http://[::1]:1/oss", true},
	}
	for _, tt := range tests {
		err := tt.c.checkUploadHost(tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("base %s, host %s: err %v", tt.c.BaseURL(), tt.host, err)
		}
	}
}

// TestUploadCacheKeyedByAccountAndHost: an upload is reused only for the same
// key, host, model and content, and never after UploadMaxAge.
func TestUploadCacheKeyedByAccountAndHost(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cache := NewMemoryCache()
	c, mux, srv := setup(t, WithClock(clock), WithUploadCache(cache))
	f := newFakeOSS(t, mux, srv.URL+basePath+"/oss")
	f.expire = 100 * 3600 // keep the policy out of the way
	img := MediaBytes("image/png", fakePNG(500))
	u1, err := c.Upload(context.Background(), "qwen3-vl-plus", img)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(img.Data)
	host := strings.TrimPrefix(srv.URL, "http://")
	k := UploadKey{Account: KeyFingerprint(testKey), Host: host, Model: "qwen3-vl-plus", SHA256: hex.EncodeToString(sum[:])}
	if e, ok := cache.Load(k); !ok || e.URL != u1 {
		t.Fatalf("cache entry under %+v: %+v %v", k, e, ok)
	}
	if strings.Contains(k.Account, testKey[3:11]) || len(k.Account) != 32 || KeyFingerprint("sk-other-key-0123456789") == k.Account {
		t.Errorf("fingerprint %q", k.Account)
	}
	advance(46*time.Hour + 59*time.Minute)
	if u, _ := c.Upload(context.Background(), "qwen3-vl-plus", img); u != u1 || f.uploads.Load() != 1 {
		t.Fatalf("at 46h59m: uploads %d", f.uploads.Load())
	}
	// Another model, another key: not shared.
	if _, err := c.Upload(context.Background(), "qwen3-vl-flash", img); err != nil || f.uploads.Load() != 2 {
		t.Fatalf("other model: err %v, uploads %d", err, f.uploads.Load())
	}
	// Another account or another region looks under another key.
	other, _ := NewClient("sk-another-account-0123456789", WithBaseURL(srv.URL+basePath))
	elsewhere, _ := NewClient(testKey, WithRegion("cn"))
	for _, o := range []*Client{other, elsewhere} {
		if _, ok := cache.Load(o.uploadKey("qwen3-vl-plus", k.SHA256)); ok {
			t.Errorf("%v sees the upload of another account or region", o)
		}
	}
	advance(2 * time.Minute) // 47h01m
	if _, err := c.Upload(context.Background(), "qwen3-vl-plus", img); err != nil || f.uploads.Load() != 3 {
		t.Fatalf("at 47h01m: err %v, uploads %d (want a fresh upload)", err, f.uploads.Load())
	}
}

// TestUploadTimeout: uploads get their own, longer timeout: by default the
// request timeout plus a second per 64 KiB, at most an hour.
func TestUploadTimeout(t *testing.T) {
	c, _ := NewClient(testKey)
	if got := c.uploadTimeoutFor(0); got != DefaultRequestTimeout {
		t.Errorf("empty upload: %v", got)
	}
	if got := c.uploadTimeoutFor(64 << 20); got != DefaultRequestTimeout+1024*time.Second {
		t.Errorf("64 MiB: %v", got)
	}
	if got := c.uploadTimeoutFor(1 << 40); got != time.Hour {
		t.Errorf("1 TiB: %v, want the 1 h cap", got)
	}
	// A slow OSS answer outlives the request timeout of other calls.
	c, mux, srv := setup(t, WithTimeouts(0, 50*time.Millisecond, 0), WithUploadTimeout(5*time.Second), WithMaxRetries(0))
	newFakeOSS(t, mux, srv.URL+basePath+"/slow-oss")
	mux.HandleFunc("/slow-oss", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(200 * time.Millisecond)
	})
	if _, err := c.Upload(context.Background(), "qwen3-vl-plus", MediaBytes("image/png", fakePNG(100))); err != nil {
		t.Fatalf("upload cut by the request timeout: %v", err)
	}
	mux.HandleFunc(genPath, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(200 * time.Millisecond)
	})
	if _, err := c.Generate(context.Background(), textRequest("m")); Classify(err) != ClassTimeout {
		t.Fatalf("generate: %v, want the request timeout", err)
	}
}
