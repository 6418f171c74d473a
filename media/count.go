package media

import (
	"fmt"

	"github.com/qwen-vision/vision/tokens"
)

// VideoCountProblems checks the number of videos in one request against
// the API's limit (64, seed 001 line 2268), whatever the transport.
func VideoCountProblems(n int, spec tokens.Spec) []Problem {
	limit := spec.VideosPerRequest
	if limit <= 0 || n <= limit {
		return nil
	}
	return []Problem{{Code: "video.too_many", Severity: SeverityError,
		Message: fmt.Sprintf("%d videos in one request; the API accepts at most %d", n, limit),
		Fix:     fmt.Sprintf("split them into requests of at most %d videos", limit)}}
}
