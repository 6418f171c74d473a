package dashscope

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// keyPattern matches what looks like a DashScope key.
const keyPattern = `\bsk-[A-Za-z0-9_\-]{16,}`

// bearerPattern matches a bearer token in a header dump.
const bearerPattern = `Bearer [A-Za-z0-9._~+/=\-]{16,}`

var (
	keyRE     = regexp.MustCompile(keyPattern)
	bearerRE  = regexp.MustCompile(bearerPattern)
	unicodeRE = regexp.MustCompile(`\\u[0-9a-fA-F]{4}`)
)

// RedactKey returns a form of an API key that is safe to show: "sk-…" plus
// its last four characters for a long key, "[redacted]" otherwise.
func RedactKey(key string) string {
	key = strings.TrimSpace(key)
	if len(key) < 16 {
		return "[redacted]"
	}
	prefix := ""
	if strings.HasPrefix(key, "sk-") {
		prefix = "sk-"
	}
	return prefix + "…" + key[len(key)-4:]
}

// LooksLikeKey reports whether s holds something shaped like a DashScope
// key (sk- and at least 16 more key characters), so that a value given to
// the wrong flag or variable is not echoed in an error.
func LooksLikeKey(s string) bool { return keyRE.MatchString(s) }

// shown quotes a value for an error message, unless it looks like a key.
func shown(s string) string {
	if LooksLikeKey(s) {
		return "(a value that looks like an API key, not shown)"
	}
	return strconv.Quote(s)
}

// Redactor scrubs API keys from text, also from text that arrives in
// pieces (stream deltas, writes to a terminal), where a key may be split
// across pieces: Push holds back the tail of what it was given while that
// tail could be the start of a key, and Flush releases it at the end.
//
// It knows exact secrets (the key, and for an sk-… key also its secret
// part alone, which survives any escaping of the dash such as sk\u002d or
// sk&#45;) and, if asked, anything shaped like a DashScope key. Scrub and
// the hold-back rules are the same, so the pieces Push returns add up to
// what Scrub makes of the whole text. Scrub is safe for concurrent use;
// Push and Flush are not, and AddKey must not race with any of them.
type Redactor struct {
	secrets []string // exact secrets, longest first
	pattern bool     // also anything shaped like a DashScope key (sk-…)
	pending string   // held back by Push
	prev    byte     // the last byte Push passed on
}

// NewRedactor returns a redactor of keys, and with pattern of anything
// shaped like a DashScope key too.
func NewRedactor(pattern bool, keys ...string) *Redactor {
	r := &Redactor{pattern: pattern}
	for _, k := range keys {
		r.AddKey(k)
	}
	return r
}

// minSecret is the shortest secret a Redactor replaces: shorter strings
// would mangle ordinary text.
const minSecret = 8

// AddKey adds a secret to scrub (with its part after "sk-").
func (r *Redactor) AddKey(key string) {
	key = strings.TrimSpace(key)
	add := func(s string) {
		if len(s) < minSecret {
			return
		}
		for _, have := range r.secrets {
			if have == s {
				return
			}
		}
		r.secrets = append(r.secrets, s)
	}
	add(key)
	if body, ok := strings.CutPrefix(key, "sk-"); ok && len(body) >= 12 {
		add(body)
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// fork returns a redactor of the same secrets with nothing held back.
func (r *Redactor) fork() *Redactor {
	return &Redactor{secrets: r.secrets, pattern: r.pattern}
}

// Scrub returns text with every secret replaced by RedactKey of it.
func (r *Redactor) Scrub(text string) string { return r.scrubAfter(text, 0) }

// scrubAfter is Scrub of a piece of text that follows the byte prev (0:
// none), which decides whether a key-shaped word may start at its first
// byte (the pattern's \b).
func (r *Redactor) scrubAfter(text string, prev byte) string {
	for _, s := range r.secrets {
		if strings.Contains(text, s) {
			text = strings.ReplaceAll(text, s, RedactKey(s))
		}
	}
	if r.pattern && strings.Contains(text, "sk-") {
		if isWordChar(prev) {
			return keyRE.ReplaceAllStringFunc(string(prev)+text, RedactKey)[1:]
		}
		text = keyRE.ReplaceAllStringFunc(text, RedactKey)
	}
	return text
}

// Push returns the scrubbed text that can be shown now, of what was held
// back before followed by text.
func (r *Redactor) Push(text string) string {
	buf := r.pending + text
	cut := r.holdFrom(buf)
	r.pending = buf[cut:]
	return r.emit(buf[:cut])
}

// Flush returns what Push still holds back, scrubbed, and forgets it:
// the next Push starts a new text.
func (r *Redactor) Flush() string {
	out := r.emit(r.pending)
	r.pending, r.prev = "", 0
	return out
}

func (r *Redactor) emit(piece string) string {
	out := r.scrubAfter(piece, r.prev)
	if piece != "" {
		r.prev = piece[len(piece)-1]
	}
	return out
}

// holdFrom is where the part of buf that could still become a secret with
// more text starts (len(buf) when none could).
func (r *Redactor) holdFrom(buf string) int {
	cut := len(buf)
	for _, s := range r.secrets {
		for n := min(len(s)-1, len(buf)); n > 0; n-- {
			if strings.HasSuffix(buf, s[:n]) {
				cut = min(cut, len(buf)-n)
				break
			}
		}
	}
	if r.pattern {
		// A key-shaped word is held whole: the pattern needs its start (\b)
		// and its end, which only the next piece may show.
		word := buf[wordStart(buf, len(buf)):]
		if strings.Contains(word, "sk-") || strings.HasSuffix(word, "s") || strings.HasSuffix(word, "sk") {
			cut = min(cut, len(buf)-len(word))
		}
	}
	for moved := true; moved; {
		moved = false
		// Never cut through a whole secret: hold it with the rest.
		for _, s := range r.secrets {
			for i := 0; ; {
				j := strings.Index(buf[i:], s)
				if j < 0 {
					break
				}
				at := i + j
				if at < cut && cut < at+len(s) {
					cut, moved = at, true
				}
				i = at + 1
			}
		}
		// With the pattern, never cut through a word either.
		if r.pattern && cut < len(buf) {
			if w := wordStart(buf, cut); w < cut && isKeyChar(buf[cut]) {
				cut, moved = w, true
			}
		}
	}
	return cut
}

// wordStart is where the run of key characters that ends at i starts.
func wordStart(s string, i int) int {
	for i > 0 && isKeyChar(s[i-1]) {
		i--
	}
	return i
}

func isWordChar(b byte) bool { return b != '-' && isKeyChar(b) }

func isKeyChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

// Redact scrubs text of the client's API key (also of its secret part
// alone, after "sk-", whatever escape hides the dash) and of anything else
// that looks like a DashScope key (sk-…) or a bearer token, so callers can
// log request dumps, error text and records safely. It only replaces
// those strings, so JSON stays JSON.
func (c *Client) Redact(text string) string {
	text = c.secrets.Scrub(text)
	if strings.Contains(text, "Bearer ") {
		text = bearerRE.ReplaceAllStringFunc(text, func(s string) string {
			return "Bearer " + RedactKey(strings.TrimPrefix(s, "Bearer "))
		})
	}
	return text
}

// redactText is Redact for text the server sent, which the client puts in
// errors: where JSON (\u0030), HTML (&#48;) or URL (%30) escapes or line
// breaks (an SSE event's data lines are joined by them) hide a key, the
// text is returned decoded, without its line breaks, and scrubbed.
func (c *Client) redactText(text string) string {
	text = c.Redact(text)
	if strings.ContainsAny(text, "\\&%\r\n") {
		d := strings.NewReplacer("\r", "", "\n", "").Replace(unescape(text))
		if s := c.Redact(d); s != d {
			return s
		}
	}
	return text
}

// unescape undoes JSON \uXXXX escapes, HTML character references and URL
// percent-encoding, as far as each applies.
func unescape(s string) string {
	s = unicodeRE.ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.ParseUint(e[2:], 16, 32)
		return string(rune(n))
	})
	s = html.UnescapeString(s)
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	return s
}

// scrubAnswer hides keys in a model's answer: the client's own and any
// other DashScope key (a model may read one from a document or echo one
// back); unlike Redact it leaves bearer tokens and escapes alone.
func (c *Client) scrubAnswer(text string) string { return c.secrets.Scrub(text) }

// CheckKey reports what makes key unusable in an Authorization header (a
// line break, a space, a control character such as NUL, a non-ASCII
// character) without showing the key; surrounding spaces are allowed (the
// caller trims them). A key file with two lines or a pasted key with a line
// break would otherwise fail every request as a network error.
func CheckKey(key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return errors.New("dashscope: empty API key")
	}
	for i, r := range key {
		what := ""
		switch {
		case r == '\n' || r == '\r':
			what = "a line break"
		case unicode.IsSpace(r):
			what = "a space"
		case unicode.IsControl(r):
			what = "a control character"
		case r > unicode.MaxASCII:
			what = "a non-ASCII character"
		}
		if what != "" {
			return &KeyError{What: what, Offset: i}
		}
	}
	return nil
}

// KeyError is an API key that cannot be sent: it holds What at byte Offset.
type KeyError struct {
	What   string
	Offset int
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("dashscope: the API key holds %s (after %d characters); a key is one word of letters, digits and dashes", e.What, e.Offset)
}

// redactedError is an error the client returns: its text is scrubbed of
// secrets when read, and Unwrap keeps errors.Is and errors.As working.
type redactedError struct {
	err    error
	redact func(string) string
}

func (e *redactedError) Error() string { return e.redact(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// sanitize scrubs err before the client returns or reports it: the fields
// of an APIError inside it (in place), the URL of a url.Error, and its
// text (wrapped in a redactedError). Whatever the server sent (codes,
// request IDs, messages, an upload host) is text the client did not choose.
func (c *Client) sanitize(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*redactedError); ok {
		return err
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Code, apiErr.Type = c.redactText(apiErr.Code), c.redactText(apiErr.Type)
		apiErr.Message, apiErr.RequestID = c.redactText(apiErr.Message), c.redactText(apiErr.RequestID)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = c.redactText(ue.URL)
	}
	return &redactedError{err: err, redact: c.redactText}
}
