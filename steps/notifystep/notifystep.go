// Package notifystep declares the notify step. The incident engine carries
// notify out itself (runbook/incident fills the template and delivers it
// with package notify); the registered action only says so when something
// runs it outside an incident. Package notify stays a leaf of the standard
// library.
package notifystep

import (
	"context"

	"github.com/drbook/drbook/steps"
)

// ErrNeedsIncident is returned by the notify action run outside an
// incident.
var ErrNeedsIncident = steps.ErrNeedsIncident

// Action is the notify step. It fills a communication template from the
// incident and delivers it, so the incident engine carries it out itself
// (runbook/incident); run on its own, it only says so.
type Action struct{}

// Register adds the notify action to r.
func Register(r *steps.Registry) { r.Register(Action{}) }

// Spec declares notify.
func (Action) Spec() steps.Spec {
	return spec
}

// Run refuses: notify needs the incident around it.
func (Action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	return steps.Result{Status: steps.StatusFailed, Summary: "notify: not run: " + ErrNeedsIncident.Error()}, ErrNeedsIncident
}
