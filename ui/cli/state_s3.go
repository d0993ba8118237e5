package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

// pushTimeout bounds how long a one-shot command (note, step, close) tries
// to push its events before leaving them queued for the next drbook.
const pushTimeout = 5 * time.Second

// stateReplicator returns the Replicator of --state-s3 (else
// $DRBOOK_STATE_S3) for s, or nil when neither names one.
func stateReplicator(ctx context.Context, iox *IO, flag string, s *incident.Store) (*incident.Replicator, error) {
	c := incident.ReplicaFromEnv(stateS3(iox, flag), iox.Getenv)
	if c == nil {
		return nil, nil
	}
	r, err := incident.NewReplica(ctx, *c)
	if err != nil {
		return nil, usageErr("--state-s3: %w", err)
	}
	return incident.NewReplicator(s, r, incident.ReplicatorOptions{}), nil
}

// pushNow pushes an incident's queued events once, after a command
// recorded them. S3 out of reach is not a failure of the command: the
// events are durable here and queued; it says so on stderr.
func pushNow(ctx context.Context, iox *IO, rep *incident.Replicator, id string) {
	if rep == nil || id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	res, err := rep.Sync(ctx, id)
	for _, rb := range res.Rebases {
		fmt.Fprintf(iox.Stderr, "drbook: %s: another site wrote events %d.. first; this site's events were re-applied after them (event %d records it)\n",
			id, rb.From, rb.Seq)
		for _, d := range rb.Dropped {
			fmt.Fprintf(iox.Stderr, "drbook: %s: not re-applied: %s %s: %s\n", id, d.Kind, d.Step+d.Phase, d.Reason)
		}
	}
	if err != nil {
		fmt.Fprintf(iox.Stderr, "drbook: %s: %s, kept here and queued (%v)\n", id, rep.Status(id), err)
	}
}

// fetchMissing brings incident ref from S3 when this host does not hold
// it (an empty state directory on another site), verified end to end. It
// does nothing without a replica, with an empty ref, or when ref is here.
func fetchMissing(ctx context.Context, iox *IO, rep *incident.Replicator, s *incident.Store, ref string) error {
	if rep == nil || ref == "" {
		return nil
	}
	if _, err := s.Resolve(ctx, ref); !errors.Is(err, incident.ErrNotFound) {
		return nil
	}
	n, err := rep.Fetch(ctx, ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(iox.Stderr, "drbook: %s: rebuilt from S3 (%d events, hash chain verified)\n", ref, n)
	return nil
}

// remoteOnly lists the incidents only S3 holds; S3 out of reach is said on
// stderr, and the local list still printed.
func remoteOnly(ctx context.Context, iox *IO, rep *incident.Replicator) []incident.Summary {
	if rep == nil {
		return nil
	}
	list, err := rep.RemoteOnly(ctx)
	if err != nil {
		fmt.Fprintf(iox.Stderr, "drbook: incidents in S3 not listed: %v\n", err)
	}
	return list
}

// hasS3 reports whether a replica is configured: then a command may create
// an empty state directory, to fill it from S3.
func (o *stateOptions) hasS3(iox *IO) bool {
	return incident.ReplicaFromEnv(stateS3(iox, o.s3), iox.Getenv) != nil
}

// stateS3 is --state-s3, else $DRBOOK_STATE_S3 (read by ReplicaFromEnv),
// else state.s3 of the site configuration.
func stateS3(iox *IO, flag string) string {
	if flag != "" || iox.Getenv("DRBOOK_STATE_S3") != "" {
		return flag
	}
	if cfg, err := iox.Site(); err == nil {
		return cfg.State.S3
	}
	return ""
}

// verifyReplicated is 'timeline verify' with a replica: each local chain
// is checked on its own and then against S3, seq by seq.
func verifyReplicated(ctx context.Context, iox *IO, s *incident.Store, rep *incident.Replicator, rest []string, all, asJSON bool) error {
	ids, err := verifyIDs(ctx, iox, s, rest, all)
	if err != nil {
		return err
	}
	results := make([]incident.ReplicaVerifyResult, 0, len(ids))
	bad := 0
	for _, id := range ids {
		res, err := rep.Verify(ctx, id)
		if err != nil {
			return usageErr("timeline verify %s: %w", id, err)
		}
		if !res.OK {
			bad++
		}
		results = append(results, res)
	}
	if asJSON {
		var v any = results
		if !all {
			v = results[0]
		}
		if err := writeJSON(iox.Stdout, v); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if !r.OK {
				fmt.Fprintf(iox.Stdout, "%s: BROKEN at event %d: %s\n", r.Incident, r.BadSeq, r.Problem)
				continue
			}
			fmt.Fprintf(iox.Stdout, "%s: ok, %d events, hash chain intact, %d identical in %s", r.Incident, r.Events, r.Replicated, r.Replica)
			if r.LocalOnly > 0 {
				fmt.Fprintf(iox.Stdout, "; %d not yet replicated", r.LocalOnly)
			}
			if r.RemoteOnly > 0 {
				fmt.Fprintf(iox.Stdout, "; %d in S3 not yet here", r.RemoteOnly)
			}
			fmt.Fprintln(iox.Stdout)
		}
	}
	if bad > 0 {
		return failed(fmt.Errorf("timeline verify: %d of %d timelines do not verify", bad, len(results)))
	}
	return nil
}

// replicateWhileRunning rebuilds incident ref from S3 if this host does
// not hold it, then replicates in the background until stop is called.
// Without a replica it does nothing.
func replicateWhileRunning(ctx context.Context, iox *IO, flag string, s *incident.Store, ref string) (rep *incident.Replicator, stop func(), err error) {
	rep, err = stateReplicator(ctx, iox, flag, s)
	if err != nil || rep == nil {
		return nil, func() {}, err
	}
	if err := fetchMissing(ctx, iox, rep, s, ref); err != nil {
		if errors.Is(err, incident.ErrNotFound) {
			return nil, nil, usageErr("resume: %w", err)
		}
		return nil, nil, failed(fmt.Errorf("resume: %w", err))
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rep.Run(ctx) }()
	return rep, func() {
		cancel()
		<-done
		// A last push, bounded, of what the session recorded at the end.
		if list, err := s.Incidents(context.Background()); err == nil {
			for _, sm := range list {
				if rep.Pending(sm.ID) > 0 {
					pushNow(context.Background(), iox, rep, sm.ID)
				}
			}
		}
	}, nil
}
