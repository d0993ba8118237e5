package incident

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

var errTODO = errors.New("incident: not implemented yet")

// DeclareOptions describe a new incident.
type DeclareOptions struct {
	ID         string // "" generates INC-YYYYMMDD-HHMM-xxxx (DRILL-... for drills)
	Severity   int    // 1, 2 or 3; 0 takes the runbook's default, else 2
	Mode       Mode   // Live or Drill; "" is Live
	Title      string // "" takes the runbook's title
	Operator   Operator
	DetectedAt time.Time // zero: now; earlier than now backdates the clocks
	Root       string    // the system root (a sandbox in drills)
	Scenario   string    // drill: the injected fault
	DrillTest  string    // drill: the scheduled test it counts as (Tests); "" guesses from the runbook
	Speed      float64   // drill speed factor: 60 makes one real minute one hour
	Impact     string    // business impact, for the notification template
	// Vars are the runbook variables' values; secret ones are recorded as
	// [REDACTED] and redacted from everything recorded later.
	Vars map[string]string
	// Secrets are further values never to record (passphrases...).
	Secrets []string
}

// OpenOptions say who opens an incident and why.
type OpenOptions struct {
	Operator Operator
	// Resume records a resumed event and marks an action that was running
	// when its process died as interrupted. Leave it false to attach for
	// one scripted change (drbook step, note, close) while a TUI may be
	// running the incident elsewhere.
	Resume bool
	// Secrets are values never to record (passphrases, secret variables).
	Secrets []string
}

// Incident is an open incident. Every mutation appends its event(s) to the
// store durably before returning; the in-memory state is only ever changed
// by applying those events. It is safe for concurrent use.
type Incident struct {
	mu     sync.Mutex
	store  *Store
	rb     *runbook.Runbook
	base   Clock // real (or test) clock
	clock  Clock // incident clock: base, scaled in drills
	actor  Operator
	state  *State
	redact *redactor
}

// Declare records a new incident running rb and returns it.
func Declare(ctx context.Context, store *Store, rb *runbook.Runbook, opts DeclareOptions, clock Clock) (*Incident, error) {
	return nil, errTODO
}

// Open reopens an open incident from its timeline. rb is the runbook it
// runs, needed only by RunStep; it may be nil. A closed incident is refused
// with ErrClosed (use Store.Load to read it).
func Open(ctx context.Context, store *Store, id string, rb *runbook.Runbook, clock Clock, opts OpenOptions) (*Incident, error) {
	return nil, errTODO
}

// ID returns the incident's id.
func (in *Incident) ID() string { return in.state.ID }

// Now returns the incident's time: the clock, sped up in a drill.
func (in *Incident) Now() time.Time { return in.clock.Now() }

// State returns a snapshot of the incident's state.
func (in *Incident) State() *State { return nil }

// Clocks returns the clocks now.
func (in *Incident) Clocks() Clocks {
	st := in.State()
	return st.Clocks(in.Now())
}

// AddSecrets adds values to redact from everything recorded from now on,
// such as a passphrase the operator just typed.
func (in *Incident) AddSecrets(values ...string) {}

// Refresh applies events appended by other processes (drbook note from a
// script, another terminal) and reports whether there were any. The TUI
// polls it for resume --follow.
func (in *Incident) Refresh(ctx context.Context) (bool, error) { return false, errTODO }

// StartStep marks a step running. A failed or interrupted step may be
// started again; a done or skipped one may not.
func (in *Incident) StartStep(stepID string) error { return errTODO }

// DoneStep marks a step done, with an optional note.
func (in *Incident) DoneStep(stepID, note string) error { return errTODO }

// SkipStep marks a step skipped; reason is required.
func (in *Incident) SkipStep(stepID, reason string) error { return errTODO }

// FailStep marks a step failed; reason is required.
func (in *Incident) FailStep(stepID, reason string) error { return errTODO }

// Note adds an operator's note.
func (in *Incident) Note(text string) error { return errTODO }

// SetSeverity changes the severity (1..3).
func (in *Incident) SetSeverity(sev int, reason string) error { return errTODO }

// StartPhase marks a phase started. Starting any of its steps does too.
func (in *Incident) StartPhase(phaseID string) error { return errTODO }

// CompletePhase marks a phase completed, even with steps left open.
// Closing its last open step does so on its own.
func (in *Incident) CompletePhase(phaseID string) error { return errTODO }

// Close closes the incident as StatusResolved or StatusAbandoned.
func (in *Incident) Close(outcome Outcome, summary string) error { return errTODO }

// Notify fills a communication template ("notification" or "update") from
// the incident, records it and returns it. to says who is told.
func (in *Incident) Notify(template, to string) (Message, error) { return Message{}, errTODO }

// RunStep runs a step's block: shell and sql steps through steps.ShellAction
// and steps.SQLAction, action steps through their drbook block's action
// (steps.Lookup); the notify action is handled here and records a comms
// event. It records step_started, action_started, the output (redacted,
// capped, flushed about once a second), action_finished and step_done or
// step_failed, and a restore's backup time for the RPO achieved.
//
// In a drill the block's drill= mode, else the action's default, decides:
// run (against env.Root, the sandbox), simulate or skip; simulated and
// skipped actions are recorded, not run. A destructive step is refused
// with steps.ErrNotConfirmed unless confirmed. emit (may be nil) receives
// the action's events with secrets redacted.
//
// RunStep blocks until the action ends; call it from a goroutine (a
// tea.Cmd). An error means the action could not be carried out (it is
// recorded as a failure); a step whose action ran and failed returns a
// Result with StatusFailed and a nil error.
func (in *Incident) RunStep(ctx context.Context, stepID string, env steps.Env, confirmed bool, emit steps.Emit) (steps.Result, error) {
	return steps.Result{}, errTODO
}
