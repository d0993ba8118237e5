package cli

import (
	"context"
	"fmt"

	"github.com/drbook/drbook/runbook/incident"
)

const timelineUsage = `
Usage: drbook timeline [ID] [--json|--csv]
       drbook timeline verify [ID|--all] [--json]

Print incident ID's timeline (default: the most recently active open
incident, else the most recent one), as text, JSON or CSV. Secrets were
never recorded: they show as [REDACTED].

'timeline verify' recomputes the SHA-256 hash chain and names the first
event that was edited, deleted or reordered since it was recorded. With
--state-s3 (or $DRBOOK_STATE_S3) it also compares every event, hash by
hash, with the copy replicated to S3: a local edit is caught even when
every hash after it was recomputed.

Exit codes: 0 printed, or the chain verifies; 1 the chain is broken, or
differs from S3; 2 usage error, unknown incident, unreadable state
database or S3.
`

func runTimeline(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON, asCSV, all bool
	fs := newFlagSet("timeline", timelineUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	fs.BoolVar(&asCSV, "csv", false, "print CSV: seq, at, kind, phase, step, actor, text, data, hash")
	fs.BoolVar(&all, "all", false, "verify: every incident")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	verify := len(rest) > 0 && rest[0] == "verify"
	if verify {
		rest = rest[1:]
	}
	if len(rest) > 1 || asJSON && asCSV || all && (!verify || len(rest) > 0) || verify && asCSV {
		return usageErr("timeline: bad arguments (run 'drbook timeline --help')")
	}
	s, err := so.open("timeline", iox, !so.hasS3(iox))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	if len(rest) == 1 && !verify {
		if err := fetchMissing(ctx, iox, so.rep, s, rest[0]); err != nil {
			return incidentErr("timeline", err)
		}
	}
	if verify && so.rep != nil {
		return verifyReplicated(ctx, iox, s, so.rep, rest, all, asJSON)
	}
	if verify {
		return verifyTimelines(ctx, iox, s, rest, all, asJSON)
	}
	id, err := resolveID(ctx, "timeline", iox, s, rest)
	if err != nil {
		return err
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		return incidentErr("timeline", err)
	}
	switch {
	case asJSON:
		return incident.WriteTimelineJSON(iox.Stdout, evs)
	case asCSV:
		return incident.WriteTimelineCSV(iox.Stdout, evs)
	}
	return incident.WriteTimelineText(iox.Stdout, evs)
}

func verifyTimelines(ctx context.Context, iox *IO, s *incident.Store, rest []string, all, asJSON bool) error {
	ids, err := verifyIDs(ctx, iox, s, rest, all)
	if err != nil {
		return err
	}
	results := make([]incident.VerifyResult, 0, len(ids))
	bad := 0
	for _, id := range ids {
		res, err := s.Verify(ctx, id)
		if err != nil {
			return incidentErr("timeline verify", err)
		}
		if !res.OK {
			bad++
		}
		results = append(results, res)
	}
	if asJSON {
		var err error
		if all {
			err = writeJSON(iox.Stdout, results)
		} else {
			err = writeJSON(iox.Stdout, results[0])
		}
		if err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(iox.Stdout, "%s: ok, %d events, hash chain intact\n", r.Incident, r.Events)
			} else {
				fmt.Fprintf(iox.Stdout, "%s: BROKEN at event %d: %s\n", r.Incident, r.BadSeq, r.Problem)
			}
		}
	}
	if bad > 0 {
		return failed(fmt.Errorf("timeline verify: %d of %d timelines do not verify", bad, len(results)))
	}
	return nil
}

// verifyIDs are the incidents 'timeline verify' checks: every one with
// --all, else the one named (or the most recent).
func verifyIDs(ctx context.Context, iox *IO, s *incident.Store, rest []string, all bool) ([]string, error) {
	if !all {
		id, err := resolveID(ctx, "timeline verify", iox, s, rest)
		if err != nil {
			return nil, err
		}
		return []string{id}, nil
	}
	list, err := s.Incidents(ctx)
	if err != nil {
		return nil, incidentErr("timeline verify", err)
	}
	ids := make([]string, 0, len(list))
	for _, sm := range list {
		ids = append(ids, sm.ID)
	}
	return ids, nil
}
