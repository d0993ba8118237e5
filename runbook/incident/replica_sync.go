package incident

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ReplicatorOptions tune a Replicator.
type ReplicatorOptions struct {
	// Poll is how often Run looks for other sites' events; 0 means 500ms.
	// Local events are pushed as soon as they are recorded.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts while S3
	// cannot be reached; 0 means 250ms and 30s. The wait doubles.
	MinBackoff, MaxBackoff time.Duration
	// After is the timer (time.After when nil); tests inject one.
	After func(time.Duration) <-chan time.Time
	// Actor signs rebased events; "" means "drbook replication (host)".
	Actor string
	// AfterPut, when set, runs after each event is written to S3 and
	// before it is marked replicated; an error stops the pass there (a
	// test uses it to kill a site mid-sync).
	AfterPut func(id string, seq int64) error
}

// Replicator copies a state database's timelines to a Replica and brings
// other sites' events back. Events are durable locally first; the
// Replicator pushes them in order in the background, so nothing an
// operator does waits on the network.
type Replicator struct {
	store  *Store
	remote *Replica
	opts   ReplicatorOptions
	kick   chan struct{}

	mu      sync.Mutex
	lastErr error
}

// NewReplicator returns a Replicator of store to remote. It starts nothing:
// call Run in a goroutine, or Sync.
func NewReplicator(store *Store, remote *Replica, opts ReplicatorOptions) *Replicator {
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Actor == "" {
		opts.Actor = siteActor()
	}
	r := &Replicator{store: store, remote: remote, opts: opts, kick: make(chan struct{}, 1)}
	store.onAppend(func(string) { r.Kick() })
	return r
}

// Kick asks Run for a pass now.
func (r *Replicator) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Err returns the last pass's error (nil once S3 answers again).
func (r *Replicator) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Pending returns how many of an incident's events are not in S3 yet; -1
// if the state database cannot say.
func (r *Replicator) Pending(id string) int {
	n, err := r.store.Pending(context.Background(), id)
	if err != nil {
		return -1
	}
	return n
}

// Status is the header's replication word for an incident: "replicated"
// or "N events not yet replicated".
func (r *Replicator) Status(id string) string {
	n := r.Pending(id)
	if n < 0 {
		return "replication state unknown"
	}
	return ReplicationStatus(n)
}

// Run pushes and pulls until ctx ends: at once after each local append,
// every Poll otherwise, and with a doubling backoff while S3 cannot be
// reached (the events stay queued locally meanwhile).
func (r *Replicator) Run(ctx context.Context) {
	var backoff time.Duration
	for {
		_, err := r.SyncAll(ctx)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.lastErr = err
		r.mu.Unlock()
		if err != nil {
			backoff = min(max(2*backoff, r.opts.MinBackoff), r.opts.MaxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-r.opts.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-r.opts.After(r.opts.Poll):
		}
	}
}

// SyncResult says what one Sync did.
type SyncResult struct {
	Pushed  int      `json:"pushed"`
	Pulled  int      `json:"pulled"`
	Rebases []Rebase `json:"rebases,omitempty"`
}

func (a *SyncResult) add(b SyncResult) {
	a.Pushed += b.Pushed
	a.Pulled += b.Pulled
	a.Rebases = append(a.Rebases, b.Rebases...)
}

// SyncAll syncs every incident in the state database.
func (r *Replicator) SyncAll(ctx context.Context) (SyncResult, error) {
	var res SyncResult
	list, err := r.store.Incidents(ctx)
	if err != nil {
		return res, err
	}
	var errs []error
	for _, sm := range list {
		if sm.Status != StatusOpen && r.Pending(sm.ID) == 0 {
			continue // closed and fully replicated: nothing more comes
		}
		one, err := r.Sync(ctx, sm.ID)
		res.add(one)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// Sync pushes an incident's queued events in order, then fetches the
// events other sites wrote after them. A refused write means another site
// wrote that position first: its events are fetched and verified, and
// this site's queued events are re-applied after them (see Rebase).
func (r *Replicator) Sync(ctx context.Context, id string) (SyncResult, error) {
	var res SyncResult
	for pass := 0; pass < 1000; pass++ {
		rs, err := r.store.replication(ctx, r.store.db, id)
		if err != nil {
			return res, err
		}
		if rs.replicated >= rs.head {
			evs, err := r.remote.fetchAfter(ctx, id, rs.head, rs.headHash)
			if err != nil {
				return res, fmt.Errorf("replicate %s: %w", id, err)
			}
			err = r.store.insertRemote(ctx, id, evs)
			if errors.Is(err, errStale) {
				continue // a local event came in meanwhile: push it first
			}
			if err != nil {
				return res, fmt.Errorf("replicate %s: %w", id, err)
			}
			res.Pulled += len(evs)
			return res, nil
		}
		queued, err := r.store.rawAfter(ctx, id, rs.replicated, 256)
		if err != nil {
			return res, err
		}
		for _, e := range queued {
			done, rb, err := r.push(ctx, e)
			if err != nil {
				return res, fmt.Errorf("replicate %s: %w", id, err)
			}
			if rb != nil {
				res.Rebases = append(res.Rebases, *rb)
			}
			if !done {
				break // the timeline changed: look again
			}
			res.Pushed++
		}
	}
	return res, fmt.Errorf("replicate %s: no progress after many passes", id)
}

// push writes one queued event. done is false when the local timeline
// changed under it (a rebase, or a concurrent one) and the caller must
// look again.
func (r *Replicator) push(ctx context.Context, e rawEvent) (done bool, rb *Rebase, err error) {
	err = r.remote.put(ctx, e)
	if errors.Is(err, ErrRefused) {
		got, ok, gerr := r.remote.get(ctx, e.incident, e.seq)
		if gerr != nil {
			return false, nil, gerr
		}
		if ok && got.hash == e.hash { // ours: written before a crash, never marked
			err = nil
		} else {
			remote, ferr := r.remote.fetchAfter(ctx, e.incident, e.seq-1, e.prevHash)
			if ferr != nil {
				return false, nil, ferr
			}
			if len(remote) == 0 {
				return false, nil, nil
			}
			rb, err = r.store.rebase(ctx, e.incident, e.seq, remote, r.opts.Actor)
			if errors.Is(err, errStale) {
				return false, nil, nil
			}
			return false, rb, err
		}
	}
	if err != nil {
		return false, nil, err
	}
	if r.opts.AfterPut != nil {
		if err := r.opts.AfterPut(e.incident, e.seq); err != nil {
			return false, nil, err
		}
	}
	err = r.store.markReplicated(ctx, e.incident, e.seq, e.hash)
	if errors.Is(err, errStale) {
		return false, nil, nil
	}
	return err == nil, nil, err
}

// Fetch rebuilds an incident this host does not hold from the replica:
// every event is read, its hash and link checked from the declaration on,
// and the whole timeline inserted in one transaction. It returns how many
// events it inserted.
func (r *Replicator) Fetch(ctx context.Context, id string) (int, error) {
	if id == "" || strings.ContainsAny(id, "/\\?#*") || strings.Contains(id, "..") {
		return 0, fmt.Errorf("fetch %q: not an incident id", id)
	}
	evs, err := r.remote.fetchAfter(ctx, id, 0, "")
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", id, err)
	}
	if len(evs) == 0 {
		return 0, &Error{Err: ErrNotFound, Detail: id + " (not in " + r.remote.URL() + " either)", Advice: "run 'drbook incidents' to list them"}
	}
	if err := r.store.insertRemote(ctx, id, evs); errors.Is(err, errStale) {
		return 0, fmt.Errorf("fetch %s: this host already holds it; 'drbook resume %s' continues it", id, id)
	} else if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", id, err)
	}
	return len(evs), nil
}

// RemoteOnly lists the incidents the replica holds that the state
// database does not, each rebuilt from its verified replicated timeline.
func (r *Replicator) RemoteOnly(ctx context.Context) ([]Summary, error) {
	ids, err := r.remote.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	local, err := r.store.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, sm := range local {
		have[sm.ID] = true
	}
	var out []Summary
	for _, id := range ids {
		if have[id] {
			continue
		}
		evs, err := r.remote.fetchAfter(ctx, id, 0, "")
		if err != nil {
			return out, err
		}
		timeline := make([]Event, 0, len(evs))
		for _, e := range evs {
			ev, err := e.event()
			if err != nil {
				return out, fmt.Errorf("%w: event %d of %s: %v", ErrReplicaMismatch, e.seq, id, err)
			}
			timeline = append(timeline, ev)
		}
		st, err := Rebuild(timeline)
		if err != nil {
			return out, fmt.Errorf("%w: %s: %v", ErrReplicaMismatch, id, err)
		}
		d := st.Declaration
		out = append(out, Summary{ID: id, Runbook: d.Runbook.ID, Title: d.Title, Mode: d.Mode, Severity: st.Severity,
			Status: st.Status, DrillTest: d.DrillTest, Operator: d.Operator.String(), DeclaredAt: d.DeclaredAt,
			DetectedAt: d.DetectedAt, ClosedAt: st.ClosedAt, LastEventAt: st.LastEvent, Events: st.LastSeq, Speed: d.Speed})
	}
	return out, nil
}

// ReplicaVerifyResult is a local timeline checked against its replica.
type ReplicaVerifyResult struct {
	VerifyResult
	Replica    string `json:"replica"`
	Replicated int    `json:"replicated"`  // events that match S3 seq by seq
	LocalOnly  int    `json:"local_only"`  // events not yet pushed
	RemoteOnly int    `json:"remote_only"` // events S3 holds that this host has not fetched yet
}

// Verify checks an incident's local chain (Store.Verify), the replica's
// chain from its declaration on, and then compares them seq by seq: a
// local database edited after replication, even with every hash
// recomputed, differs from S3 at the first edited event. It changes
// nothing.
func (r *Replicator) Verify(ctx context.Context, id string) (ReplicaVerifyResult, error) {
	res := ReplicaVerifyResult{Replica: r.remote.URL()}
	local, err := r.store.Verify(ctx, id)
	res.VerifyResult = local
	if err != nil || !local.OK {
		return res, err
	}
	bad := func(seq int64, format string, args ...any) (ReplicaVerifyResult, error) {
		res.OK, res.BadSeq, res.Problem = false, seq, fmt.Sprintf(format, args...)
		return res, nil
	}
	remote, err := r.remote.fetchAfter(ctx, id, 0, "")
	if errors.Is(err, ErrReplicaMismatch) {
		return bad(int64(len(remote))+1, "the replicated timeline in %s: %v", res.Replica, err)
	}
	if err != nil {
		return res, err
	}
	rs, err := r.store.replication(ctx, r.store.db, id)
	if err != nil {
		return res, err
	}
	mine, err := r.store.rawAfter(ctx, id, 0, 0)
	if err != nil {
		return res, err
	}
	for i := 0; i < len(mine) && i < len(remote); i++ {
		if mine[i].hash != remote[i].hash {
			return bad(mine[i].seq, "event %d differs from the replicated event %d in %s: the local timeline was rewritten after it was replicated", mine[i].seq, remote[i].seq, res.Replica)
		}
		res.Replicated++
	}
	if rs.replicated > int64(len(remote)) {
		return bad(int64(len(remote))+1, "events %d..%d were replicated but %s no longer holds them", len(remote)+1, rs.replicated, res.Replica)
	}
	res.LocalOnly = len(mine) - res.Replicated
	res.RemoteOnly = len(remote) - res.Replicated
	return res, nil
}
