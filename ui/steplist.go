package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/drbook/drbook/runbook/incident"
)

// stepRef locates a step in the state's phases.
type stepRef struct{ phase, step int }

func flatten(st *incident.State) []stepRef {
	var out []stepRef
	for i, p := range st.Phases {
		for j := range p.Steps {
			out = append(out, stepRef{i, j})
		}
	}
	return out
}

// statusMark is a step's mark in the list. Marks are ASCII so they read
// the same on any terminal and without colour.
func statusMark(s incident.StepStatus) string {
	switch s {
	case incident.StepRunning:
		return "[>]"
	case incident.StepDone:
		return "[x]"
	case incident.StepSkipped:
		return "[-]"
	case incident.StepFailed:
		return "[!]"
	case incident.StepInterrupted:
		return "[~]"
	}
	return "[ ]"
}

func (s styles) mark(st incident.StepStatus) string {
	m := statusMark(st)
	switch st {
	case incident.StepDone:
		return s.ok.Render(m)
	case incident.StepSkipped:
		return s.dim.Render(m)
	case incident.StepFailed, incident.StepInterrupted:
		return s.bad.Render(m)
	case incident.StepRunning:
		return s.warn.Render(m)
	}
	return m
}

// phaseTimes is a phase's planned window length against the time it took
// (or has taken so far): "12m/15m".
func phaseTimes(p incident.PhaseState, pc incident.PhaseClock, now time.Time) string {
	planned := "-"
	if pc.Window.Set {
		planned = fmtDur(pc.Window.End - pc.Window.Start)
	}
	actual := "-"
	switch {
	case !p.StartedAt.IsZero() && !p.CompletedAt.IsZero():
		actual = fmtDur(p.CompletedAt.Sub(p.StartedAt))
	case !p.StartedAt.IsZero():
		actual = fmtDur(now.Sub(p.StartedAt))
	}
	return actual + "/" + planned
}

// viewStepList draws the phases and, for the phase holding the cursor, its
// steps, in w columns and h lines. Other phases are folded to one line so
// the whole plan fits at 80x24.
func viewStepList(c *common, st *incident.State, ck incident.Clocks, cursor stepRef, w, h int) string {
	s := c.styles
	var lines []string
	cur := -1
	for i, p := range st.Phases {
		var pc incident.PhaseClock
		if i < len(ck.Phases) {
			pc = ck.Phases[i]
		}
		done, skipped := 0, 0
		for _, sp := range p.Steps {
			switch sp.Status {
			case incident.StepDone:
				done++
			case incident.StepSkipped:
				skipped++
			}
		}
		count := fmt.Sprintf("%d/%d", done, len(p.Steps))
		if skipped > 0 {
			count = fmt.Sprintf("%d+%ds/%d", done, skipped, len(p.Steps))
		}
		times := phaseTimes(p, pc, ck.Now)
		mark := " "
		switch {
		case !p.CompletedAt.IsZero():
			mark = s.ok.Render("x")
		case ck.Phase.ID == p.ID:
			mark = s.warn.Render("*")
		}
		tw := w - 2 - ansi.StringWidth(times) - 1
		title := ansi.Truncate(shortPhase(p.Title)+" "+count, tw, "…")
		line := mark + " " + pad(s.bold.Render(title), tw) + " " + s.pace(windowPace(pc.Status), times)
		lines = append(lines, line)
		if i != cursor.phase {
			continue
		}
		for j, sp := range p.Steps {
			prefix := "  "
			text := ansi.Truncate(sp.Title, w-8, "…")
			if j == cursor.step {
				prefix = "> "
				cur = len(lines)
				text = s.selected.Render(text)
			}
			lines = append(lines, prefix+s.mark(sp.Status)+" "+text)
		}
	}
	// Scroll so the cursor line is visible.
	off := 0
	if cur >= h {
		off = cur - h + 1
	}
	lines = lines[off:]
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i := range lines {
		lines[i] = pad(ansi.Truncate(lines[i], w, ""), w)
	}
	return strings.Join(lines, "\n")
}
