package incident

import "time"

// Verdict is how an objective came out.
type Verdict string

// Verdicts. Running means the clock has not stopped yet; Unset means the
// runbook sets no such objective.
const (
	Unset   Verdict = "unset"
	Running Verdict = "running"
	Met     Verdict = "met"
	Missed  Verdict = "missed"
	Unknown Verdict = "unknown" // the clock cannot be judged (no restore recorded, abandoned...)
)

// WindowStatus is where a phase stands against its time window.
type WindowStatus string

// Window statuses. AtRisk is the last 20 % of the window.
const (
	WindowNone       WindowStatus = "none" // the phase has no window
	WindowNotStarted WindowStatus = "not-started"
	WindowOnTrack    WindowStatus = "on-track"
	WindowAtRisk     WindowStatus = "at-risk"
	WindowOverdue    WindowStatus = "overdue"
	WindowDone       WindowStatus = "done"      // completed within its window (or it has none)
	WindowDoneLate   WindowStatus = "done-late" // completed after its window closed
)

// AtRiskFraction is the share of a phase window, at its end, in which the
// phase is at risk.
const AtRiskFraction = 0.2

// Clocks is where recovery stands at one moment, as plain data for the TUI
// and exports to format. All times are incident times.
type Clocks struct {
	Now     time.Time
	Start   time.Time     // detection (or declaration)
	Elapsed time.Duration // Now - Start, or ClosedAt - Start once closed
	Speed   float64       // drill speed factor; 1 in real time

	RTO Objective // stops when the RTO phase completes
	MTD Objective // runs until the incident is closed
	RPO RPOClock

	Response Response
	Phase    PhaseClock   // the current phase; zero ID when every phase is done
	Phases   []PhaseClock // every phase, in order

	// Projected is when the incident will finish at the pace so far (steps
	// closed per elapsed time); zero until a step is closed.
	Projected time.Time
	// ProjectedVerdict says whether Projected is within the RTO deadline.
	ProjectedVerdict Verdict
	StepsClosed      int
	StepsTotal       int
}

// Objective is a time objective measured from Start.
type Objective struct {
	Objective time.Duration // 0: the runbook sets none (Verdict Unset)
	Deadline  time.Time
	Remaining time.Duration // to the deadline; negative when past it; frozen once stopped
	Stopped   time.Time     // zero while running
	Took      time.Duration // Stopped - Start, once stopped
	Verdict   Verdict
}

// RPOClock is the recovery point achieved: DetectedAt minus the time of the
// backup that was restored.
type RPOClock struct {
	Objective  time.Duration
	BackupTime time.Time     // zero until a restore records it
	Achieved   time.Duration // data lost: Start - BackupTime
	Verdict    Verdict       // Unknown until a restore records a backup time
}

// Response is the severity's response deadline (plan 2.1), met by the
// first acknowledged step or action.
type Response struct {
	Severity  int
	Objective time.Duration
	Deadline  time.Time
	Remaining time.Duration
	Acked     time.Time // zero until acknowledged
	Verdict   Verdict
}

// PhaseClock is a phase against its window.
type PhaseClock struct {
	ID, Title   string
	Window      Window
	StartedAt   time.Time
	CompletedAt time.Time
	Took        time.Duration // CompletedAt - StartedAt once both are known
	Status      WindowStatus
	// Left is the time to the window's end (negative when overdue); zero
	// when the phase has no window or is done.
	Left time.Duration
}

// Window is a phase's planned window relative to Start.
type Window struct {
	Start, End time.Duration
	Set        bool
}

// DefaultResponse is the plan's response time per severity (section 2.1),
// used when a runbook does not override it.
var DefaultResponse = map[int]time.Duration{
	1: 15 * time.Minute,
	2: time.Hour,
	3: 4 * time.Hour,
}

// Clocks computes the clocks at incident time now.
func (s *State) Clocks(now time.Time) Clocks {
	return computeClocks(s, now)
}
