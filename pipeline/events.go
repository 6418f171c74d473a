package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// VideoEvent is one timed event of a video-events answer. Start and End are
// seconds from the start of the video, to the millisecond; StartTime and
// EndTime are the same as HH:mm:ss exactly, the format seed 001 (line 248)
// asks the model for, rounded to the nearest second (half to even).
// ModelStart and ModelEnd keep the times the model wrote, before
// MapFrameTimes.
type VideoEvent struct {
	StartTime  string  `json:"start_time"`
	EndTime    string  `json:"end_time"`
	Event      string  `json:"event"`
	Start      float64 `json:"start_s"`
	End        float64 `json:"end_s"`
	ModelStart float64 `json:"model_start_s"`
	ModelEnd   float64 `json:"model_end_s"`
}

// ErrNoEvents means an answer holds no JSON list of events.
var ErrNoEvents = errors.New("no JSON events in the answer")

// Keys accepted for each field, most expected first; models drift.
var (
	startKeys = []string{"start_time", "start", "starttime", "begin", "from"}
	endKeys   = []string{"end_time", "end", "endtime", "stop", "to"}
	textKeys  = []string{"event", "description", "action", "caption", "text"}
)

// maxCandidates bounds how many '[' / '{' positions are tried in prose.
const maxCandidates = 200

// ParseVideoEvents finds the events in a model answer: a JSON array of
// event objects, or an object holding one (seed 001's {"events": [...]}),
// as the whole answer, inside ``` fences (```json or bare), or embedded in
// prose. Times may be HH:MM:SS, MM:SS (two parts are read as minutes and
// seconds), plain seconds, or JSON numbers, with optional fractions. Events
// whose times cannot be read are left out and described in problems; an
// answer with no events list at all gives ErrNoEvents. An empty list is
// valid and gives no events.
func ParseVideoEvents(answer string) (events []VideoEvent, problems []string, err error) {
	raw, ok := findEventList(answer)
	if !ok {
		return nil, nil, ErrNoEvents
	}
	for i, v := range raw {
		n := i + 1
		obj, ok := v.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("event %d: not an object", n))
			continue
		}
		start, err1 := eventTime(obj, startKeys)
		end, err2 := eventTime(obj, endKeys)
		if err := errors.Join(err1, err2); err != nil {
			problems = append(problems, fmt.Sprintf("event %d: %v", n, strings.ReplaceAll(err.Error(), "\n", "; ")))
			continue
		}
		text, _ := lookupKey(obj, textKeys).(string)
		events = append(events, newVideoEvent(start, end, strings.TrimSpace(text), start, end))
	}
	return events, problems, nil
}

func newVideoEvent(start, end float64, text string, modelStart, modelEnd float64) VideoEvent {
	start, end = roundMS(start), roundMS(end)
	return VideoEvent{StartTime: formatHMS(start), EndTime: formatHMS(end), Event: text,
		Start: start, End: end, ModelStart: modelStart, ModelEnd: modelEnd}
}

// CheckVideoEvents lists what is wrong with events for a video of duration
// seconds: an empty description, a start after the end, or a time outside
// [0, duration] by more than tolerance (use one frame interval: the model
// only sees the sampled frames). A duration of 0 skips the range checks.
func CheckVideoEvents(events []VideoEvent, duration, tolerance float64) []string {
	var out []string
	for i, e := range events {
		n := i + 1
		if e.Event == "" {
			out = append(out, fmt.Sprintf("event %d: empty description", n))
		}
		if e.Start > e.End {
			out = append(out, fmt.Sprintf("event %d: starts at %s, after it ends at %s", n, clockTime(e.Start), clockTime(e.End)))
		}
		if e.Start < -tolerance {
			out = append(out, fmt.Sprintf("event %d: starts at %s, before the video", n, clockTime(e.Start)))
		}
		if duration > 0 && e.End > duration+tolerance {
			out = append(out, fmt.Sprintf("event %d: ends at %s, after the video ends at %s", n, clockTime(e.End), clockTime(roundMS(duration))))
		}
	}
	return out
}

// MapFrameTimes maps event times from the model's clock to the source's.
// The video was sent as frames whose source times are frameTimes (sorted)
// with fps sampleFPS, so the model places frame k at k/sampleFPS seconds. A
// model time t maps by linear interpolation through the points
// (k/sampleFPS, frameTimes[k]): a time on frame k gives frameTimes[k], a
// time between two frames the matching point between their source times.
// Beyond the first or last frame the nearest segment is extended (slope 1
// with a single frame), so an end one interval after the last frame maps
// to one source interval after it. Without frames or with sampleFPS ≤ 0
// the events are returned unchanged. The result is a new slice.
func MapFrameTimes(events []VideoEvent, frameTimes []float64, sampleFPS float64) []VideoEvent {
	out := slices.Clone(events)
	if len(frameTimes) == 0 || sampleFPS <= 0 {
		return out
	}
	for i, e := range out {
		out[i] = newVideoEvent(mapTime(e.ModelStart, frameTimes, sampleFPS), mapTime(e.ModelEnd, frameTimes, sampleFPS),
			e.Event, e.ModelStart, e.ModelEnd)
	}
	return out
}

func mapTime(t float64, ft []float64, fps float64) float64 {
	x := t * fps // position in frames
	n := len(ft)
	if n == 1 {
		return ft[0] + t
	}
	k := int(math.Floor(x))
	k = max(0, min(k, n-2)) // segment [k, k+1], extended at both ends
	slope := ft[k+1] - ft[k]
	return ft[k] + (x-float64(k))*slope
}

// findEventList tries fenced blocks, the whole answer, then each JSON value
// starting in the prose, and returns the first list of events found.
func findEventList(answer string) ([]any, bool) {
	var cands []string
	rest := answer
	for {
		_, after, ok := strings.Cut(rest, "```")
		if !ok {
			break
		}
		body, tail, ok := strings.Cut(after, "```")
		if !ok {
			cands = append(cands, after) // unclosed fence: take the rest
			break
		}
		if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], "[{") {
			body = body[nl+1:] // drop the info string ("json")
		}
		cands = append(cands, body)
		rest = tail
	}
	cands = append(cands, answer)
	for _, c := range cands {
		if list, ok := eventListIn(c); ok {
			return list, true
		}
	}
	return nil, false
}

// eventListIn decodes the first JSON value at each '[' or '{' of s.
func eventListIn(s string) ([]any, bool) {
	tried := 0
	for i := 0; i < len(s) && tried < maxCandidates; i++ {
		if s[i] != '[' && s[i] != '{' {
			continue
		}
		tried++
		d := json.NewDecoder(strings.NewReader(s[i:]))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			continue
		}
		if list, ok := eventList(v, 0); ok {
			return list, true
		}
	}
	return nil, false
}

// eventList finds a list of event objects in a decoded value: the value
// itself, its "events" member, or any member holding one.
func eventList(v any, depth int) ([]any, bool) {
	if depth > 3 {
		return nil, false
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return x, true
		}
		for _, e := range x {
			if obj, ok := e.(map[string]any); ok && (lookupKey(obj, startKeys) != nil || lookupKey(obj, endKeys) != nil) {
				return x, true
			}
		}
	case map[string]any:
		if ev := lookupKey(x, []string{"events"}); ev != nil {
			if list, ok := eventList(ev, depth+1); ok {
				return list, true
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if list, ok := eventList(x[k], depth+1); ok && len(list) > 0 {
				return list, true
			}
		}
	}
	return nil, false
}

// lookupKey returns the first of keys present in obj, ignoring case.
func lookupKey(obj map[string]any, keys []string) any {
	for _, k := range keys {
		if v, ok := obj[k]; ok {
			return v
		}
	}
	for k, v := range obj {
		if slices.Contains(keys, strings.ToLower(strings.TrimSpace(k))) {
			return v
		}
	}
	return nil
}

func eventTime(obj map[string]any, keys []string) (float64, error) {
	switch v := lookupKey(obj, keys).(type) {
	case nil:
		return 0, fmt.Errorf("no %s", keys[0])
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%s %s: not a time", keys[0], v)
		}
		return f, nil
	case string:
		t, err := parseEventTime(v)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %v", keys[0], v, err)
		}
		return t, nil
	default:
		return 0, fmt.Errorf("%s: not a time", keys[0])
	}
}

// parseEventTime reads HH:MM:SS, MM:SS or seconds, each with an optional
// fraction (. or , as decimal mark) and an optional trailing "s".
func parseEventTime(s string) (float64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "s"))
	parts := strings.Split(s, ":")
	if len(parts) > 3 || s == "" {
		return 0, errors.New("want HH:MM:SS, MM:SS or seconds")
	}
	total := 0.0
	for i, p := range parts {
		last := i == len(parts)-1
		if last {
			p = strings.Replace(p, ",", ".", 1)
		}
		var f float64
		var err error
		if last {
			f, err = strconv.ParseFloat(p, 64)
		} else {
			var n int
			n, err = strconv.Atoi(p)
			f = float64(n)
		}
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, errors.New("want HH:MM:SS, MM:SS or seconds")
		}
		// Below the leading part, minutes and seconds stay under 60.
		if i > 0 && f >= 60 {
			return 0, fmt.Errorf("%s out of range", []string{"", "minutes", "seconds"}[i+3-len(parts)])
		}
		total = total*60 + f
	}
	return total, nil
}

func roundMS(s float64) float64 { return math.Round(s*1000) / 1000 }

// formatHMS writes seconds as HH:mm:ss, rounded to the nearest second
// (half to even, like Python's round), for start_time and end_time.
func formatHMS(sec float64) string {
	return clockTime(math.RoundToEven(sec))
}

// clockTime writes seconds as HH:MM:SS, adding .mmm when not whole, for
// messages that must not hide a sub-second difference.
func clockTime(sec float64) string {
	sign := ""
	if sec < 0 {
		sign, sec = "-", -sec
	}
	ms := int64(math.Round(sec * 1000))
	h, m, s, f := ms/3600000, ms/60000%60, ms/1000%60, ms%1000
	if f == 0 {
		return fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%s%02d:%02d:%02d.%03d", sign, h, m, s, f)
}
