package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

const drillsUsage = `
Usage: drbook drills [--json] [--fail-overdue]
       drbook drills --year YYYY [--json]

Show the plan's recovery testing schedule (section 4.1: monthly, quarterly
and annual tests) with, for each test, when a drill of it last ran, its
measured recovery time (until the RTO clock stopped) against the RTO,
when the next one is due, and whether it is overdue. A test never drilled
is overdue. A drill counts as the test given by 'declare --test' or
'drill', else the one its runbook exercises; abandoned drills do not count.

--year lists every drill declared that year with its signed evidence file
('drbook evidence ID') and whether the file still verifies.

Exit codes: 0 shown; 1 with --fail-overdue, some test is overdue; 2 usage
error or unreadable state database.
`

func runDrills(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON, failOverdue bool
	fs := newFlagSet("drills", drillsUsage, iox)
	so.AddFlags(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts (durations in seconds)")
	fs.BoolVar(&failOverdue, "fail-overdue", false, "exit 1 when a test is overdue (for cron and monitoring)")
	var year int
	fs.IntVar(&year, "year", 0, "list that year's drills with their evidence")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("drills: unexpected argument %q", fs.Arg(0))
	}
	if fs.Changed("year") {
		return drillsYear(ctx, iox, &so, year, asJSON)
	}
	now := time.Now()
	var list []incident.DrillStatus
	s, err := so.open("drills", iox, true)
	switch {
	case errors.Is(err, incident.ErrNotFound):
		for _, t := range incident.Tests {
			list = append(list, incident.DrillStatus{Test: t, Overdue: true})
		}
	case err != nil:
		return err
	default:
		defer s.Close()
		if list, err = s.Drills(ctx, now); err != nil {
			return incidentErr("drills", err)
		}
	}
	overdue := 0
	for _, d := range list {
		if d.Overdue {
			overdue++
		}
	}
	if asJSON {
		if err := writeJSON(iox.Stdout, list); err != nil {
			return err
		}
	} else {
		// Fits 80 columns: the last drill's id and the RTO itself are in
		// --json; the RTO column says whether the recovery met it.
		rows := [][]string{{"TEST", "EVERY", "LAST RUN", "RECOVERY", "RTO", "NEXT DUE"}}
		for _, d := range list {
			last, rec, res, due := "never", "-", "-", "now"
			if d.LastIncident != "" {
				last = d.LastRun.UTC().Format("2006-01-02")
				if d.RTOVerdict == incident.Met || d.RTOVerdict == incident.Missed {
					rec, res = incident.FormatDuration(d.Recovery), string(d.RTOVerdict)
				}
				due = d.Due.UTC().Format("2006-01-02")
			}
			if d.Overdue {
				due = "OVERDUE"
			}
			rows = append(rows, []string{d.ID, d.Frequency, last, rec, res, due})
		}
		if err := writeTable(iox.Stdout, termWidth, rows); err != nil {
			return err
		}
	}
	if failOverdue && overdue > 0 {
		return failed(fmt.Errorf("drills: %d of %d scheduled tests are overdue", overdue, len(list)))
	}
	return nil
}
