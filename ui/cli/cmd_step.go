package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/drbook/drbook/runbook/incident"
)

const stepUsage = `
Usage: drbook step ID STEP start|done|skip|fail [--reason R]

Record a step's progress in incident ID: started, done (--reason is an
optional note), skipped or failed (--reason required). STEP is the step's
id as 'drbook show RUNBOOK' lists it, the part after the phase
("kill-switch" for "immediate-actions/kill-switch"), or a unique beginning
of either ("activate-backup"). Completing a phase's last step completes
the phase; completing the RTO phase stops the RTO clock. This records what
the operator did; it runs nothing: a step whose action drbook did not run
is recorded as "marked done by hand".

Exit codes: 0 recorded; 1 the step or incident cannot do that now (already
done, closed incident); 2 usage error, unknown incident or step, missing
reason, unreadable state database.
`

func runStep(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var reason string
	fs := newFlagSet("step", stepUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.StringVar(&reason, "reason", "", "why it was skipped or failed; a note when done")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return usageErr("step: want ID STEP start|done|skip|fail, got %d arguments (run 'drbook step --help')", fs.NArg())
	}
	verb := fs.Arg(2)
	switch verb {
	case "start", "done", "skip", "fail":
	default:
		return usageErr("step: %q: want start, done, skip or fail", verb)
	}
	if (verb == "skip" || verb == "fail") && strings.TrimSpace(reason) == "" {
		return usageErr("step: %s needs --reason", verb)
	}
	s, in, err := attach(ctx, "step", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	stepID, err := resolveStep(in.State(), fs.Arg(1))
	if err != nil {
		return incidentErr("step", err)
	}
	switch verb {
	case "start":
		err = in.StartStep(stepID)
	case "done":
		err = in.DoneStep(stepID, reason)
	case "skip":
		err = in.SkipStep(stepID, reason)
	case "fail":
		err = in.FailStep(stepID, reason)
	}
	if err != nil {
		return incidentErr("step", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	st := in.State()
	fmt.Fprintf(iox.Stdout, "%s: %s %s\n", in.ID(), stepID, st.Step(stepID).Status)
	return nil
}

// resolveStep accepts a step id, the unique part of one after its phase,
// or a unique prefix of either: derived ids run to 40 characters
// ("activate-backup" for "immediate-actions/activate-backup-systems-if-available").
func resolveStep(st *incident.State, ref string) (string, error) {
	if st.Step(ref) != nil {
		return ref, nil
	}
	match := func(ok func(id, tail string) bool) []string {
		var found []string
		for _, p := range st.Phases {
			for _, s := range p.Steps {
				if ok(s.ID, s.ID[strings.LastIndex(s.ID, "/")+1:]) {
					found = append(found, s.ID)
				}
			}
		}
		return found
	}
	found := match(func(id, tail string) bool { return tail == ref })
	if len(found) == 0 && ref != "" {
		found = match(func(id, tail string) bool { return strings.HasPrefix(tail, ref) || strings.HasPrefix(id, ref) })
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", &incident.Error{Err: incident.ErrUnknownStep, Detail: ref, Advice: "list them with 'drbook show " + st.Declaration.Runbook.ID + "'"}
	}
	return "", &incident.Error{Err: incident.ErrUnknownStep, Detail: ref, Advice: "ambiguous: " + strings.Join(found, ", ")}
}
