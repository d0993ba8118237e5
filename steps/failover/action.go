package failover

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/drbook/drbook/steps"
)

// Register adds the failover-plan action to r.
func Register(r *steps.Registry) {
	r.Register(Action{})
}

// Action is the failover-plan action. It writes the plan to the output
// file when one is given (relative to the root) and always records it in
// the result.
type Action struct{}

// Spec implements steps.Action.
func (Action) Spec() steps.Spec {
	return spec
}

// Run implements steps.Action.
func (Action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	from, to := req.Params["from"], req.Params["to"]
	if from == "" {
		from = "ibkr"
	}
	if to == "" {
		to = "alpaca"
	}
	p, err := Build(ctx, Options{Root: req.Env.Root, From: from, To: to, Now: req.Env.Now})
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	for _, l := range strings.Split(strings.TrimRight(p.Markdown(), "\n"), "\n") {
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: l})
	}
	summary := fmt.Sprintf("failover plan %s → %s: %d positions, hedge gross notional %s (no orders sent)", p.From, p.To, len(p.Rows), price(p.Gross))
	if out := req.Params["output"]; out != "" {
		if !filepath.IsAbs(out) {
			out = filepath.Join(req.Env.Root, out)
		}
		if req.DryRun {
			summary += "; dry run: would write " + out
		} else {
			if err := p.Write(out); err != nil {
				return steps.Result{Status: steps.StatusFailed, Summary: err.Error(), Data: p}, err
			}
			summary += "; written to " + out
		}
	}
	if len(p.Warnings) > 0 {
		summary += fmt.Sprintf("; %d warnings", len(p.Warnings))
	}
	return steps.Result{Status: steps.StatusOK, Summary: summary, Data: p}, nil
}
