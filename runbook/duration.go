package runbook

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration the way people write them in a plan:
// Go syntax ("4h", "15m", "1h30m"), words ("4 hours", "15 minutes",
// "1.5 hrs", "2 days"), or a bare number of seconds ("900").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	if d, err := time.ParseDuration(t); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return d, nil
	}
	// One or more "<number> <unit>" pairs: "1 hour 30 minutes", "1h 30m".
	m := wordDurationRE.FindAllStringSubmatchIndex(t, -1)
	if m == nil {
		return 0, fmt.Errorf("cannot read %q as a duration (use 4h, 15m or \"4 hours\")", s)
	}
	var total time.Duration
	pos := 0
	for _, idx := range m {
		if strings.TrimSpace(strings.Trim(t[pos:idx[0]], ",")) != "" && strings.TrimSpace(t[pos:idx[0]]) != "and" {
			return 0, fmt.Errorf("cannot read %q as a duration (use 4h, 15m or \"4 hours\")", s)
		}
		n, err := strconv.ParseFloat(t[idx[2]:idx[3]], 64)
		if err != nil {
			return 0, fmt.Errorf("cannot read %q as a duration", s)
		}
		unit, ok := unitOf(t[idx[4]:idx[5]])
		if !ok {
			return 0, fmt.Errorf("unknown unit %q in duration %q", t[idx[4]:idx[5]], s)
		}
		total += time.Duration(n * float64(unit))
		pos = idx[1]
	}
	if strings.TrimSpace(t[pos:]) != "" {
		return 0, fmt.Errorf("cannot read %q as a duration (use 4h, 15m or \"4 hours\")", s)
	}
	return total, nil
}

var wordDurationRE = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*([a-z]+)`)

func unitOf(u string) (time.Duration, bool) {
	switch u {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, true
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, true
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour, true
	case "d", "day", "days":
		return 24 * time.Hour, true
	case "w", "wk", "week", "weeks":
		return 7 * 24 * time.Hour, true
	}
	return 0, false
}

// windowInTitleRE finds a parenthesised time window in a phase title:
// "(0-15 minutes)", "(1-4 hours)", "(15 minutes - 1 hour)", "(< 5 minutes)".
var windowInTitleRE = regexp.MustCompile(`\(\s*((?:<|under|within)?\s*[0-9][^()]*?)\s*\)`)

// windowFromTitle returns the window written in a title, the title with the
// window removed, and whether one was found.
func windowFromTitle(title string) (Window, string, bool) {
	if !strings.Contains(title, "(") {
		return Window{}, title, false
	}
	for _, m := range windowInTitleRE.FindAllStringSubmatchIndex(title, -1) {
		w, err := ParseWindow(title[m[2]:m[3]])
		if err != nil {
			continue
		}
		rest := strings.TrimSpace(title[:m[0]] + title[m[1]:])
		rest = strings.Join(strings.Fields(rest), " ")
		return w, rest, true
	}
	return Window{}, title, false
}

// ParseWindow reads a phase window: "0-15 minutes", "1-4 hours",
// "15m-1h", "15 minutes - 1 hour", "< 5 minutes" (a deadline: 0 to 5m).
// A bare unit-less start takes the end's unit ("1-4 hours" is 1h to 4h).
func ParseWindow(s string) (Window, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"<=", "<", "≤", "under ", "within ", "up to "} {
		if strings.HasPrefix(t, p) {
			d, err := ParseDuration(strings.TrimPrefix(t, p))
			if err != nil {
				return Window{}, fmt.Errorf("window %q: %w", s, err)
			}
			return Window{Start: 0, End: d, Set: true, Deadline: true}, nil
		}
	}
	var a, b string
	for _, sep := range []string{"–", "—", " to ", "-"} {
		if i := strings.Index(t, sep); i > 0 {
			a, b = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+len(sep):])
			break
		}
	}
	if a == "" || b == "" {
		return Window{}, fmt.Errorf("window %q: want START-END such as 15m-1h or \"1-4 hours\"", s)
	}
	end, err := ParseDuration(b)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	var start time.Duration
	if n, err := strconv.ParseFloat(a, 64); err == nil {
		// "1-4 hours": the start shares the end's unit.
		unit := time.Second
		if m := wordDurationRE.FindStringSubmatch(b); m != nil {
			if u, ok := unitOf(m[2]); ok {
				unit = u
			}
		}
		if n == 0 {
			unit = 0
		}
		start = time.Duration(n * float64(unit))
	} else if start, err = ParseDuration(a); err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	return Window{Start: start, End: end, Set: true}, nil
}

// formatDuration writes d compactly for messages: 15m, 1h, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0"
	}
	return s
}
