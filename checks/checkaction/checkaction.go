// Package checkaction runs drbook's checks as runbook actions:
// integrity-check, validate-data and validate-config. The checks
// themselves live in package checks, a library other actions (the backup
// and restore) use too; this package is the only one that registers them.
package checkaction

import (
	"context"
	"strings"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps"
)

// action runs a set of checks as a runbook action.
type action struct {
	name   string
	checks []string
}

// Register adds integrity-check, validate-data and validate-config to r.
func Register(r *steps.Registry) {
	r.Register(action{"integrity-check", []string{checks.DBIntegrity, checks.CriticalTables}})
	r.Register(action{"validate-data", []string{checks.DataValidation}})
	r.Register(action{"validate-config", []string{checks.Config}})
}

func (a action) Spec() steps.Spec {
	return specs[a.name]
}

// Run runs the checks, streaming each finding as an info line. A failed
// check is a failed result whose Data is the report; an error means the
// checks could not run at all.
func (a action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	// An action runs inside the TUI or a drill, which keep an RSS budget:
	// no memory-mapped reads (mapped pages count in RSS, up to the whole
	// database per connection). drbook check keeps them for speed.
	opts := checks.Options{Root: req.Env.Root, Only: a.checks, Full: strings.EqualFold(req.Params["full"], "true"), Now: req.Env.Now, MmapSize: -1}
	rep, err := checks.Run(ctx, opts, func(f checks.Finding) {
		if emit != nil {
			emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Info, Line: checks.Line(f)})
		}
	})
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: a.name + ": interrupted", Data: rep}, err
	}
	res := steps.Result{Status: steps.StatusOK, Data: rep}
	if rep.Failed() {
		res.Status = steps.StatusFailed
	}
	var parts []string
	for _, c := range rep.Checks {
		parts = append(parts, c.Name+" "+string(c.Status))
	}
	res.Summary = strings.Join(parts, ", ")
	if bad := problems(rep); bad != "" {
		res.Summary += ": " + bad
	}
	return res, nil
}

// problems lists the items that did not pass, briefly.
func problems(rep checks.Report) string {
	var out []string
	for _, f := range rep.Findings {
		if f.Status != checks.Pass {
			out = append(out, f.Item+" "+string(f.Status))
		}
	}
	return strings.Join(out, ", ")
}
