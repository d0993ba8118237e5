package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/drbook/drbook/runbook/incident"
)

const reportUsage = `
Usage: drbook report [ID] [--format md|json] [-o FILE]

Write the post-incident report of the plan's section 6 for incident ID
(default: the most recently active open incident, else the most recent
one): summary, severity, mode, times, RTO/RPO/MTD and the response time
against their objectives, each phase's planned window against its actual
time, skipped and failed steps with reasons, actions with durations and
results, communications, notes, the full timeline, its hash-chain check,
and empty sections for root cause, lessons learned and action items.

-o writes FILE (refusing to replace an existing one unless --force).

Exit codes: 0 written; 1 written, but the timeline's hash chain is broken;
2 usage error, unknown incident, unreadable state database, FILE exists.
`

func runReport(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var format, out string
	var force bool
	fs := newFlagSet("report", reportUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.StringVar(&format, "format", "md", "md or json")
	fs.StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	fs.BoolVar(&force, "force", false, "with -o: replace an existing FILE")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || format != "md" && format != "json" {
		return usageErr("report: want [ID] and --format md or json (run 'drbook report --help')")
	}
	if out != "" && !force {
		if _, err := os.Lstat(out); err == nil {
			return usageErr("report: %s exists; choose another -o or add --force", out)
		}
	}
	s, err := so.open("report", iox, !so.hasS3(iox))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	if fs.NArg() == 1 {
		if err := fetchMissing(ctx, iox, so.rep, s, fs.Arg(0)); err != nil {
			return incidentErr("report", err)
		}
	}
	id, err := resolveID(ctx, "report", iox, s, fs.Args())
	if err != nil {
		return err
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		return incidentErr("report", err)
	}
	st, err := incident.Rebuild(evs)
	if err != nil {
		return incidentErr("report", err)
	}
	chain, err := s.Verify(ctx, id)
	if err != nil {
		return incidentErr("report", err)
	}
	now := incident.Scaled(incident.SystemClock{}, st.Declaration.DeclaredAt, st.Declaration.Speed).Now()
	r := incident.BuildReport(st, evs, now)
	r.Chain = &chain
	write := func(w io.Writer) error {
		if format == "json" {
			return r.JSON(w)
		}
		return r.Markdown(w)
	}
	if out == "" {
		err = write(iox.Stdout)
	} else {
		err = writeFileAtomic(out, write)
	}
	if err != nil {
		return failed(fmt.Errorf("report: %w", err))
	}
	if !chain.OK {
		return failed(fmt.Errorf("report: the timeline of %s does not verify: %s", id, chain.Problem))
	}
	return nil
}
