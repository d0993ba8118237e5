package incident

import (
	"fmt"
	"time"
)

// Rebuild replays a timeline into a State: the only way State is made.
// The first event must be the declaration.
func Rebuild(events []Event) (*State, error) {
	if len(events) == 0 || events[0].Kind != KindDeclared || events[0].Data.Declared == nil {
		return nil, fmt.Errorf("rebuild incident: timeline does not start with its declaration")
	}
	st := &State{}
	for i := range events {
		st.apply(&events[i])
	}
	return st, nil
}

// Apply folds events read after st.LastSeq (Store.EventsAfter) into st: a
// follower keeps its state current without replaying the whole timeline.
// Events at or before LastSeq are ignored.
func (st *State) Apply(events ...Event) {
	for i := range events {
		if events[i].Seq > st.LastSeq {
			st.apply(&events[i])
		}
	}
}

// apply folds one event into the state. It never fails: the timeline is
// the truth, and an event the state cannot place (a step the snapshot does
// not know) is still counted.
func (st *State) apply(ev *Event) {
	st.Events++
	st.LastSeq = ev.Seq
	st.LastHash = ev.Hash
	st.LastEvent = ev.At
	switch ev.Kind {
	case KindDeclared:
		if ev.Data.Declared == nil || st.ID != "" {
			return // only the first event declares; Verify reports any other
		}
		d := *ev.Data.Declared
		st.ID = ev.Incident
		st.Declaration = d
		st.Severity = d.Severity
		st.Status = StatusOpen
		st.Phases = make([]PhaseState, len(d.Runbook.Phases))
		for i, p := range d.Runbook.Phases {
			ps := PhaseState{PhaseSnapshot: p, Steps: make([]StepState, len(p.Steps))}
			for j, s := range p.Steps {
				ps.Steps[j] = StepState{StepSnapshot: s, Phase: p.ID, Status: StepPending}
			}
			st.Phases[i] = ps
		}
	case KindResumed:
		st.Resumes++
		if r := ev.Data.ClockReal; r != nil {
			st.ClockAt, st.ClockReal = ev.At, *r
		}
	case KindSeverity:
		st.Severity = ev.Data.Severity
	case KindPhaseStarted:
		if p := st.Phase(ev.Phase); p != nil && p.StartedAt.IsZero() {
			p.StartedAt = ev.At
		}
	case KindPhaseCompleted:
		if p := st.Phase(ev.Phase); p != nil && p.CompletedAt.IsZero() {
			if p.StartedAt.IsZero() {
				p.StartedAt = ev.At
			}
			p.CompletedAt = ev.At
		}
	case KindRTOStopped:
		if st.RTOStopped.IsZero() {
			st.RTOStopped = ev.At
		}
	case KindStepStarted:
		st.ack(ev.At)
		if s := st.Step(ev.Step); s != nil {
			s.Status, s.Reason, s.StartedAt, s.EndedAt, s.Findings = StepRunning, "", ev.At, time.Time{}, nil
		}
	case KindStepDone, KindStepSkipped, KindStepFailed:
		st.ack(ev.At)
		if s := st.Step(ev.Step); s != nil {
			s.Status = map[Kind]StepStatus{KindStepDone: StepDone, KindStepSkipped: StepSkipped, KindStepFailed: StepFailed}[ev.Kind]
			s.Reason, s.Findings = ev.Data.Reason, nil
			if ev.Kind == KindStepDone {
				s.Reason, s.Findings = ev.Data.Text, ev.Data.Findings
			}
			if s.StartedAt.IsZero() {
				s.StartedAt = ev.At
			}
			s.EndedAt = ev.At
		}
	case KindNote:
		st.Notes = append(st.Notes, Note{At: ev.At, Actor: ev.Actor, Text: ev.Data.Text})
	case KindActionStarted:
		st.ack(ev.At)
		st.Runs = append(st.Runs, ActionRun{Step: ev.Step, Action: ev.Data.Action, Mode: ev.Data.Mode,
			Params: ev.Data.Params, StartedAt: ev.At, By: ev.Actor})
		if s := st.Step(ev.Step); s != nil {
			s.Runs = append(s.Runs, len(st.Runs)-1)
		}
		if ev.Data.PID > 0 {
			if st.runProc == nil {
				st.runProc, st.runHost = map[int]int{}, map[int]string{}
			}
			st.runProc[len(st.Runs)-1], st.runHost[len(st.Runs)-1] = ev.Data.PID, ev.Data.Host
		}
	case KindActionOutput:
		if r := st.openRun(ev.Step); r != nil {
			r.Output += ev.Data.Output
			r.Truncated += ev.Data.Truncated
		}
	case KindActionFinished:
		if r := st.openRun(ev.Step); r != nil {
			r.FinishedAt = ev.At
			r.Duration = time.Duration(ev.Data.DurationMS) * time.Millisecond
			r.Status, r.Summary, r.ExitCode, r.Error = ev.Data.Status, ev.Data.Summary, ev.Data.ExitCode, ev.Data.Error
			r.Findings = ev.Data.Findings
			if ev.Data.BackupTime != nil {
				r.BackupTime = *ev.Data.BackupTime
				st.BackupTime = *ev.Data.BackupTime
			}
		}
	case KindActionInterrupted:
		if r := st.openRun(ev.Step); r != nil {
			r.Status = "interrupted"
			r.Error = ev.Data.Reason
			r.Summary = ev.Data.Summary
			if ev.Data.Status == "cancelled" { // it ended then; after a crash the end is unknown
				r.FinishedAt = ev.At
				r.Duration = time.Duration(ev.Data.DurationMS) * time.Millisecond
			}
		}
		if s := st.Step(ev.Step); s != nil && s.Status == StepRunning {
			s.Status, s.Reason = StepInterrupted, ev.Data.Reason
		}
	case KindComms:
		if ev.Data.Comms != nil {
			st.Comms = append(st.Comms, *ev.Data.Comms)
		}
	case KindFinding:
		if ev.Data.Finding != nil {
			st.Findings = append(st.Findings, FindingEntry{Finding: *ev.Data.Finding, At: ev.At, Actor: ev.Actor})
		}
	case KindDelivery:
		if ev.Data.Delivery != nil {
			st.Deliveries = append(st.Deliveries, *ev.Data.Delivery)
		}
	case KindSignoff:
		if ev.Data.Signoff != nil {
			st.Signoffs = append(st.Signoffs, SignoffEntry{Signoff: *ev.Data.Signoff, At: ev.At, Actor: ev.Actor})
		}
	case KindClosed:
		st.Status = ev.Data.Outcome
		st.ClosedAt = ev.At
		st.Summary = ev.Data.Text
	}
}

func (st *State) ack(at time.Time) {
	if st.FirstAck.IsZero() {
		st.FirstAck = at
	}
}

// openRun returns the step's last action run if it has not finished.
func (st *State) openRun(step string) *ActionRun {
	for i := len(st.Runs) - 1; i >= 0; i-- {
		r := &st.Runs[i]
		if r.Step == step {
			if r.FinishedAt.IsZero() && r.Status == "" {
				return r
			}
			return nil
		}
	}
	return nil
}

// clone returns a deep copy the caller may keep.
func (st *State) clone() *State {
	c := *st
	c.Phases = make([]PhaseState, len(st.Phases))
	for i, p := range st.Phases {
		p.Steps = append([]StepState(nil), p.Steps...)
		for j := range p.Steps {
			p.Steps[j].Runs = append([]int(nil), p.Steps[j].Runs...)
		}
		c.Phases[i] = p
	}
	c.Notes = append([]Note(nil), st.Notes...)
	c.Runs = append([]ActionRun(nil), st.Runs...)
	c.Comms = append([]Message(nil), st.Comms...)
	c.Findings = append([]FindingEntry(nil), st.Findings...)
	c.Signoffs = append([]SignoffEntry(nil), st.Signoffs...)
	c.Deliveries = append([]DeliveryEntry(nil), st.Deliveries...)
	c.runProc, c.runHost = make(map[int]int, len(st.runProc)), make(map[int]string, len(st.runHost))
	for k, v := range st.runProc {
		c.runProc[k], c.runHost[k] = v, st.runHost[k]
	}
	return &c
}
