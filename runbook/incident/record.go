package incident

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/system"
)

// ModeCommand is the mode of an action run from the command line with
// --incident rather than from one of the runbook's steps.
const ModeCommand = "command"

// CommandRun is how an action run outside the incident's steps went.
type CommandRun struct {
	steps.Result // what the action reported, its summary redacted
	// Err is the action's error, redacted: it could not be carried out.
	Err error
}

// RunAction runs a registered action outside the incident's steps (drbook
// run ACTION --incident ID, and the action commands such as 'drbook
// restore --incident ID') and records it with the same redaction, output
// cap and action_finished record as a step's action: action_started, its
// output and action_finished, appended together when it ends so that the
// records of two processes never interleave. Like a step's action it
// acknowledges the incident (the response clock) and shows in the
// report's actions, and a restore's backup time gives the RPO achieved. req.Env's IncidentID, Operator, Drill and Now are filled in from
// the incident; the secrets of req.Env.Root's .env and req.Env.Secrets are
// redacted from emit, the record and what is returned.
//
// The error is not the action's (that is CommandRun.Err): it says the run
// was refused before the action ran (a closed incident; a drill whose
// root is not a sandbox), or that it ran and could not be recorded.
func (in *Incident) RunAction(ctx context.Context, act steps.Action, req steps.Request, emit steps.Emit) (CommandRun, error) {
	spec := act.Spec()
	st := in.State()
	if err := checkOpen(st); err != nil {
		return CommandRun{}, err
	}
	drill := st.Declaration.Mode == Drill
	if drill && !system.IsSandbox(req.Env.Root) {
		return CommandRun{}, &Error{Err: ErrNotSandbox, Detail: req.Env.Root,
			Advice: "a drill's record never mixes with a real system: run it against the drill's sandbox"}
	}
	in.redact.add(req.Env.Secrets...)
	in.redact.add(EnvSecrets(req.Env.Root)...)
	in.redact.add(PassphraseSecrets(req.Env.Vars, os.Getenv)...)
	req.Env.IncidentID, req.Env.Drill = st.ID, drill
	if req.Env.Operator == "" {
		req.Env.Operator = in.actor.String()
	}
	if req.Env.Now == nil {
		req.Env.Now = in.base.Now
	}
	out := &outputBuffer{}
	redEmit := func(ev steps.Event) {
		ev.Line = in.redact.string(ev.Line)
		if ev.Line != "" || ev.Progress == nil {
			out.write(outputLine(ev) + "\n")
		}
		if emit != nil {
			emit(ev)
		}
	}
	start := time.Now()
	res, runErr := act.Run(ctx, req, redEmit)
	if runErr != nil && res.Status == "" {
		res.Status = steps.StatusFailed
	}
	head, tail, dropped := out.final()
	if dropped > 0 {
		head += fmt.Sprintf("[... %d bytes of output not kept: the timeline keeps %d bytes per action ...]\n", dropped, OutputCap)
	}
	params := map[string]string{}
	for k, v := range req.Params {
		params[k] = in.redact.string(v)
	}
	if req.DryRun {
		params["dry-run"] = "true"
	}
	res.Summary = in.redact.string(res.Summary)
	run := CommandRun{Result: res, Err: in.redact.err(runErr)}
	err := in.recordCommand(context.WithoutCancel(ctx), spec.Name, params, time.Since(start), res, runErr, head+tail, dropped)
	if err != nil {
		return run, fmt.Errorf("record %s in %s: %w", spec.Name, st.ID, err)
	}
	return run, nil
}

// recordCommand records an action run outside the incident's steps as
// action_started, its output (redacted, capped at OutputCap; dropped
// bytes not kept) and
// action_finished, appended together. It is refused on a closed
// incident.
func (in *Incident) recordCommand(ctx context.Context, action string, params map[string]string, took time.Duration,
	res steps.Result, runErr error, output string, dropped int64) error {
	host, _ := os.Hostname()
	return in.record(ctx, func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		end := in.clock.Now()
		if f := st.Declaration.Speed; f > 1 {
			took = time.Duration(float64(took) * f)
		}
		start := end.Add(-took)
		if !st.LastEvent.IsZero() && start.Before(st.LastEvent) {
			start = st.LastEvent // keep the timeline in order
		}
		evs := []Event{{Kind: KindActionStarted, At: start,
			Data: EventData{Action: action, Mode: ModeCommand, Params: params, Host: host, PID: os.Getpid()}}}
		if output != "" {
			evs = append(evs, Event{Kind: KindActionOutput, At: end, Data: EventData{Output: output, Truncated: dropped}})
		}
		d := finishedData(action, res, runErr, took)
		return append(evs, Event{Kind: KindActionFinished, At: end, Data: d}), nil
	})
}

// outputLine is how one line of an action's output is kept in the
// timeline: stderr and drbook's own commentary marked.
func outputLine(ev steps.Event) string {
	switch ev.Stream {
	case steps.Stderr:
		return "stderr: " + ev.Line
	case steps.Info:
		return "# " + ev.Line
	}
	return ev.Line
}
