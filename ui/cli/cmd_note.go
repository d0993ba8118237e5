package cli

import (
	"context"
	"strings"
)

const noteUsage = `
Usage: drbook note ID TEXT... [--severity N]

Add a note to incident ID's timeline (the words of TEXT are joined). With
--severity, change the incident's severity (1 critical, 2 high, 3 medium)
and record TEXT as the reason: the response time and the update interval
of the communications follow the new severity.

Exit codes: 0 recorded; 1 the incident is closed; 2 usage error, unknown
incident, unreadable state database.
`

func runNote(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	fs := newFlagSet("note", noteUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	var sev int
	fs.IntVar(&sev, "severity", 0, "change the severity to N (1, 2 or 3); TEXT is the reason")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usageErr("note: want ID TEXT (run 'drbook note --help')")
	}
	text := strings.TrimSpace(strings.Join(fs.Args()[1:], " "))
	if text == "" {
		return usageErr("note: empty TEXT")
	}
	if fs.Changed("severity") && (sev < 1 || sev > 3) {
		return usageErr("note: --severity %d: want 1, 2 or 3", sev)
	}
	s, in, err := attach(ctx, "note", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	if fs.Changed("severity") && in.State().Severity != sev {
		if err := in.SetSeverity(sev, text); err != nil {
			return incidentErr("note", err)
		}
		pushNow(ctx, iox, so.rep, in.ID())
		return nil
	}
	if err := in.Note(text); err != nil {
		return incidentErr("note", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	return nil
}
