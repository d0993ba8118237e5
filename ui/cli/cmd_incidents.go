package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

const incidentsUsage = `
Usage: drbook incidents [--json] [--state-s3 s3://bucket/prefix]

List incidents and drills, open ones first, with runbook, mode, severity,
elapsed time (drill time for sped-up drills) and status. With --state-s3
(or $DRBOOK_STATE_S3) incidents only S3 holds, written by another site,
are listed too; 'drbook resume ID' rebuilds one here.

Exit codes: 0 listed; 2 usage error or unreadable state database.
`

func runIncidents(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON bool
	fs := newFlagSet("incidents", incidentsUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("incidents: unexpected argument %q", fs.Arg(0))
	}
	var list, remote []incident.Summary
	s, err := so.open("incidents", iox, !so.hasS3(iox))
	switch {
	case errors.Is(err, incident.ErrNotFound): // no state database yet: no incidents
	case err != nil:
		return err
	default:
		defer s.Close()
		if list, err = s.Incidents(ctx); err != nil {
			return incidentErr("incidents", err)
		}
		if err := so.replicator(ctx, iox, s); err != nil {
			return err
		}
		remote = remoteOnly(ctx, iox, so.rep)
	}
	now := time.Now()
	if asJSON {
		out := make([]incidentJSON, 0, len(list)+len(remote))
		for i, sm := range append(list, remote...) {
			out = append(out, incidentJSON{sm, int64(sm.Elapsed(now).Seconds()), i >= len(list)})
		}
		return writeJSON(iox.Stdout, out)
	}
	onlyS3 := map[string]bool{}
	for _, sm := range remote {
		onlyS3[sm.ID] = true
	}
	list = append(list, remote...)
	if len(list) == 0 {
		fmt.Fprintln(iox.Stdout, "No incidents. Declare one with 'drbook declare RUNBOOK' or start a drill with 'drbook drill'.")
		return nil
	}
	// The id says the mode (DRILL-... or INC-...). A title that is not
	// just the runbook's name goes on a line of its own under the runbook,
	// so that both fit 80 columns; --json has everything.
	rows := [][]string{{"ID", "SEV", "STATUS", "ELAPSED", "RUNBOOK"}}
	for _, sm := range list {
		rows = append(rows, []string{sm.ID, strconv.Itoa(sm.Severity), string(sm.Status),
			incident.FormatDuration(sm.Elapsed(now)), sm.Runbook})
		if t := strings.TrimSpace(sm.Title); t != "" && !strings.EqualFold(strings.ReplaceAll(t, " ", "-"), sm.Runbook) {
			rows = append(rows, []string{"", "", "", "", strconv.Quote(t)})
		}
		if onlyS3[sm.ID] {
			rows = append(rows, []string{"", "", "", "", "in S3 only: drbook resume ID"})
		}
	}
	return writeTable(iox.Stdout, termWidth, rows)
}
