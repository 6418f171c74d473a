package media

import (
	"fmt"
	"strings"
)

// Severity says whether a problem stops a file from being sent.
type Severity string

// Severities: an error means the API would reject the file as it is (or
// vision cannot read it); a warning means it will be sent, changed or at risk.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one broken limit or unreadable file, with a stable code, a
// message naming the file and the limit, and the fix.
type Problem struct {
	Code     string   `json:"code"` // stable, e.g. "image.too_small"
	Severity Severity `json:"severity"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s [%s]", p.Path, p.Message, p.Code) }

// HasErrors reports whether any problem is an error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Fixable reports whether vision repairs the problem itself when it
// prepares the file (resizing, re-encoding, stepping quality down, sending a
// video as its frames), so the file can still be sent. Validators mark such
// problems with a fix that starts "none needed".
func (p Problem) Fixable() bool { return strings.HasPrefix(p.Fix, "none needed") }
