package dashtest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// Paths of the temporary-upload protocol (reference/dashscope-notes.md §2).
const (
	UploadsPath = "/api/v1/uploads" // GET ?action=getPolicy&model=M
	OSSPath     = "/oss"            // the upload_host the policies name
)

// PolicyTTL is the lifetime of the upload policies the stand-in hands out
// (a community client notes about 300 s).
const PolicyTTL = 300 * time.Second

// MaxFileSizeMB is the policies' max_file_size_mb.
const MaxFileSizeMB = 100

// ossFields is the PostObject form in the order the upload page gives, the
// file last (OSS ignores fields after the file).
var ossFields = []string{"OSSAccessKeyId", "Signature", "policy", "key", "x-oss-object-acl",
	"x-oss-forbid-overwrite", "success_action_status", "x-oss-content-type", "file"}

// policy is one upload credential the stand-in issued.
type policy struct {
	model, dir, signature, accessKey string
	expires                          time.Time
}

// object is one uploaded file.
type object struct {
	mime  string
	data  []byte
	model string
}

// Policies returns how many upload policies were issued.
func (s *Server) Policies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.policies)
}

// Uploads returns how many files were stored through OSS.
func (s *Server) Uploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

func (s *Server) violateUpload(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, "upload: "+msg)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<?xml version=\"1.0\"?><Error><Code>InvalidArgument</Code><Message>%s</Message><RequestId>oss-bad</RequestId></Error>", xmlEscape(msg))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s)) // writes to a bytes.Buffer cannot fail
	return b.String()
}

// servePolicy answers getPolicy: GET with the key, action and model.
func (s *Server) servePolicy(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	switch {
	case req.Method != http.MethodGet:
		s.violateUpload(w, "getPolicy with %s", req.Method)
		return
	case req.Header.Get("Authorization") != "Bearer "+s.Key:
		s.violateUpload(w, "getPolicy: bad Authorization header")
		return
	case q.Get("action") != "getPolicy" || q.Get("model") == "":
		s.violateUpload(w, "getPolicy: query %q", req.URL.RawQuery)
		return
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	p := policy{model: q.Get("model"), dir: "dashscope-instant/acct/" + time.Now().UTC().Format("2006-01-02") + "/" + hex.EncodeToString(nonce[:4]),
		signature: "sig-" + hex.EncodeToString(nonce[4:]), accessKey: "LTAI-standin", expires: time.Now().Add(PolicyTTL)}
	doc := "policy-" + hex.EncodeToString(nonce[:])
	s.mu.Lock()
	if s.policies == nil {
		s.policies = map[string]policy{}
	}
	s.policies[doc] = p
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"request_id": "pol-" + hex.EncodeToString(nonce[:2]), "data": map[string]any{
		"policy": doc, "signature": p.signature, "upload_dir": p.dir, "upload_host": s.URL + OSSPath,
		"expire_in_seconds": int(PolicyTTL / time.Second), "max_file_size_mb": MaxFileSizeMB, "capacity_limit_mb": 999999999,
		"oss_access_key_id": p.accessKey, "x_oss_object_acl": "private", "x_oss_forbid_overwrite": "true",
	}})
}

// serveOSS is the PostObject endpoint. It checks what OSS and the upload
// page require: no API key, an exact Content-Length, the form fields in
// order with the file last, a live policy with its signature and access
// key, a key inside the policy's upload_dir named by the content's SHA-256,
// the file part's header as mime/multipart.CreateFormFile writes it, and
// bytes of the declared type.
func (s *Server) serveOSS(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		s.violateUpload(w, "OSS upload with %s", req.Method)
		return
	}
	if req.Header.Get("Authorization") != "" {
		s.violateUpload(w, "the API key was sent to OSS")
		return
	}
	if len(req.TransferEncoding) > 0 || req.ContentLength <= 0 {
		s.violateUpload(w, "upload without a Content-Length")
		return
	}
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		s.violateUpload(w, "Content-Type %q", req.Header.Get("Content-Type"))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, MaxFileSizeMB<<20+1<<20))
	if err != nil {
		return // the client went away
	}
	if int64(len(raw)) != req.ContentLength {
		s.violateUpload(w, "received %d of %d bytes", len(raw), req.ContentLength)
		return
	}
	fields, file, err := readForm(raw, params["boundary"])
	if err != nil {
		s.violateUpload(w, "%v", err)
		return
	}
	s.mu.Lock()
	p, ok := s.policies[fields["policy"]]
	s.mu.Unlock()
	name := sha(file.data) + extOf(fields["x-oss-content-type"])
	switch {
	case !ok:
		s.violateUpload(w, "unknown policy %q", fields["policy"])
		return
	case time.Now().After(p.expires):
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message><RequestId>oss-exp</RequestId></Error>`)
		return
	case fields["Signature"] != p.signature || fields["OSSAccessKeyId"] != p.accessKey:
		s.violateUpload(w, "signature or access key does not match the policy")
		return
	case fields["key"] != p.dir+"/"+name:
		s.violateUpload(w, "key %q: want %s/<sha256 of the content><ext> = %s", fields["key"], p.dir, name)
		return
	case fields["x-oss-object-acl"] != "private" || fields["x-oss-forbid-overwrite"] != "true" || fields["success_action_status"] != "200":
		s.violateUpload(w, "policy fields %v", fields)
		return
	case file.disposition != `form-data; name="file"; filename="`+name+`"`:
		s.violateUpload(w, "file part Content-Disposition %q, want form-data; name=\"file\"; filename=\"%s\"", file.disposition, name)
		return
	case file.mime != fields["x-oss-content-type"]:
		s.violateUpload(w, "file part Content-Type %q, x-oss-content-type %q", file.mime, fields["x-oss-content-type"])
		return
	case len(file.data) > MaxFileSizeMB<<20:
		s.violateUpload(w, "%d bytes over max_file_size_mb %d", len(file.data), MaxFileSizeMB)
		return
	}
	if sniffed := http.DetectContentType(file.data); sniffed != file.mime {
		s.violateUpload(w, "x-oss-content-type %s, bytes are %s", file.mime, sniffed)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objects == nil {
		s.objects = map[string]object{}
	}
	if _, exists := s.objects[fields["key"]]; exists {
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `<?xml version="1.0"?><Error><Code>FileAlreadyExists</Code><Message>The object you specified already exists and can not be overwritten.</Message></Error>`)
		return
	}
	s.objects[fields["key"]] = object{mime: file.mime, data: file.data, model: p.model}
	w.WriteHeader(http.StatusOK)
}

// formFile is the file part of an upload form.
type formFile struct {
	disposition, mime string
	data              []byte
}

// readForm parses a PostObject form, requiring exactly ossFields in order.
func readForm(raw []byte, boundary string) (map[string]string, formFile, error) {
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	fields := map[string]string{}
	var file formFile
	var names []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, file, fmt.Errorf("multipart: %v", err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, file, fmt.Errorf("multipart: %v", err)
		}
		names = append(names, part.FormName())
		if part.FormName() == "file" {
			file = formFile{disposition: part.Header.Get("Content-Disposition"), mime: part.Header.Get("Content-Type"), data: b}
			continue
		}
		fields[part.FormName()] = string(b)
	}
	if got := strings.Join(names, " "); got != strings.Join(ossFields, " ") {
		return nil, file, fmt.Errorf("form fields %q, want %q (the file last)", got, strings.Join(ossFields, " "))
	}
	return fields, file, nil
}

// extOf is the extension vision's client gives a MIME type.
func extOf(mimeType string) string {
	switch mimeType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "video/mp4":
		return ".mp4"
	}
	return ".bin"
}

// ossObject returns an uploaded file by its oss:// URL.
func (s *Server) ossObject(url string) (object, error) {
	key, ok := strings.CutPrefix(url, "oss://")
	if !ok {
		return object{}, fmt.Errorf("not an oss:// URL")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return object{}, fmt.Errorf("%s was never uploaded", url)
	}
	return o, nil
}

// sha is the hex SHA-256 of b.
func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
