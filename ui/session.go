package ui

import (
	"context"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// Session is the incident the TUI is showing, as the TUI needs it. The
// engine's *incident.Incident is adapted to it in engine.go; a follower
// (drbook resume --follow) gets a read-only one that rereads the store.
//
// Every method may do I/O, so the TUI calls them only from a tea.Cmd.
// Implementations are safe for concurrent use.
type Session interface {
	// State returns a snapshot of the incident.
	State() (*incident.State, error)
	// Now is the incident's clock (a drill's speed factor applies).
	Now() time.Time
	// Runbook is the incident's runbook, for the steps' Markdown; nil when
	// it cannot be found any more (the snapshot still drives everything).
	Runbook() *runbook.Runbook
	// ReadOnly is true for a follower.
	ReadOnly() bool

	// RunStep runs a step's action and returns its recorded outcome.
	RunStep(ctx context.Context, stepID string, confirmed bool, emit steps.Emit) (incident.StepOutcome, error)
	Ack(stepID string) error
	Done(stepID, note string) error
	Skip(stepID, reason string) error
	Fail(stepID, reason string) error
	Note(text string) error
	SetSeverity(sev int, reason string) error
	Close(outcome incident.Outcome, summary string) error

	Timeline() (string, error)
	Report() (string, error)
	Comms() (string, error)
	Contacts() string
	// Close releases the session's store.
	Release() error
}

// headerFrom maps the engine's state and clocks onto the header.
func headerFrom(st *incident.State, ck incident.Clocks, readOnly bool) headerVM {
	h := headerVM{
		ID:       st.ID,
		Drill:    st.Declaration.Mode == incident.Drill,
		ReadOnly: readOnly,
		Severity: st.Severity,
		Title:    st.Declaration.Title,
		Elapsed:  ck.Elapsed,
		Speed:    ck.Speed,
		RTO:      objectiveVM(ck.RTO),
		MTD:      objectiveVM(ck.MTD),
	}
	if h.Title == "" {
		h.Title = st.Declaration.Runbook.Title
	}
	if st.Status != incident.StatusOpen && st.Status != "" {
		h.Status = strings.ToUpper(string(st.Status))
	}
	switch ck.RPO.Verdict {
	case incident.Met:
		h.RPO, h.RPOPace = "RPO met (lost "+fmtDur(ck.RPO.Achieved)+")", paceMet
	case incident.Missed:
		h.RPO, h.RPOPace = "RPO MISSED (lost "+fmtDur(ck.RPO.Achieved)+")", paceOverdue
	case incident.Unset:
		h.RPO = "RPO -"
	default:
		h.RPO = "RPO " + fmtDur(ck.RPO.Objective) + ": -"
	}
	if ck.Phase.ID != "" {
		h.Phase = shortPhase(ck.Phase.Title)
		h.PhaseLeft = ck.Phase.Left
		h.PhasePace = windowPace(ck.Phase.Status)
		if !ck.Phase.Window.Set {
			h.PhasePace = paceNone
			h.Phase += " (no window)"
		}
	}
	return h
}

func objectiveVM(o incident.Objective) clockVM {
	c := clockVM{Set: o.Verdict != incident.Unset && o.Objective > 0, Left: o.Remaining}
	switch o.Verdict {
	case incident.Met:
		c.Done, c.Left = true, max(o.Remaining, 0)
	case incident.Missed:
		c.Done, c.Left = true, min(o.Remaining, -time.Nanosecond)
	}
	switch {
	case o.Remaining < 0:
		c.Pace = paceOverdue
	case float64(o.Remaining) < incident.AtRiskFraction*float64(o.Objective):
		c.Pace = paceAtRisk
	default:
		c.Pace = paceOnTrack
	}
	return c
}

func windowPace(s incident.WindowStatus) pace {
	switch s {
	case incident.WindowOnTrack, incident.WindowNotStarted:
		return paceOnTrack
	case incident.WindowAtRisk:
		return paceAtRisk
	case incident.WindowOverdue, incident.WindowDoneLate:
		return paceOverdue
	case incident.WindowDone:
		return paceMet
	}
	return paceNone
}

// shortPhase drops a phase title's parenthesised window: "Immediate Actions
// (0-15 minutes)" is "Immediate Actions" in the header, which has the
// countdown already.
func shortPhase(t string) string {
	if i := strings.Index(t, " ("); i > 0 {
		t = t[:i]
	}
	return strings.TrimSuffix(t, " Phase")
}
