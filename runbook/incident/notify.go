package incident

import (
	"context"
	"errors"

	"github.com/drbook/drbook/steps"
)

// The notify action fills a communication template from the incident and
// records it. It needs the incident, so RunStep carries it out itself; the
// registered action only says so when something runs it outside one.
func init() { steps.Register(notifyAction{}) }

// ErrNeedsIncident is returned by the notify action run outside an incident.
var ErrNeedsIncident = errors.New("notify fills its template from an incident: run it as a step of one (or use 'drbook comms ID --record')")

type notifyAction struct{}

func (notifyAction) Spec() steps.Spec {
	s, _ := steps.Declared("notify")
	return s
}

func (notifyAction) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	return steps.Result{Status: steps.StatusFailed, Summary: "notify: not run: " + ErrNeedsIncident.Error()}, ErrNeedsIncident
}
