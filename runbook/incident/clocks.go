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
	// ProjectedVerdict says whether Projected is within the RTO deadline
	// (the MTD deadline once the RTO clock has stopped).
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

func computeClocks(s *State, now time.Time) Clocks {
	d := s.Declaration
	rb := d.Runbook
	start := s.Start()
	end := now
	closed := s.Status != StatusOpen && !s.ClosedAt.IsZero()
	if closed {
		end = s.ClosedAt
	}
	c := Clocks{Now: now, Start: start, Elapsed: end.Sub(start), Speed: d.Speed}
	if c.Speed == 0 {
		c.Speed = 1
	}
	abandoned := s.Status == StatusAbandoned

	c.RTO = objective(rb.RTO, start, end, s.RTOStopped, abandoned && s.RTOStopped.IsZero())
	var mtdStop time.Time
	if closed {
		mtdStop = s.ClosedAt
	}
	c.MTD = objective(rb.MTD, start, end, mtdStop, abandoned)

	c.RPO = RPOClock{Objective: rb.RPO, BackupTime: s.BackupTime, Verdict: Unknown}
	if !s.BackupTime.IsZero() {
		c.RPO.Achieved = max(start.Sub(s.BackupTime), 0)
		c.RPO.Verdict = Unset
		if rb.RPO > 0 {
			c.RPO.Verdict = verdict(c.RPO.Achieved <= rb.RPO)
		}
	} else if rb.RPO == 0 {
		c.RPO.Verdict = Unset
	}

	r := Response{Severity: s.Severity, Objective: rb.Response[s.Severity], Acked: s.FirstAck}
	if r.Objective == 0 {
		r.Objective = DefaultResponse[s.Severity]
	}
	r.Deadline = start.Add(r.Objective)
	switch {
	case r.Objective == 0:
		r.Verdict = Unset
	case !r.Acked.IsZero():
		r.Verdict = verdict(r.Acked.Sub(start) <= r.Objective)
	default:
		r.Remaining = r.Deadline.Sub(end)
		r.Verdict = Running
		if r.Remaining < 0 {
			r.Verdict = Missed
		}
	}
	c.Response = r

	el := c.Elapsed
	current := s.CurrentPhase()
	for _, p := range s.Phases {
		pc := PhaseClock{ID: p.ID, Title: p.Title, Window: Window{Start: p.Start, End: p.End, Set: p.HasWindow},
			StartedAt: p.StartedAt, CompletedAt: p.CompletedAt}
		switch {
		case !p.CompletedAt.IsZero():
			pc.Took = p.CompletedAt.Sub(p.StartedAt)
			pc.Status = WindowDone
			if p.HasWindow && p.CompletedAt.Sub(start) > p.End {
				pc.Status = WindowDoneLate
			}
		case !p.HasWindow:
			pc.Status = WindowNone
		default:
			pc.Left = p.End - el
			riskFrom := p.End - time.Duration(float64(p.End-p.Start)*AtRiskFraction)
			switch {
			case el > p.End:
				pc.Status = WindowOverdue
			case el >= riskFrom:
				pc.Status = WindowAtRisk
			case p.StartedAt.IsZero():
				pc.Status = WindowNotStarted
			default:
				pc.Status = WindowOnTrack
			}
		}
		c.Phases = append(c.Phases, pc)
		if current != nil && current.ID == p.ID {
			c.Phase = pc
		}
	}

	c.StepsClosed, c.StepsTotal = s.Progress()
	c.ProjectedVerdict = Unknown
	if c.StepsClosed > 0 && c.StepsTotal > 0 {
		if c.StepsClosed == c.StepsTotal {
			last := time.Time{}
			for _, p := range s.Phases {
				for _, st := range p.Steps {
					if st.EndedAt.After(last) {
						last = st.EndedAt
					}
				}
			}
			c.Projected = last
		} else {
			c.Projected = start.Add(time.Duration(float64(el) * float64(c.StepsTotal) / float64(c.StepsClosed)))
		}
		// Against the RTO while its clock runs, then against the MTD.
		c.ProjectedVerdict = Unset
		switch {
		case rb.RTO > 0 && s.RTOStopped.IsZero():
			c.ProjectedVerdict = verdict(!c.Projected.After(start.Add(rb.RTO)))
		case rb.MTD > 0:
			c.ProjectedVerdict = verdict(!c.Projected.After(start.Add(rb.MTD)))
		}
	}
	return c
}

func verdict(ok bool) Verdict {
	if ok {
		return Met
	}
	return Missed
}

// objective is a clock from start against obj that stops at stopped (zero:
// still running at end).
func objective(obj time.Duration, start, end, stopped time.Time, abandoned bool) Objective {
	o := Objective{Objective: obj, Stopped: stopped}
	if obj > 0 {
		o.Deadline = start.Add(obj)
	}
	if !stopped.IsZero() {
		o.Took = stopped.Sub(start)
	}
	switch {
	case obj == 0:
		o.Verdict = Unset
	case !stopped.IsZero():
		o.Remaining = obj - o.Took
		o.Verdict = verdict(o.Took <= obj)
		if abandoned && o.Verdict == Met {
			o.Verdict = Unknown
		}
	default:
		o.Remaining = obj - end.Sub(start)
		switch {
		case o.Remaining < 0:
			o.Verdict = Missed
		case abandoned:
			o.Verdict = Unknown
		default:
			o.Verdict = Running
		}
	}
	return o
}
