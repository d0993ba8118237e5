package ui

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// errReadOnly is what a follower's mutations return.
var errReadOnly = errors.New("read-only: this view follows an incident another operator runs")

// NewFollowSession returns a read-only session that rereads the incident
// from the store on every State call (the TUI polls it), for a second
// operator or a manager watching: drbook resume ID --follow.
func NewFollowSession(ctx context.Context, cfg EngineConfig, ref string) (Session, error) {
	id, err := cfg.Store.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	st, err := cfg.Store.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	d := st.Declaration
	rb, err := cfg.LoadRunbook(d.Runbook.Source)
	if err != nil {
		rb, _ = cfg.LoadRunbook(d.Runbook.ID)
	}
	return &followSession{ctx: ctx, store: cfg.Store, id: id, rb: rb, stateDir: cfg.StateDir,
		clock: incident.Scaled(cfg.Clocks(), d.DeclaredAt, d.Speed)}, nil
}

type followSession struct {
	ctx      context.Context
	store    *incident.Store
	id       string
	rb       *runbook.Runbook
	clock    incident.Clock
	stateDir string

	mu   sync.Mutex
	last *incident.State
}

// State rereads the incident only when the timeline has grown: an idle
// poll costs one small query, not a replay of every event. The state
// returned is never changed afterwards (the screen keeps it).
func (f *followSession) State() (*incident.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last != nil {
		evs, err := f.store.EventsAfter(f.ctx, f.id, f.last.LastSeq)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return f.last, nil
		}
	}
	st, err := f.store.Load(f.ctx, f.id)
	if err != nil {
		return nil, err
	}
	f.last = st
	return st, nil
}
func (f *followSession) Now() time.Time            { return f.clock.Now() }
func (f *followSession) Runbook() *runbook.Runbook { return f.rb }
func (f *followSession) ReadOnly() bool            { return true }
func (f *followSession) RunStep(context.Context, string, bool, steps.Emit) (incident.StepOutcome, error) {
	return incident.StepOutcome{}, errReadOnly
}
func (f *followSession) Ack(string) error                     { return errReadOnly }
func (f *followSession) Done(string, string) error            { return errReadOnly }
func (f *followSession) Skip(string, string) error            { return errReadOnly }
func (f *followSession) Fail(string, string) error            { return errReadOnly }
func (f *followSession) Note(string) error                    { return errReadOnly }
func (f *followSession) SetSeverity(int, string) error        { return errReadOnly }
func (f *followSession) Close(incident.Outcome, string) error { return errReadOnly }
func (f *followSession) Release() error                       { return nil }
func (f *followSession) Contacts() string                     { return contactsText(f.rb) }

func (f *followSession) Timeline() (string, error) {
	st, err := f.State()
	if err != nil {
		return "", err
	}
	return timelineText(f.ctx, f.store, f.id, st.LastSeq)
}

func (f *followSession) Report() (string, error) {
	st, err := f.store.Load(f.ctx, f.id)
	if err != nil {
		return "", err
	}
	return reportText(f.store, st, f.Now(), f.stateDir)
}

func (f *followSession) Comms() (string, error) {
	st, err := f.store.Load(f.ctx, f.id)
	if err != nil {
		return "", err
	}
	return commsText(st, f.Now())
}
