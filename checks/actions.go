package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/drbook/drbook/steps"
)

// action runs a set of checks as a runbook action.
type action struct {
	name   string
	checks []string
}

func init() {
	steps.Register(action{"integrity-check", []string{DBIntegrity, CriticalTables}})
	steps.Register(action{"validate-data", []string{DataValidation}})
	steps.Register(action{"validate-config", []string{Config}})
}

func (a action) Spec() steps.Spec {
	s, _ := steps.Declared(a.name)
	return s
}

// Run runs the checks, streaming each finding as an info line. A failed
// check is a failed result whose Data is the report; an error means the
// checks could not run at all.
func (a action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	// An action runs inside the TUI or a drill, which keep an RSS budget:
	// no memory-mapped reads (mapped pages count in RSS, up to the whole
	// database per connection). drbook check keeps them for speed.
	opts := Options{Root: req.Env.Root, Only: a.checks, Full: strings.EqualFold(req.Params["full"], "true"), Now: req.Env.Now, MmapSize: -1}
	rep, err := Run(ctx, opts, func(f Finding) {
		if emit != nil {
			emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Info, Line: Line(f)})
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
func problems(rep Report) string {
	var out []string
	for _, f := range rep.Findings {
		if f.Status != Pass {
			out = append(out, f.Item+" "+string(f.Status))
		}
	}
	return strings.Join(out, ", ")
}

// Line renders a finding as one line of text: "FAIL data-validation
// audit-gaps: 1 gap in the audit trail".
func Line(f Finding) string {
	return fmt.Sprintf("%s %s %s: %s", strings.ToUpper(string(f.Status)), f.Check, f.Item, f.Message)
}
