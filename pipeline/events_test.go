package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// seed001Answer is the example output of seed 001 line 248.
const seed001Answer = `{ "events": [ { "start_time": "00:00:00", "end_time": "00:00:05", "event": "The person walks towards the table holding a cardboard box and places it on the table." }, { "start_time": "00:00:05", "end_time": "00:00:15", "event": "The person picks up a scanner and scans the label on the cardboard box." }, { "start_time": "00:00:15", "end_time": "00:00:21", "event": "The person puts the scanner back in its place and then picks up a pen to record information in a notebook."}] }`

type evSpan struct {
	start, end float64
	text       string
}

func spans(evs []VideoEvent) []evSpan {
	var out []evSpan
	for _, e := range evs {
		out = append(out, evSpan{e.Start, e.End, e.Event})
	}
	return out
}

func TestEventParseMessyAnswers(t *testing.T) {
	seed := []evSpan{
		{0, 5, "The person walks towards the table holding a cardboard box and places it on the table."},
		{5, 15, "The person picks up a scanner and scans the label on the cardboard box."},
		{15, 21, "The person puts the scanner back in its place and then picks up a pen to record information in a notebook."},
	}
	two := []evSpan{{0, 5, "a"}, {65.5, 90, "b"}}
	cases := []struct {
		name   string
		answer string
		want   []evSpan
	}{
		{"seed 001 example", seed001Answer, seed},
		{"json fence with prose", "Here are the events:\n\n```json\n" + seed001Answer + "\n```\nLet me know if you need more.", seed},
		{"bare fence", "```\n" + seed001Answer + "\n```", seed},
		{"unclosed fence", "```json\n" + seed001Answer, seed},
		{"bare array in prose", `Sure! [{"start_time":"0:00","end_time":"0:05","event":"a"},{"start_time":"01:05.5","end_time":"00:01:30","event":"b"}] Hope this helps.`, two},
		{"prose brackets before the json", `Events [see below] {"note": 1} then {"events":[{"start_time":"00:00:00","end_time":5,"event":"a"},{"start_time":65.5,"end_time":"90s","event":"b"}]}`, two},
		{"other key and case", `{"result": {"Events": [{"Start_Time": "00:00:00", "End_Time": "00:00:05", "Event": " a "}, {"start": "00:01:05,5", "end": "00:01:30", "description": "b"}]}}`, two},
		{"empty list", `{"events": []}`, nil},
		{"fractions", `[{"start_time":"00:00:01.250","end_time":"00:00:02.5","event":"x"}]`, []evSpan{{1.25, 2.5, "x"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, problems, err := ParseVideoEvents(c.answer)
			if err != nil || len(problems) > 0 {
				t.Fatalf("err %v, problems %v", err, problems)
			}
			got := spans(evs)
			if len(got) != len(c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("event %d = %v, want %v", i+1, got[i], c.want[i])
				}
			}
		})
	}
}

func TestEventParseFormatsTimes(t *testing.T) {
	evs, _, err := ParseVideoEvents(`[{"start_time":"1:02:03","end_time":"3723.25","event":"x"}]`)
	if err != nil || len(evs) != 1 {
		t.Fatal(err, evs)
	}
	e := evs[0]
	// HH:mm:ss exactly (seed 001 line 248); the precise times in start_s/end_s.
	if e.StartTime != "01:02:03" || e.EndTime != "01:02:03" || e.End != 3723.25 || e.ModelStart != 3723 || e.ModelEnd != 3723.25 {
		t.Errorf("got %+v", e)
	}
}

func TestEventParseProblems(t *testing.T) {
	answer := `{"events": [
		{"start_time": "00:00:00", "end_time": "00:00:05", "event": "ok"},
		{"start_time": "soon", "end_time": "00:00:09", "event": "bad start"},
		{"start_time": "00:00:75", "end_time": "00:01:00", "event": "bad seconds"},
		{"start_time": "00:61:00", "end_time": "01:02:00", "event": "bad minutes"},
		{"end_time": "00:00:09", "event": "no start"},
		"just text",
		{"start_time": "-3", "end_time": "00:00:09", "event": "negative"},
		{"start_time": "1:2:3:4", "end_time": "00:00:09", "event": "four parts"}
	]}`
	evs, problems, err := ParseVideoEvents(answer)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Event != "ok" {
		t.Errorf("kept %v, want only the valid event", spans(evs))
	}
	want := []string{
		`event 2: start_time "soon"`,
		`event 3: start_time "00:00:75": seconds out of range`,
		`event 4: start_time "00:61:00": minutes out of range`,
		`event 5: no start_time`,
		`event 6: not an object`,
		`event 7: start_time "-3"`,
		`event 8: start_time "1:2:3:4"`,
	}
	if len(problems) != len(want) {
		t.Fatalf("problems = %q", problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i+1, problems[i], w)
		}
	}
}

func TestEventParseNoEvents(t *testing.T) {
	for _, a := range []string{
		"",
		"I cannot see any person in this video.",
		"```json\n{\"summary\": \"a cat\"}\n```",
		`[1, 2, 3]`,
		`{"events": [{"start_time": "00:00:00", "end_ti`, // cut off by max_tokens
	} {
		if _, _, err := ParseVideoEvents(a); !errors.Is(err, ErrNoEvents) {
			t.Errorf("ParseVideoEvents(%.30q) err = %v, want ErrNoEvents", a, err)
		}
	}
}

func TestEventCheck(t *testing.T) {
	evs, _, _ := ParseVideoEvents(`[
		{"start_time": "00:00:00", "end_time": "00:00:05", "event": "fine"},
		{"start_time": "00:00:09", "end_time": "00:00:06", "event": "backwards"},
		{"start_time": "00:00:10", "end_time": "00:00:20.4", "event": "within one frame of the end"},
		{"start_time": "00:00:10", "end_time": "00:00:21", "event": "past the end"},
		{"start_time": "00:00:01", "end_time": "00:00:02", "event": "  "}
	]`)
	got := CheckVideoEvents(evs, 20, 0.5)
	want := []string{
		"event 2: starts at 00:00:09, after it ends at 00:00:06",
		"event 4: ends at 00:00:21, after the video ends at 00:00:20",
		"event 5: empty description",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := CheckVideoEvents(evs[:1], 0, 0); p != nil {
		t.Errorf("unknown duration: %v", p)
	}
	neg := []VideoEvent{{Start: -1, End: 1, StartTime: "-00:00:01", Event: "x"}}
	if p := CheckVideoEvents(neg, 10, 0.5); len(p) != 1 || !strings.Contains(p[0], "before the video") {
		t.Errorf("negative start: %v", p)
	}
}

func TestEventMapFrameTimes(t *testing.T) {
	// 5 frames sent at fps 2 (model clock 0, 0.5, 1, 1.5, 2 s) taken from the
	// source at 0, 3, 6, 9, 12 s: a sparse sampling the model sees as 2 s long.
	frames := []float64{0, 3, 6, 9, 12}
	evs := []VideoEvent{
		newVideoEvent(0, 1, "on frames 0 and 2", 0, 1),
		newVideoEvent(0.25, 1.75, "between frames", 0.25, 1.75),
		newVideoEvent(2, 2.5, "after the last frame", 2, 2.5),
	}
	got := MapFrameTimes(evs, frames, 2)
	want := []evSpan{{0, 6, "on frames 0 and 2"}, {1.5, 10.5, "between frames"}, {12, 15, "after the last frame"}}
	for i := range want {
		if s := spans(got)[i]; s != want[i] {
			t.Errorf("event %d mapped to %v, want %v", i+1, s, want[i])
		}
	}
	if got[0].EndTime != "00:00:06" || got[1].StartTime != "00:00:02" || got[1].Start != 1.5 || got[1].ModelStart != 0.25 {
		t.Errorf("mapped event = %+v", got[1])
	}
	if evs[0].End != 1 {
		t.Error("MapFrameTimes changed its input")
	}
	// Irregular source times (a variable-frame-rate video): exact on frames.
	vfr := []float64{0.0, 0.4, 1.1, 1.5}
	m := MapFrameTimes([]VideoEvent{newVideoEvent(0.5, 1, "x", 0.5, 1)}, vfr, 2)
	if m[0].Start != 0.4 || m[0].End != 1.1 {
		t.Errorf("vfr: got %v–%v, want 0.4–1.1", m[0].Start, m[0].End)
	}
	// Nothing to map with.
	for _, same := range [][]VideoEvent{MapFrameTimes(evs, nil, 2), MapFrameTimes(evs, frames, 0)} {
		if spans(same)[1] != (evSpan{0.25, 1.75, "between frames"}) {
			t.Errorf("unmapped events changed: %v", spans(same))
		}
	}
	// One frame: offset only.
	if m := MapFrameTimes(evs[:1], []float64{7}, 2); m[0].Start != 7 || m[0].End != 8 {
		t.Errorf("one frame: %v", spans(m))
	}
}

func TestEventTimeFormats(t *testing.T) {
	good := map[string]float64{"00:00:05": 5, "1:02:03": 3723, "02:03": 123, "75:00": 4500, "12": 12,
		"12.5": 12.5, "12.5s": 12.5, " 00:00:05,250 ": 5.25, "0:0:0": 0}
	for in, want := range good {
		if got, err := parseEventTime(in); err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("parseEventTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "abc", "1:2:3:4", "00:60", "-1", "00:-1:00", "1e400", "NaN", "a:00"} {
		if got, err := parseEventTime(in); err == nil {
			t.Errorf("parseEventTime(%q) = %v, want an error", in, got)
		}
	}
	for sec, want := range map[float64]string{0: "00:00:00", 5: "00:00:05", 3723.25: "01:02:03", 59.9996: "00:01:00", 36000: "10:00:00",
		2.5: "00:00:02", 3.5: "00:00:04", 4.49: "00:00:04", -1: "-00:00:01"} {
		if got := formatHMS(sec); got != want {
			t.Errorf("formatHMS(%v) = %q, want %q (HH:mm:ss, half to even)", sec, got, want)
		}
	}
	if got := clockTime(3723.25); got != "01:02:03.250" {
		t.Errorf("clockTime = %q", got)
	}
}
