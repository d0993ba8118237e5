package cli

import (
	"context"
	"fmt"

	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
)

const closeUsage = `
Usage: drbook close ID --resolved|--abandoned [--summary S]

Close incident ID. Resolving it stops the RTO clock if its phase has not
completed yet. A drill's sandbox gets drbook's system checks first,
recorded in the timeline (is the fault really gone?). Without --summary
the summary is a tally of the steps. The post-incident report is written
to STATE_DIR/reports/ID.md, as the TUI and 'drbook drill --auto' write it,
and the command says where.

Exit codes: 0 closed; 1 already closed, or an action is still running;
2 usage error, unknown incident, unreadable state database.
`

func runClose(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var resolved, abandoned bool
	var summary string
	fs := newFlagSet("close", closeUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.BoolVar(&resolved, "resolved", false, "the system is recovered")
	fs.BoolVar(&abandoned, "abandoned", false, "the incident was given up (false alarm, handed over)")
	fs.StringVar(&summary, "summary", "", "one or two sentences for the report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("close: want one ID (run 'drbook close --help')")
	}
	if resolved == abandoned {
		return usageErr("close: say --resolved or --abandoned")
	}
	s, in, err := attach(ctx, "close", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	outcome := incident.StatusResolved
	if abandoned {
		outcome = incident.StatusAbandoned
	}
	cl, err := drill.Close(ctx, in, s, drill.CloseOptions{Outcome: outcome, Summary: summary,
		Via: "with drbook close", ReportDir: drill.ReportDir(so.dir(iox))})
	if err != nil {
		if in.State().Status != incident.StatusOpen { // closed, but the report could not be written
			return failed(fmt.Errorf("close: %s is %s, but its report: %w", in.ID(), in.State().Status, err))
		}
		return incidentErr("close", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	c := in.Clocks()
	fmt.Fprintf(iox.Stdout, "%s: %s after %s; RTO %s\n", in.ID(), outcome, incident.FormatDuration(c.Elapsed), c.RTO.Verdict)
	for _, f := range cl.CheckFailures {
		fmt.Fprintf(iox.Stdout, "system check still failing: %s\n", f)
	}
	fmt.Fprintf(iox.Stdout, "Report written to %s\n", cl.Report)
	return nil
}
