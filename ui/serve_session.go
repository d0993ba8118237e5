package ui

import (
	"context"
	"fmt"

	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// RefreshMsg asks the incident screen to reread its session's state: drbook
// serve sends it to every screen on an incident when an event is written,
// by another SSH session or another drbook process.
type RefreshMsg struct{}

// Refresher is a Session that can catch up with events other writers
// appended to its incident.
type Refresher interface {
	Refresh(ctx context.Context) (bool, error)
	IncidentID() string
}

// Refresh applies events appended by other sessions or processes.
func (s *engineSession) Refresh(ctx context.Context) (bool, error) { return s.in.Refresh(ctx) }

// IncidentID is the id of the incident the session drives.
func (s *engineSession) IncidentID() string { return s.in.ID() }

// AttachSession opens an open incident for one more operator while other
// sessions in the same process may be running its actions: unlike
// OpenSession, with resume false it records nothing on opening and does
// not mark running actions as interrupted (they are this process's own).
// With resume true it behaves as OpenSession (the first attach after the
// process started).
func AttachSession(ctx context.Context, cfg EngineConfig, ref string, resume bool) (Session, error) {
	if resume {
		return OpenSession(ctx, cfg, ref)
	}
	id, err := cfg.Store.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rb, mode, err := cfg.OpenRunbook(ctx, id)
	if err != nil {
		return nil, err
	}
	if mode == incident.Live && !cfg.Live {
		return nil, fmt.Errorf("%s is a LIVE incident: serve it with --live --root DIR", id)
	}
	in, err := incident.Open(ctx, cfg.Store, id, rb, cfg.Clocks(), incident.OpenOptions{Operator: cfg.Operator})
	if err != nil {
		return nil, err
	}
	decl := in.State().Declaration
	env := steps.Env{Root: decl.Root, Drill: decl.Mode == incident.Drill, IncidentID: id, Operator: cfg.Operator.Name, Now: in.Now}
	if decl.Mode == incident.Drill {
		if dir := drill.DirOf(decl.Root); dir != "" {
			env = drill.EnvFor(dir, in, cfg.Operator.Name)
		}
	} else {
		env.Drill = false
	}
	cfg.Wire(in)
	return NewSession(in, cfg.Store, rb, env, cfg.StateDir), nil
}
