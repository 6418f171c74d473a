package dashscope

import (
	"regexp"
	"strings"
)

// secretPattern matches DashScope-style keys and bearer tokens.
const secretPattern = `\bsk-[A-Za-z0-9_\-]{16,}|Bearer [A-Za-z0-9._~+/=\-]{16,}`

func newSecretRE() *regexp.Regexp { return regexp.MustCompile(secretPattern) }

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

// Redact scrubs text of the client's API key and of anything else that
// looks like a DashScope key (sk-…) or a bearer token, so callers can log
// request dumps and error text safely.
func (c *Client) Redact(text string) string {
	if c.apiKey != "" && strings.Contains(text, c.apiKey) {
		text = strings.ReplaceAll(text, c.apiKey, RedactKey(c.apiKey))
	}
	if strings.Contains(text, "sk-") || strings.Contains(text, "Bearer ") {
		text = c.secretRE.ReplaceAllStringFunc(text, func(s string) string {
			if t, ok := strings.CutPrefix(s, "Bearer "); ok {
				return "Bearer " + RedactKey(t)
			}
			return RedactKey(s)
		})
	}
	return text
}

// hideKey replaces the client's exact API key in text (answers: unlike
// Redact it leaves other sk-… strings alone, which may be content).
func (c *Client) hideKey(text string) string {
	if c.apiKey == "" || !strings.Contains(text, c.apiKey) {
		return text
	}
	return strings.ReplaceAll(text, c.apiKey, RedactKey(c.apiKey))
}
