package compliance

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps"
)

// Register adds the compliance-check action to r.
func Register(r *steps.Registry) { r.Register(action{}) }

// action is compliance-check: Check as a read-only runbook action.
type action struct{}

func (action) Spec() steps.Spec {
	return steps.Spec{
		Name:    "compliance-check",
		Summary: "Check every scheduled test ran within its period with verified evidence, the plan's review date and the contacts' verification; changes nothing.",
		Params: []steps.Param{
			{Name: "state-dir", Doc: "drbook's state directory; default: the incident's"},
			{Name: "site", Doc: "site configuration file; default: the one drbook finds"},
		},
		Drill: runbook.DrillRun,
	}
}

// Run checks the state directory of the environment (or the state-dir
// parameter) against the site configuration named by the site parameter,
// else the one drbook finds ($DRBOOK_CONFIG, the default places). A failed
// finding fails the step; warnings do not.
func (action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	dir := req.Params["state-dir"]
	if dir == "" {
		dir = req.Env.StateDir
	}
	if dir == "" {
		err := fmt.Errorf("compliance-check: no state directory: give state-dir")
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	cfg, err := site.Load(req.Params["site"], os.Getenv)
	if err != nil {
		err = fmt.Errorf("compliance-check: site configuration: %w", err)
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	fs, err := Check(ctx, Options{StateDir: dir, Site: cfg, Now: req.Env.Clock(), Exclude: req.Env.IncidentID})
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "compliance-check: " + err.Error()}, err
	}
	n := map[Status]int{}
	var bad []string
	for _, f := range fs {
		n[f.Status]++
		if emit != nil {
			emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Info, Line: fmt.Sprintf("%s %s: %s", strings.ToUpper(string(f.Status)), f.Item, f.Message)})
		}
		if f.Status == Fail {
			bad = append(bad, f.Item)
		}
	}
	res := steps.Result{Status: steps.StatusOK, Data: fs,
		Summary: fmt.Sprintf("compliance: %d pass, %d warn, %d fail", n[Pass], n[Warn], n[Fail])}
	if len(bad) > 0 {
		res.Status = steps.StatusFailed
		res.Summary += ": " + strings.Join(bad, ", ")
	}
	return res, nil
}
