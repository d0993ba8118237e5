package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// errStale says a caller's state no longer matches the stored timeline: a
// replication rebase re-sequenced the events it knew.
var errStale = errors.New("the timeline was re-sequenced by a replication rebase")

// appendHook calls functions after every committed append: a Replicator
// uses it to push new events without polling.
type appendHook struct {
	mu  sync.Mutex
	fns []func(id string)
}

func (s *Store) onAppend(fn func(id string)) {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	s.hook.fns = append(s.hook.fns, fn)
}

func (s *Store) appended(id string) {
	s.hook.mu.Lock()
	fns := append([]func(string){}, s.hook.fns...)
	s.hook.mu.Unlock()
	for _, fn := range fns {
		fn(id)
	}
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func checkKnown(ctx context.Context, q rowQuerier, id string, seq int64, known string) error {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hash FROM events WHERE incident_id = ? AND seq = ?`, id, seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) || err == nil && h != known {
		return errStale
	}
	return err
}

// stale reports whether event seq of id no longer has hash known.
func (s *Store) stale(ctx context.Context, id string, seq int64, known string) (bool, error) {
	if seq == 0 || known == "" {
		return false, nil
	}
	err := checkKnown(ctx, s.db, id, seq, known)
	if errors.Is(err, errStale) {
		return true, nil
	}
	return false, s.classify("read timeline", err)
}

// reloadLocked rebuilds the incident's state from the stored timeline.
func (in *Incident) reloadLocked(ctx context.Context) error {
	st, err := in.store.Load(ctx, in.state.ID)
	if err != nil {
		return err
	}
	in.state = st
	in.syncClockLocked()
	return nil
}

// replicationState is what the state database knows of an incident's
// replication: its head and how much of it S3 holds.
type replicationState struct {
	head       int64
	headHash   string
	replicated int64
}

func (s *Store) replication(ctx context.Context, q rowQuerier, id string) (replicationState, error) {
	var r replicationState
	err := q.QueryRowContext(ctx, `SELECT i.head_seq, i.head_hash, COALESCE(r.replicated_seq, 0)
		FROM incidents i LEFT JOIN replication r ON r.incident_id = i.id WHERE i.id = ?`, id).Scan(&r.head, &r.headHash, &r.replicated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, &Error{Err: ErrNotFound, Detail: id, Advice: "run 'drbook incidents' to list them"}
	}
	return r, s.classify("read replication state", err)
}

// Pending returns how many of an incident's events are not yet in S3 (all
// of them when no replica was ever configured).
func (s *Store) Pending(ctx context.Context, id string) (int, error) {
	r, err := s.replication(ctx, s.db, id)
	if err != nil {
		return 0, err
	}
	return int(r.head - r.replicated), nil
}

// ReplicationStatus is the header's word for an incident's replication:
// "replicated", or "N events not yet replicated".
func ReplicationStatus(pending int) string {
	switch pending {
	case 0:
		return "replicated"
	case 1:
		return "1 event not yet replicated"
	}
	return fmt.Sprintf("%d events not yet replicated", pending)
}

// rawAfter returns up to limit stored events of id after seq, as stored.
func (s *Store) rawAfter(ctx context.Context, id string, after int64, limit int) ([]rawEvent, error) {
	return rawRows(ctx, s.db, id, after, limit, s)
}

func rawRows(ctx context.Context, q querier, id string, after int64, limit int, s *Store) ([]rawEvent, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := q.QueryContext(ctx, `SELECT seq, at, kind, phase, step, actor, data, prev_hash, hash
		FROM events WHERE incident_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, after, limit)
	if err != nil {
		return nil, s.classify("read timeline", err)
	}
	defer rows.Close()
	var out []rawEvent
	for rows.Next() {
		r := rawEvent{incident: id}
		if err := rows.Scan(&r.seq, &r.at, &r.kind, &r.phase, &r.step, &r.actor, &r.data, &r.prevHash, &r.hash); err != nil {
			return nil, s.classify("read timeline", err)
		}
		out = append(out, r)
	}
	return out, s.classify("read timeline", rows.Err())
}

// markReplicated records that event seq, with hash, is in S3. It moves
// forward only, and only while the local event still has that hash (a
// rebase in between leaves it to the next pass).
func (s *Store) markReplicated(ctx context.Context, id string, seq int64, hash string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify("mark replicated", err)
	}
	defer tx.Rollback()
	if err := checkKnown(ctx, tx, id, seq, hash); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO replication (incident_id, replicated_seq) VALUES (?1, ?2)
		ON CONFLICT (incident_id) DO UPDATE SET replicated_seq = max(replicated_seq, ?2)`, id, seq); err != nil {
		return s.classify("mark replicated", err)
	}
	return s.classify("mark replicated", tx.Commit())
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertRaw writes one event row exactly as given (hashes included) and
// its effect on the incident's row, as append does.
func insertRaw(ctx context.Context, tx execer, r rawEvent, s *Store) error {
	if r.kind == string(KindDeclared) && r.seq == 1 {
		var d EventData
		if err := json.Unmarshal([]byte(r.data), &d); err != nil || d.Declared == nil {
			return fmt.Errorf("event 1 of %s: not a declaration", r.incident)
		}
		dc := d.Declared
		if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, runbook, title, mode, severity, drill_test, operator,
			declared_at, detected_at, last_at, speed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.incident, dc.Runbook.ID, dc.Title, string(dc.Mode), dc.Severity, dc.DrillTest, dc.Operator.String(),
			fmtTime(dc.DeclaredAt), fmtTime(dc.DetectedAt), r.at, dc.Speed); err != nil {
			return s.classify("insert event", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (incident_id, seq, at, kind, phase, step, actor, data, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.incident, r.seq, r.at, r.kind, r.phase, r.step, r.actor, r.data, r.prevHash, r.hash); err != nil {
		return s.classify("insert event", err)
	}
	return nil
}

// syncRow brings an incident's row (severity, status, head) in line with
// its timeline's state after rows were inserted by replication.
func syncRow(ctx context.Context, tx execer, st *State, s *Store) error {
	status, closed := string(StatusOpen), ""
	if st.Status != StatusOpen {
		status, closed = string(st.Status), fmtTime(st.ClosedAt)
	}
	_, err := tx.ExecContext(ctx, `UPDATE incidents SET severity = ?, status = ?, closed_at = ?, head_seq = ?, head_hash = ?,
		last_at = ?, touched = ? WHERE id = ?`, st.Severity, status, closed, st.LastSeq, st.LastHash,
		fmtTime(st.LastEvent), fmtTime(time.Now()), st.ID)
	return s.classify("update incident", err)
}

// loadTx rebuilds an incident's state inside a transaction.
func loadTx(ctx context.Context, tx querier, id string, s *Store) (*State, error) {
	evs, err := queryEvents(ctx, tx, id, 0, s)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return &State{}, nil
	}
	return Rebuild(evs)
}

// insertRemote appends events fetched from S3 (verified by the caller) to
// the local timeline. It writes nothing and returns errStale unless they
// continue the local head and nothing local is waiting to be pushed.
func (s *Store) insertRemote(ctx context.Context, id string, evs []rawEvent) error {
	if len(evs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify("insert events", err)
	}
	defer tx.Rollback()
	var r replicationState
	if evs[0].seq > 1 {
		if r, err = s.replication(ctx, tx, id); err != nil {
			return err
		}
	} else {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM incidents WHERE id = ?`, id).Scan(&one); err == nil {
			return errStale
		}
	}
	if r.head != evs[0].seq-1 || r.headHash != evs[0].prevHash || r.replicated != r.head {
		return errStale
	}
	for _, e := range evs {
		if err := insertRaw(ctx, tx, e, s); err != nil {
			return err
		}
	}
	st, err := loadTx(ctx, tx, id, s)
	if err != nil {
		return err
	}
	if err := syncRow(ctx, tx, st, s); err != nil {
		return err
	}
	last := evs[len(evs)-1].seq
	if _, err := tx.ExecContext(ctx, `INSERT INTO replication (incident_id, replicated_seq) VALUES (?1, ?2)
		ON CONFLICT (incident_id) DO UPDATE SET replicated_seq = ?2`, id, last); err != nil {
		return s.classify("insert events", err)
	}
	if err := s.classify("insert events", tx.Commit()); err != nil {
		return err
	}
	s.appended(id)
	return nil
}

// Dropped is a queued event a rebase did not re-apply: its intent no
// longer held once another site's events came first.
type Dropped struct {
	Seq    int64  `json:"seq"` // its sequence number before the rebase
	Kind   Kind   `json:"kind"`
	Step   string `json:"step,omitempty"`
	Phase  string `json:"phase,omitempty"`
	Reason string `json:"reason"`
	Event  Event  `json:"event"` // the whole event, so nothing is lost
}

// Rebase reports one rebase: another site wrote events From..From+Remote-1
// first; this site's queued events were moved after them (Moved) or,
// when their intent no longer held, reported and left out (Dropped).
type Rebase struct {
	Incident string     `json:"incident"`
	From     int64      `json:"from"`
	Remote   int        `json:"remote"`
	Moved    [][2]int64 `json:"moved,omitempty"` // old seq, new seq
	Dropped  []Dropped  `json:"dropped,omitempty"`
	Seq      int64      `json:"seq"` // the rebased event
}

// KindRebased records a replication rebase: Data.Text says what happened,
// Data.Result holds the Rebase (with every dropped event in full).
const KindRebased Kind = "rebased"

// keepIntent says whether a queued event still means something after the
// remote events: a state change that already happened elsewhere (a step
// done, the incident closed) is not duplicated. Facts (notes, action runs
// and their output, comms) are always kept.
func keepIntent(st *State, ev *Event) (bool, string) {
	closed := st.Status != StatusOpen
	switch ev.Kind {
	case KindDeclared:
		return false, "the incident was declared on another site first"
	case KindClosed:
		if closed {
			return false, "the incident was already " + string(st.Status) + " on another site"
		}
	case KindSeverity:
		if closed {
			return false, "the incident was closed on another site"
		}
		if st.Severity == ev.Data.Severity {
			return false, fmt.Sprintf("severity was already %d", st.Severity)
		}
	case KindPhaseStarted, KindPhaseCompleted:
		p := st.Phase(ev.Phase)
		if p != nil && (ev.Kind == KindPhaseStarted && !p.StartedAt.IsZero() || ev.Kind == KindPhaseCompleted && !p.CompletedAt.IsZero()) {
			return false, "phase " + ev.Phase + " was already " + map[Kind]string{KindPhaseStarted: "started", KindPhaseCompleted: "completed"}[ev.Kind] + " on another site"
		}
	case KindRTOStopped:
		if !st.RTOStopped.IsZero() {
			return false, "the RTO clock was already stopped on another site"
		}
	case KindStepStarted, KindStepDone, KindStepSkipped, KindStepFailed:
		if closed {
			return false, "the incident was closed on another site"
		}
		s := st.Step(ev.Step)
		if s == nil {
			break
		}
		if s.Status.Closed() || ev.Kind == KindStepStarted && s.Status == StepRunning {
			return false, "step " + ev.Step + " was already " + string(s.Status) + " on another site"
		}
	}
	return true, ""
}

// rebase re-sequences the queued local events from seq from on after the
// remote events (verified by the caller: they continue event from-1), in
// one transaction, and records a rebased event. actor signs that event.
func (s *Store) rebase(ctx context.Context, id string, from int64, remote []rawEvent, actor string) (*Rebase, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.classify("rebase", err)
	}
	defer tx.Rollback()
	r, err := s.replication(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if r.replicated != from-1 || r.head < from || len(remote) == 0 || remote[0].seq != from {
		return nil, errStale
	}
	all, err := queryEvents(ctx, tx, id, 0, s)
	if err != nil {
		return nil, err
	}
	raws, err := rawRows(ctx, tx, id, from-1, 0, s)
	if err != nil {
		return nil, err
	}
	if int64(len(all)) != r.head || len(raws) != int(r.head-from+1) || all[len(all)-1].Seq != r.head {
		return nil, fmt.Errorf("rebase %s: the local timeline has gaps; 'drbook timeline verify %s' checks it", id, id)
	}
	prefix, local := all[:from-1], all[from-1:]
	if from > 1 && prefix[from-2].Hash != remote[0].prevHash {
		return nil, fmt.Errorf("rebase %s: the remote event %d does not continue the replicated event %d", id, from, from-1)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE incident_id = ? AND seq >= ?`, id, from); err != nil {
		return nil, s.classify("rebase", err)
	}
	if from == 1 { // both sites declared this id: the remote declaration stands
		for _, q := range []string{`DELETE FROM replication WHERE incident_id = ?`, `DELETE FROM incidents WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return nil, s.classify("rebase", err)
			}
		}
	}
	timeline := append([]Event(nil), prefix...)
	for _, e := range remote {
		if err := insertRaw(ctx, tx, e, s); err != nil {
			return nil, err
		}
		ev, err := e.event()
		if err != nil {
			return nil, fmt.Errorf("rebase %s: remote event %d: %w", id, e.seq, err)
		}
		timeline = append(timeline, ev)
	}
	st, err := Rebuild(timeline)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", id, err)
	}
	rb := &Rebase{Incident: id, From: from, Remote: len(remote)}
	head := remote[len(remote)-1]
	seq, prev := head.seq, head.hash
	write := func(raw rawEvent) error {
		seq++
		raw.seq, raw.prevHash = seq, prev
		raw.hash = raw.computeHash()
		prev = raw.hash
		if err := insertRaw(ctx, tx, raw, s); err != nil {
			return err
		}
		ev, err := raw.event()
		if err != nil {
			return err
		}
		st.apply(&ev)
		return nil
	}
	var last time.Time
	for i := range local {
		ev := &local[i]
		if ok, why := keepIntent(st, ev); !ok {
			rb.Dropped = append(rb.Dropped, Dropped{Seq: ev.Seq, Kind: ev.Kind, Step: ev.Step, Phase: ev.Phase, Reason: why, Event: *ev})
			continue
		}
		old := ev.Seq
		if err := write(raws[i]); err != nil {
			return nil, err
		}
		rb.Moved = append(rb.Moved, [2]int64{old, seq})
		last = ev.At
	}
	if t := st.LastEvent; last.Before(t) {
		last = t
	}
	rb.Seq = seq + 1
	text := fmt.Sprintf("another site wrote events %d..%d first: %d queued event(s) of this site moved after them, %d not re-applied",
		from, head.seq, len(rb.Moved), len(rb.Dropped))
	for _, d := range rb.Dropped {
		text += fmt.Sprintf("; %s (was %d): %s", d.Kind, d.Seq, d.Reason)
	}
	result, err := json.Marshal(rb)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", id, err)
	}
	data, err := json.Marshal(EventData{Text: text, Result: result})
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", id, err)
	}
	if err := write(rawEvent{incident: id, at: fmtTime(last), kind: string(KindRebased), actor: actor, data: string(data)}); err != nil {
		return nil, err
	}
	if err := syncRow(ctx, tx, st, s); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO replication (incident_id, replicated_seq, rebases) VALUES (?1, ?2, 1)
		ON CONFLICT (incident_id) DO UPDATE SET replicated_seq = ?2, rebases = rebases + 1`, id, head.seq); err != nil {
		return nil, s.classify("rebase", err)
	}
	if err := s.classify("rebase", tx.Commit()); err != nil {
		return nil, err
	}
	s.appended(id)
	return rb, nil
}

func siteActor() string {
	host, _ := os.Hostname()
	return "drbook replication (" + host + ")"
}
