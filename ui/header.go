package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// pace is how a clock stands against its objective.
type pace int

const (
	paceNone pace = iota
	paceOnTrack
	paceAtRisk
	paceOverdue
	paceMet
)

// String is the word shown next to the colour, so that the state reads the
// same without colour.
func (p pace) String() string {
	switch p {
	case paceOnTrack:
		return "ON TRACK"
	case paceAtRisk:
		return "AT RISK"
	case paceOverdue:
		return "OVERDUE"
	case paceMet:
		return "MET"
	}
	return ""
}

// clockVM is one countdown in the header.
type clockVM struct {
	Set  bool          // the runbook sets this objective
	Left time.Duration // time left; negative when exceeded
	Done bool          // the clock stopped (objective reached or missed)
	Pace pace
}

// headerVM is everything the header shows. The incident engine's state and
// clocks are mapped onto it in one place (headerFrom), so the header can be
// drawn and tested without an incident.
type headerVM struct {
	ID        string
	Drill     bool
	ReadOnly  bool
	Severity  int
	Title     string
	Status    string // "" while open, else "RESOLVED", "ABANDONED"...
	Elapsed   time.Duration
	Speed     float64
	RTO, MTD  clockVM
	RPO       string // "RPO 15m: not yet known", "RPO met (9m)"...
	RPOPace   pace
	Phase     string
	PhaseLeft time.Duration
	PhasePace pace
	// Replication is "replicated" or "N events not yet replicated" when
	// the timeline is replicated to S3; "" without a replica.
	Replication string
}

// fmtDur prints a duration at minute granularity: "12m", "1h05m", "-3m".
// Minutes are the header's resolution, so an idle screen changes once a
// minute, not once a second.
func fmtDur(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	m := int(d / time.Minute)
	s := fmt.Sprintf("%dm", m)
	if m >= 60 {
		s = fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	if neg {
		return "-" + s
	}
	return s
}

func (s styles) pace(p pace, text string) string {
	switch p {
	case paceOnTrack, paceMet:
		return s.onTrack.Render(text)
	case paceAtRisk:
		return s.atRisk.Render(text)
	case paceOverdue:
		return s.overdue.Render(text)
	}
	return text
}

// viewHeader draws the two header lines at width w.
func viewHeader(c *common, h headerVM, w int) string {
	st := c.styles
	badge := st.liveBadge.Render("[LIVE]")
	if h.Drill {
		badge = st.drillBadge.Render("[DRILL]")
	}
	left := fmt.Sprintf("%s %s SEV%d", badge, st.header.Render(h.ID), h.Severity)
	if h.ReadOnly {
		left += " " + st.dim.Render("(read-only)")
	}
	right := "elapsed " + fmtDur(h.Elapsed)
	if h.Speed > 1 {
		right += fmt.Sprintf(" x%g", h.Speed)
	}
	if h.Status != "" {
		right = h.Status + " " + right
	}
	if h.Replication != "" {
		right = h.Replication + " | " + right
	}
	title := h.Title
	room := w - ansi.StringWidth(left) - ansi.StringWidth(right) - 2
	line1 := left
	if room > 3 {
		line1 += " " + ansi.Truncate(title, room, "…")
	}
	line1 = pad(line1, w-ansi.StringWidth(right)) + right

	line2 := headerLine2(st, h, false)
	if ansi.StringWidth(line2) > w {
		line2 = headerLine2(st, h, true) // drop "left" before cutting
	}
	line2 = ansi.Truncate(line2, w, "…")
	return line1 + "\n" + pad(line2, w)
}

func headerLine2(st styles, h headerVM, compact bool) string {
	var parts []string
	parts = append(parts, clockText(st, "RTO", h.RTO, compact))
	parts = append(parts, clockText(st, "MTD", h.MTD, compact))
	if h.RPO != "" {
		parts = append(parts, st.pace(h.RPOPace, h.RPO))
	}
	if h.Phase != "" {
		ph := fmt.Sprintf("%s %s left", h.Phase, fmtDur(h.PhaseLeft))
		if h.PhaseLeft < 0 {
			ph = fmt.Sprintf("%s over by %s", h.Phase, fmtDur(-h.PhaseLeft))
		}
		if h.PhasePace != paceNone {
			ph += " " + st.pace(h.PhasePace, h.PhasePace.String())
		}
		parts = append(parts, ph)
	}
	return strings.Join(parts, " | ")
}

func clockText(st styles, name string, c clockVM, compact bool) string {
	switch {
	case !c.Set:
		return name + " -"
	case c.Done && c.Left >= 0:
		return st.pace(paceMet, name+" MET")
	case c.Done:
		return st.pace(paceOverdue, name+" MISSED")
	case c.Left < 0:
		return st.pace(paceOverdue, fmt.Sprintf("%s over %s", name, fmtDur(-c.Left)))
	}
	if compact {
		return st.pace(c.Pace, fmt.Sprintf("%s %s", name, fmtDur(c.Left)))
	}
	return st.pace(c.Pace, fmt.Sprintf("%s %s left", name, fmtDur(c.Left)))
}

// pad right-pads s with spaces to display width w.
func pad(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
