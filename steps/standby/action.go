package standby

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// PromoteChecks are the checks a promotion runs on the secondary; Verify
// adds the configuration check.
var (
	PromoteChecks = []string{"integrity-check", "validate-data"}
	VerifyChecks  = []string{"integrity-check", "validate-data", "validate-config"}
)

// Promote is the standby-promote action: sync the secondary to the newest
// counted backup, then check its integrity and data.
type Promote struct{}

// Spec implements steps.Action.
func (Promote) Spec() steps.Spec {
	return steps.Spec{
		Name:    "standby-promote",
		Summary: "Promote the secondary site: restore the newest counted backup into it, then check its integrity and data.",
		Params: []steps.Param{
			{Name: "secondary", Doc: "the secondary QuantAI root; in a drill, empty makes a sandbox next to the primary"},
			{Name: "from", Doc: "latest, a path, or s3://...", Default: "latest"},
			{Name: "backups", Doc: "local backup directory (default: the incident's)"},
			{Name: "s3", Doc: "s3://bucket/prefix to look for the latest backup in"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
		Timeout:     time.Hour,
	}
}

// Run implements steps.Action.
func (Promote) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	env := req.Env
	sec, err := SecondaryRoot(env, req.Params["secondary"])
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	if req.DryRun {
		return steps.Result{Status: steps.StatusSimulated, Summary: "dry run: would restore the newest counted backup into " + sec}, nil
	}
	if !req.Confirmed {
		return steps.Result{Status: steps.StatusFailed, Summary: "standby promote: not confirmed; nothing changed"},
			fmt.Errorf("standby promote: %w", steps.ErrNotConfirmed)
	}
	res, err := Sync(ctx, env, sec, req.Params, emit)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: firstLine(err.Error()), Data: res}, err
	}
	emit(steps.Event{Time: env.Clock(), Stream: steps.Info, Line: res.Restore})
	res.Checks, res.Failed, err = Check(ctx, env, sec, PromoteChecks, emit)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: firstLine(err.Error()), Data: res}, err
	}
	out := steps.Result{BackupTime: res.BackupTime, Data: res}
	if len(res.Failed) > 0 {
		out.Status = steps.StatusFailed
		out.Summary = fmt.Sprintf("secondary %s restored but fails its checks: %s", sec, strings.Join(res.Failed, "; "))
		return out, nil
	}
	out.Status = steps.StatusOK
	out.Summary = fmt.Sprintf("secondary %s promoted: backup taken %s (%s behind); integrity and data checks pass",
		sec, res.BackupTime.UTC().Format(time.RFC3339), Behind(res.Behind))
	return out, nil
}

// Verify is the standby-verify action: the system checks on the secondary
// once it serves.
type Verify struct{}

// Spec implements steps.Action.
func (Verify) Spec() steps.Spec {
	return steps.Spec{
		Name:    "standby-verify",
		Summary: "Verify the secondary site works: database integrity, data validation and configuration checks on it.",
		Params: []steps.Param{
			{Name: "secondary", Doc: "the secondary QuantAI root; in a drill, empty means the one standby-promote made"},
		},
		Drill: runbook.DrillRun,
	}
}

// Run implements steps.Action.
func (Verify) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	sec, err := SecondaryRoot(req.Env, req.Params["secondary"])
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: err.Error()}, err
	}
	ran, failed, err := Check(ctx, req.Env, sec, VerifyChecks, emit)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: firstLine(err.Error())}, err
	}
	data := map[string]any{"secondary": sec, "checks": ran, "failed": failed}
	if len(failed) > 0 {
		return steps.Result{Status: steps.StatusFailed, Data: data,
			Summary: fmt.Sprintf("secondary %s fails %d check(s): %s", sec, len(failed), strings.Join(failed, "; "))}, nil
	}
	return steps.Result{Status: steps.StatusOK, Data: data,
		Summary: fmt.Sprintf("secondary %s verified: %d checks pass (integrity, data, configuration)", sec, len(ran))}, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
