package dashscope

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Temporary upload: https://www.alibabacloud.com/help/en/model-studio/get-temporary-file-url .
// Files live 48 h, are bound to the model and the account, and are meant
// for development rather than production traffic.

// Policy is a temporary-upload credential for one model.
type Policy struct {
	Model           string
	RequestID       string
	Policy          string
	Signature       string
	UploadDir       string
	UploadHost      string
	OSSAccessKeyID  string
	ObjectACL       string // x_oss_object_acl
	ForbidOverwrite string // x_oss_forbid_overwrite
	ExpireInSeconds int
	MaxFileSizeMB   int
	CapacityLimitMB int
	// Expires is when the credential runs out (fetch time + ExpireInSeconds).
	Expires time.Time
}

// String describes p without its signature.
func (p *Policy) String() string {
	return fmt.Sprintf("dashscope.Policy{Model: %q, UploadHost: %q, UploadDir: %q, Expires: %s}",
		p.Model, p.UploadHost, p.UploadDir, p.Expires.Format(time.RFC3339))
}

// GoString is String.
func (p *Policy) GoString() string { return p.String() }

// flexInt accepts a JSON number or a quoted number.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*n = flexInt(f)
	return nil
}

type policyResponse struct {
	RequestID string `json:"request_id"`
	Data      *struct {
		Policy          string  `json:"policy"`
		Signature       string  `json:"signature"`
		UploadDir       string  `json:"upload_dir"`
		UploadHost      string  `json:"upload_host"`
		ExpireInSeconds flexInt `json:"expire_in_seconds"`
		MaxFileSizeMB   flexInt `json:"max_file_size_mb"`
		CapacityLimitMB flexInt `json:"capacity_limit_mb"`
		OSSAccessKeyID  string  `json:"oss_access_key_id"`
		ObjectACL       string  `json:"x_oss_object_acl"`
		ForbidOverwrite string  `json:"x_oss_forbid_overwrite"`
	} `json:"data"`
}

// GetPolicy asks for a fresh upload credential for model (the model the
// files will be used with). Upload reuses one policy while it is valid, so
// most callers never need this. Reference:
// https://www.alibabacloud.com/help/en/model-studio/get-temporary-file-url .
func (c *Client) GetPolicy(ctx context.Context, model string) (*Policy, error) {
	if strings.TrimSpace(model) == "" {
		return nil, errors.New("dashscope: get upload policy: no model")
	}
	q := url.Values{"action": {"getPolicy"}, "model": {model}}
	var p *Policy
	h := http.Header{}
	h.Set("Accept", "application/json")
	cl := &call{op: "get upload policy", method: http.MethodGet, url: c.endpoint(pathUploads) + "?" + q.Encode(), header: h, idempot: true}
	cl.decode = func(resp *http.Response, r io.Reader, _ *attemptState) error {
		fetched := c.now()
		var w policyResponse
		if err := json.NewDecoder(io.LimitReader(r, maxErrorBody)).Decode(&w); err != nil {
			return &decodeError{err}
		}
		if w.Data == nil || w.Data.UploadHost == "" || w.Data.UploadDir == "" || w.Data.Policy == "" {
			return &decodeError{errors.New("upload policy without data")}
		}
		d := w.Data
		p = &Policy{
			Model: model, RequestID: w.RequestID,
			Policy: d.Policy, Signature: d.Signature, UploadDir: d.UploadDir, UploadHost: d.UploadHost,
			OSSAccessKeyID: d.OSSAccessKeyID, ObjectACL: d.ObjectACL, ForbidOverwrite: d.ForbidOverwrite,
			ExpireInSeconds: int(d.ExpireInSeconds), MaxFileSizeMB: int(d.MaxFileSizeMB), CapacityLimitMB: int(d.CapacityLimitMB),
		}
		p.Expires = fetched.Add(time.Duration(p.ExpireInSeconds) * time.Second)
		return nil
	}
	if err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	p.RequestID = c.redactText(p.RequestID)
	return p, nil
}

// policy returns a cached policy for model that is valid for a while yet,
// or fetches one. getPolicy is limited to 100 QPS per account and model, so
// one policy serves every upload while it lasts.
func (c *Client) policy(ctx context.Context, model string) (*Policy, error) {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	if p := c.policies[model]; p != nil {
		margin := min(30*time.Second, time.Duration(p.ExpireInSeconds)*time.Second/10)
		if c.now().Before(p.Expires.Add(-margin)) {
			return p, nil
		}
	}
	p, err := c.GetPolicy(ctx, model)
	if err != nil {
		return nil, err
	}
	c.policies[model] = p
	return p, nil
}

func (c *Client) dropPolicy(model string, p *Policy) {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	if c.policies[model] == p {
		delete(c.policies, model)
	}
}

// Upload stores m (bytes or a ReaderAt, never a URL) as a temporary file
// for model and returns its oss:// URL. The object is named by the SHA-256
// of the content plus an extension from m.MIME, so equal content is stored
// once; a cached URL younger than UploadMaxAge is returned without
// uploading (see WithUploadCache; entries are keyed by account, host, model
// and hash). An upload attempt may take longer than other requests: see
// WithUploadTimeout. A request that uses the URL gets
// X-DashScope-OssResourceResolve: enable automatically. The upload host
// must be https on *.aliyuncs.com or *.alibabacloud.com. Reference:
// https://www.alibabacloud.com/help/en/model-studio/get-temporary-file-url .
func (c *Client) Upload(ctx context.Context, model string, m Media) (string, error) {
	u, err := c.upload(ctx, model, m)
	return u, c.sanitize(err)
}

func (c *Client) upload(ctx context.Context, model string, m Media) (string, error) {
	if strings.TrimSpace(model) == "" {
		return "", errors.New("dashscope: upload: no model")
	}
	if err := m.validate(); err != nil {
		return "", fmt.Errorf("dashscope: upload: %w", err)
	}
	if !m.inline() {
		return "", errors.New("dashscope: upload: media is a URL already")
	}
	hash, err := hashMedia(m)
	if err != nil {
		return "", fmt.Errorf("dashscope: upload: %w", err)
	}
	key := c.uploadKey(model, hash)
	if c.cache != nil {
		if u, ok := c.cache.Load(key); ok && u.URL != "" && c.now().Sub(u.Created) < UploadMaxAge {
			return u.URL, nil
		}
	}
	started := c.now()
	var ossURL string
	for refreshed := false; ; refreshed = true {
		p, err := c.policy(ctx, model)
		if err != nil {
			return "", err
		}
		ossURL, err = c.uploadWith(ctx, p, hash, m)
		if err == nil {
			break
		}
		var apiErr *APIError
		if !refreshed && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden {
			// Most likely the policy expired in flight: fetch a new one once.
			c.dropPolicy(model, p)
			continue
		}
		return "", err
	}
	if c.cache != nil {
		// A failure to remember the upload costs only a re-upload later.
		_ = c.cache.Store(key, CachedUpload{URL: ossURL, Created: started})
	}
	return ossURL, nil
}

// uploadKey is the cache key of content hash for model: uploads are bound
// to the account and region as well.
func (c *Client) uploadKey(model, hash string) UploadKey {
	return UploadKey{Account: KeyFingerprint(c.apiKey), Host: strings.ToLower(c.baseURL.Host), Model: model, SHA256: hash}
}

func (c *Client) uploadWith(ctx context.Context, p *Policy, hash string, m Media) (string, error) {
	if err := c.checkUploadHost(p.UploadHost); err != nil {
		return "", err
	}
	if c.redactText(p.UploadDir) != p.UploadDir {
		// The folder becomes part of the oss:// URL, which is printed,
		// cached and journaled.
		return "", errors.New("dashscope: upload: refusing an upload policy whose upload_dir holds a key")
	}
	if p.MaxFileSizeMB > 0 && m.size() > int64(p.MaxFileSizeMB)<<20 {
		return "", &APIError{StatusCode: http.StatusRequestEntityTooLarge, Code: "FileTooLarge",
			Message: fmt.Sprintf("%d bytes exceed the %d MB upload limit for model %s", m.size(), p.MaxFileSizeMB, p.Model)}
	}
	name := hash + extension(m.MIME)
	key := strings.TrimRight(p.UploadDir, "/") + "/" + name
	b, contentType := multipartBody(p, key, name, &m)
	h := http.Header{}
	h.Set("Content-Type", contentType)
	cl := &call{op: "upload", method: http.MethodPost, url: p.UploadHost, header: h, body: b,
		noAuth: true, idempot: true, decodeErr: decodeOSSError, timeout: c.uploadTimeoutFor(b.size)}
	cl.decode = func(_ *http.Response, r io.Reader, _ *attemptState) error {
		_, _ = io.Copy(io.Discard, io.LimitReader(r, maxErrorBody))
		return nil
	}
	if err := c.do(ctx, cl); err != nil {
		var apiErr *APIError
		// With x-oss-forbid-overwrite, the same content uploaded before (or by
		// an attempt whose answer was lost) is already there.
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || apiErr.Code != "FileAlreadyExists" {
			return "", err
		}
	}
	return "oss://" + key, nil
}

// multipartBody builds the OSS PostObject form: the policy fields in the
// documented order and the file last, with an exact length.
func multipartBody(p *Policy, key, name string, m *Media) (*body, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields := [][2]string{
		{"OSSAccessKeyId", p.OSSAccessKeyID},
		{"Signature", p.Signature},
		{"policy", p.Policy},
		{"key", key},
		{"x-oss-object-acl", p.ObjectACL},
		{"x-oss-forbid-overwrite", p.ForbidOverwrite},
		{"success_action_status", "200"},
		{"x-oss-content-type", m.MIME},
	}
	for _, f := range fields {
		if f[1] != "" {
			_ = mw.WriteField(f[0], f[1]) // writes to a bytes.Buffer cannot fail
		}
	}
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", fileDisposition("file", name))
	hdr.Set("Content-Type", m.MIME)
	_, _ = mw.CreatePart(hdr)
	prefix := bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = mw.Close()
	return rawBody(prefix, m, bytes.Clone(buf.Bytes())), mw.FormDataContentType()
}

// fileDisposition is the Content-Disposition of a file part as
// mime/multipart.Writer.CreateFormFile writes it: name first, both values
// quoted (mime.FormatMediaType would sort filename first and leave a
// token-only value unquoted, which some form parsers reject).
func fileDisposition(field, filename string) string {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return fmt.Sprintf(`form-data; name="%s"; filename="%s"`, q.Replace(field), q.Replace(filename))
}

// decodeOSSError reads OSS's XML error body.
func decodeOSSError(resp *http.Response, data []byte) *APIError {
	var x struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	if xml.Unmarshal(data, &x) == nil && (x.Code != "" || x.Message != "") {
		return &APIError{StatusCode: resp.StatusCode, Code: x.Code, Message: x.Message, RequestID: x.RequestID}
	}
	return decodeAPIError(resp, data)
}

// checkUploadHost refuses to send files anywhere but Alibaba Cloud over
// https; a client whose base URL is a loopback test server may also upload
// to a loopback host.
func (c *Client) checkUploadHost(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && u.Host != "" {
		host := strings.ToLower(u.Hostname())
		if u.Scheme == "https" && (strings.HasSuffix(host, ".aliyuncs.com") || strings.HasSuffix(host, ".alibabacloud.com")) {
			return nil
		}
		if (u.Scheme == "http" || u.Scheme == "https") && isLoopback(host) && isLoopback(strings.ToLower(c.baseURL.Hostname())) {
			return nil
		}
	}
	shown := raw
	if err == nil {
		shown = u.Redacted()
	}
	return fmt.Errorf("dashscope: refusing upload host %q: want https on *.aliyuncs.com or *.alibabacloud.com", c.redactText(shown))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hashMedia returns the SHA-256 (hex) of m's bytes.
func hashMedia(m Media) (string, error) {
	h := sha256.New()
	if m.Data != nil {
		h.Write(m.Data)
	} else if n, err := io.Copy(h, io.NewSectionReader(m.ReaderAt, 0, m.Size)); err != nil || n != m.Size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("read media: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extension picks a file extension for a MIME type.
func extension(mimeType string) string {
	switch strings.ToLower(mimeType) {
	case "image/jpeg", "image/jpg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	case "image/tiff":
		return ".tiff"
	case "image/heic":
		return ".heic"
	case "image/gif":
		return ".gif"
	case "video/mp4":
		return ".mp4"
	case "video/quicktime":
		return ".mov"
	case "video/webm":
		return ".webm"
	case "video/x-msvideo", "video/avi":
		return ".avi"
	case "video/x-matroska":
		return ".mkv"
	case "video/mpeg":
		return ".mpeg"
	}
	if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}
