package incident

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// DBName is the state database's file name inside the state directory.
const DBName = "drbook.db"

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is drbook's state database: incidents and their hash-chained
// timelines, in one SQLite file in WAL mode with synchronous=FULL (an
// acknowledged event survives a power cut) and a busy timeout (two drbook
// processes on one host share it safely). It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	hook appendHook // wakes a Replicator after each append
}

// StoreOptions tune OpenStoreWith.
type StoreOptions struct {
	// BusyTimeout is how long to wait for another process's lock; 0 means
	// 10 seconds.
	BusyTimeout time.Duration
	// MustExist refuses to create a state database that is not there yet
	// (ErrNotFound): read-only commands use it.
	MustExist bool
}

// OpenStore opens (creating if needed) the state database in dir and
// brings its schema up to date with the embedded migrations. It refuses a
// database from a newer drbook (ErrNewerSchema) and says clearly when the
// file is locked (ErrLocked), read-only (ErrReadOnly) or not a database
// (ErrNotDatabase); it never overwrites such a file.
func OpenStore(dir string) (*Store, error) { return OpenStoreWith(dir, StoreOptions{}) }

// OpenStoreWith is OpenStore with options.
func OpenStoreWith(dir string, opts StoreOptions) (*Store, error) {
	path := filepath.Join(dir, DBName)
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open state database %s: path may not contain '?' or '#'", path)
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if fi.IsDir() {
			return nil, newErr(ErrNotDatabase, "move it aside or choose another --state-dir", "%s is a directory", path)
		}
		if err := checkHeader(path, fi.Size()); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if opts.MustExist {
			return nil, newErr(ErrNotFound, "declare an incident first, or pass the right --state-dir", "no state database at %s", path)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
		// Created empty and private before SQLite opens it: the timeline
		// names people, systems and what went wrong (SQLite gives its -wal
		// and -shm files the same permissions).
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create state database: %w", err)
		}
		if f != nil {
			f.Close()
		}
	default:
		return nil, fmt.Errorf("open state database: %w", err)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate",
		path, busy.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s := &Store{db: db, path: path}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, s.classify("open state database", err)
	}
	return s, nil
}

// checkHeader refuses a non-empty file that is not SQLite, before SQLite
// can touch it.
func checkHeader(path string, size int64) error {
	if size == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return newErr(ErrReadOnly, "check the file's permissions or pass another --state-dir", "%s", path)
		}
		return fmt.Errorf("open state database: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(f, hdr); err != nil || !bytes.Equal(hdr, []byte("SQLite format 3\x00")) {
		return newErr(ErrNotDatabase, "it was left untouched; move it aside or pass another --state-dir", "%s", path)
	}
	return nil
}

// classify turns SQLite's result codes into the package's errors.
func (s *Store) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ie *Error
	if errors.As(err, &ie) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return &Error{Err: ErrLocked, Detail: s.path, Advice: "another drbook (or sqlite3) holds it; wait for it or close it, then retry"}
		case 8: // SQLITE_READONLY
			return &Error{Err: ErrReadOnly, Detail: s.path, Advice: "check permissions on the file and its directory, or pass another --state-dir"}
		case 26: // SQLITE_NOTADB
			return &Error{Err: ErrNotDatabase, Detail: s.path, Advice: "it was left untouched; move it aside or pass another --state-dir"}
		case 14: // SQLITE_CANTOPEN
			return &Error{Err: ErrReadOnly, Detail: s.path, Advice: "cannot open or create it; check the directory's permissions or pass another --state-dir"}
		}
	}
	return fmt.Errorf("%s %s: %w", op, s.path, err)
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(ms) {
		return &Error{Err: ErrNewerSchema, Detail: fmt.Sprintf("%s has schema version %d, this drbook knows %d", s.path, v, len(ms)),
			Advice: "use the newer drbook that wrote it; this one changes nothing"}
	}
	for _, m := range ms[v:] {
		if err := s.apply(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration, latest int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v >= m.version { // another process migrated meanwhile
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	return tx.Commit()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Summary is one incident in a listing.
type Summary struct {
	ID          string    `json:"id"`
	Runbook     string    `json:"runbook"`
	Title       string    `json:"title"`
	Mode        Mode      `json:"mode"`
	Severity    int       `json:"severity"`
	Status      Status    `json:"status"`
	DrillTest   string    `json:"drill_test,omitempty"`
	Operator    string    `json:"operator"`
	DeclaredAt  time.Time `json:"declared_at"`
	DetectedAt  time.Time `json:"detected_at"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	LastEventAt time.Time `json:"last_event_at"`
	Events      int64     `json:"events"`
	Speed       float64   `json:"speed,omitempty"` // drill speed factor; 0 is real time
}

// Elapsed is the incident time from detection to now (wall time), or to
// its close. A sped-up drill's clock runs only while someone attends it
// (see Open), so an open one is shown as of its last event.
func (sm Summary) Elapsed(now time.Time) time.Duration {
	if !sm.ClosedAt.IsZero() {
		return sm.ClosedAt.Sub(sm.DetectedAt)
	}
	if sm.Speed > 1 && !sm.LastEventAt.IsZero() {
		return sm.LastEventAt.Sub(sm.DetectedAt)
	}
	return Scaled(fixedClock(now), sm.DeclaredAt, sm.Speed).Now().Sub(sm.DetectedAt)
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

const timeFormat = time.RFC3339Nano

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeFormat, s)
	return t
}

// Incidents lists every incident, open ones first, most recently written
// (wall-clock time) first within each group.
func (s *Store) Incidents(ctx context.Context) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, runbook, title, mode, severity, status, drill_test, operator,
		declared_at, detected_at, closed_at, last_at, head_seq, speed FROM incidents
		ORDER BY status = 'open' DESC, touched DESC, id`)
	if err != nil {
		return nil, s.classify("list incidents", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var sm Summary
		var decl, det, closed, last string
		if err := rows.Scan(&sm.ID, &sm.Runbook, &sm.Title, &sm.Mode, &sm.Severity, &sm.Status, &sm.DrillTest,
			&sm.Operator, &decl, &det, &closed, &last, &sm.Events, &sm.Speed); err != nil {
			return nil, s.classify("list incidents", err)
		}
		sm.DeclaredAt, sm.DetectedAt, sm.ClosedAt, sm.LastEventAt = parseTime(decl), parseTime(det), parseTime(closed), parseTime(last)
		out = append(out, sm)
	}
	return out, s.classify("list incidents", rows.Err())
}

// Resolve turns what an operator typed into an incident id: an exact id, a
// unique prefix, or "" for the open incident most recently written to.
func (s *Store) Resolve(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		var id string
		err := s.db.QueryRowContext(ctx, `SELECT id FROM incidents WHERE status = 'open' ORDER BY touched DESC, id LIMIT 1`).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", &Error{Err: ErrNoOpen, Advice: "start a drill with 'drbook drill', declare one with 'drbook declare RUNBOOK'; 'drbook incidents' lists them all"}
		}
		return id, s.classify("find incident", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM incidents WHERE id = ?1 OR substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 10`, ref)
	if err != nil {
		return "", s.classify("find incident", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", s.classify("find incident", err)
		}
		if id == ref {
			return id, nil
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", s.classify("find incident", err)
	}
	switch len(ids) {
	case 0:
		return "", &Error{Err: ErrNotFound, Detail: ref, Advice: "run 'drbook incidents' to list them"}
	case 1:
		return ids[0], nil
	}
	return "", &Error{Err: ErrAmbiguous, Detail: ref, Advice: "matches " + strings.Join(ids, ", ")}
}

// Events returns an incident's whole timeline in order.
func (s *Store) Events(ctx context.Context, id string) ([]Event, error) {
	evs, err := s.EventsAfter(ctx, id, 0)
	if err == nil && len(evs) == 0 {
		var one int
		err = s.db.QueryRowContext(ctx, `SELECT 1 FROM incidents WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, &Error{Err: ErrNotFound, Detail: id, Advice: "run 'drbook incidents' to list them"}
		}
		if err != nil {
			return nil, s.classify("read timeline", err)
		}
		return nil, fmt.Errorf("read timeline of %s: it has no events (deleted?); 'drbook timeline verify %s' checks it", id, id)
	}
	return evs, err
}

// EventsAfter returns the events with a sequence number above seq: a cheap
// poll for followers (resume --follow).
func (s *Store) EventsAfter(ctx context.Context, id string, seq int64) ([]Event, error) {
	return queryEvents(ctx, s.db, id, seq, s)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryEvents(ctx context.Context, q querier, id string, seq int64, s *Store) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, kind, phase, step, actor, data, prev_hash, hash
		FROM events WHERE incident_id = ? AND seq > ? ORDER BY seq`, id, seq)
	if err != nil {
		return nil, s.classify("read timeline", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var r rawEvent
		r.incident = id
		if err := rows.Scan(&r.seq, &r.at, &r.kind, &r.phase, &r.step, &r.actor, &r.data, &r.prevHash, &r.hash); err != nil {
			return nil, s.classify("read timeline", err)
		}
		ev, err := r.event()
		if err != nil {
			return nil, fmt.Errorf("read timeline of %s: event %d: %w", id, r.seq, err)
		}
		out = append(out, ev)
	}
	return out, s.classify("read timeline", rows.Err())
}

// rawEvent is an events row as stored: the strings the hash covers.
type rawEvent struct {
	incident                           string
	seq                                int64
	at, kind, phase, step, actor, data string
	prevHash, hash                     string
}

func (r rawEvent) event() (Event, error) {
	ev := Event{Incident: r.incident, Seq: r.seq, At: parseTime(r.at), Kind: Kind(r.kind), Phase: r.phase,
		Step: r.step, Actor: r.actor, PrevHash: r.prevHash, Hash: r.hash}
	if err := json.Unmarshal([]byte(r.data), &ev.Data); err != nil {
		return ev, err
	}
	return ev, nil
}

// computeHash is the chain: sha256 of the previous hash, a newline and the
// canonical content (a JSON array of the stored column strings).
func (r rawEvent) computeHash() string {
	canon, _ := json.Marshal([]any{r.incident, r.seq, r.at, r.kind, r.phase, r.step, r.actor, r.data})
	h := sha256.New()
	h.Write([]byte(r.prevHash))
	h.Write([]byte("\n"))
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// Load rebuilds an incident's state from its timeline, open or closed,
// without changing anything.
func (s *Store) Load(ctx context.Context, id string) (*State, error) {
	evs, err := s.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	return Rebuild(evs)
}

// VerifyResult is the outcome of checking an incident's hash chain.
type VerifyResult struct {
	Incident string `json:"incident"`
	Events   int    `json:"events"`
	OK       bool   `json:"ok"`
	// BadSeq is the first event that does not check out (edited, deleted
	// before it, or out of order); 0 when OK. When the last events were
	// deleted it is the first missing sequence number.
	BadSeq  int64  `json:"bad_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Verify recomputes an incident's hash chain and names the first event
// that was edited, deleted or reordered. An error means the check itself
// could not be done.
func (s *Store) Verify(ctx context.Context, id string) (VerifyResult, error) {
	res := VerifyResult{Incident: id}
	var headSeq int64
	var headHash string
	err := s.db.QueryRowContext(ctx, `SELECT head_seq, head_hash FROM incidents WHERE id = ?`, id).Scan(&headSeq, &headHash)
	if errors.Is(err, sql.ErrNoRows) {
		return res, &Error{Err: ErrNotFound, Detail: id, Advice: "run 'drbook incidents' to list them"}
	}
	if err != nil {
		return res, s.classify("verify", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, kind, phase, step, actor, data, prev_hash, hash
		FROM events WHERE incident_id = ? ORDER BY seq`, id)
	if err != nil {
		return res, s.classify("verify", err)
	}
	defer rows.Close()
	prev := ""
	want := int64(1)
	bad := func(seq int64, format string, args ...any) {
		if res.BadSeq == 0 {
			res.BadSeq, res.Problem = seq, fmt.Sprintf(format, args...)
		}
	}
	for rows.Next() {
		r := rawEvent{incident: id}
		if err := rows.Scan(&r.seq, &r.at, &r.kind, &r.phase, &r.step, &r.actor, &r.data, &r.prevHash, &r.hash); err != nil {
			return res, s.classify("verify", err)
		}
		res.Events++
		if res.BadSeq != 0 {
			continue
		}
		switch {
		case r.seq != want:
			bad(r.seq, "event %d follows event %d: event(s) %d..%d deleted or renumbered", r.seq, want-1, want, r.seq-1)
		case r.prevHash != prev:
			bad(r.seq, "event %d does not link to event %d: reordered, or an earlier event was replaced", r.seq, r.seq-1)
		case r.computeHash() != r.hash:
			bad(r.seq, "event %d (%s) was edited: its content does not match its hash", r.seq, r.kind)
		}
		prev = r.hash
		want = r.seq + 1
	}
	if err := rows.Err(); err != nil {
		return res, s.classify("verify", err)
	}
	if res.BadSeq == 0 {
		switch {
		case headSeq > want-1:
			bad(want, "the timeline ends at event %d but %d were recorded: event(s) %d..%d deleted", want-1, headSeq, want, headSeq)
		case headSeq != want-1 || headHash != prev:
			bad(want-1, "the last event %d does not match the recorded head of the chain", want-1)
		}
	}
	res.OK = res.BadSeq == 0
	return res, nil
}

// append writes events durably, chaining them after the incident's head,
// in one transaction. caughtUp receives the events other processes
// appended since seq, inside the transaction, before build runs; build
// returns the events to append (with Kind, At, Phase, Step, Actor, Data
// set) or an error that aborts without writing. It returns the appended
// events with Seq and hashes filled in.
func (s *Store) append(ctx context.Context, id string, seq int64, caughtUp func([]Event) error, build func() ([]Event, error)) ([]Event, error) {
	return s.appendAfter(ctx, id, seq, "", caughtUp, build)
}

// appendAfter is append for a caller whose state ends at event seq with
// hash known: if event seq no longer has that hash (a replication rebase
// re-sequenced the timeline) it returns errStale and writes nothing.
func (s *Store) appendAfter(ctx context.Context, id string, seq int64, known string, caughtUp func([]Event) error, build func() ([]Event, error)) ([]Event, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.classify("record event", err)
	}
	defer tx.Rollback()
	var headSeq int64
	var headHash, status string
	err = tx.QueryRowContext(ctx, `SELECT head_seq, head_hash, status FROM incidents WHERE id = ?`, id).Scan(&headSeq, &headHash, &status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, s.classify("record event", err)
	}
	exists := err == nil
	if known != "" && seq > 0 {
		if err := checkKnown(ctx, tx, id, seq, known); err != nil {
			return nil, err
		}
	}
	if headSeq > seq {
		newer, err := queryEvents(ctx, tx, id, seq, s)
		if err != nil {
			return nil, err
		}
		if err := caughtUp(newer); err != nil {
			return nil, err
		}
	}
	evs, err := build()
	if err != nil {
		return nil, err
	}
	for i := range evs {
		ev := &evs[i]
		ev.Incident = id
		headSeq++
		ev.Seq = headSeq
		ev.At = ev.At.UTC()
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", ev.Kind, err)
		}
		r := rawEvent{incident: id, seq: ev.Seq, at: fmtTime(ev.At), kind: string(ev.Kind), phase: ev.Phase, step: ev.Step,
			actor: ev.Actor, data: string(data), prevHash: headHash}
		r.hash = r.computeHash()
		ev.PrevHash, ev.Hash = r.prevHash, r.hash
		headHash = r.hash
		if ev.Kind == KindDeclared {
			if exists {
				return nil, fmt.Errorf("declare %s: an incident with that id exists", id)
			}
			d := ev.Data.Declared
			if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, runbook, title, mode, severity, drill_test, operator,
				declared_at, detected_at, last_at, speed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, d.Runbook.ID, d.Title, string(d.Mode), d.Severity, d.DrillTest, d.Operator.String(),
				fmtTime(d.DeclaredAt), fmtTime(d.DetectedAt), r.at, d.Speed); err != nil {
				return nil, s.classify("record event", err)
			}
			exists = true
		} else if !exists {
			return nil, &Error{Err: ErrNotFound, Detail: id}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (incident_id, seq, at, kind, phase, step, actor, data, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, r.seq, r.at, r.kind, r.phase, r.step, r.actor, r.data, r.prevHash, r.hash); err != nil {
			return nil, s.classify("record event", err)
		}
		switch ev.Kind {
		case KindSeverity:
			_, err = tx.ExecContext(ctx, `UPDATE incidents SET severity = ? WHERE id = ?`, ev.Data.Severity, id)
		case KindClosed:
			_, err = tx.ExecContext(ctx, `UPDATE incidents SET status = ?, closed_at = ? WHERE id = ?`, string(ev.Data.Outcome), r.at, id)
		}
		if err != nil {
			return nil, s.classify("record event", err)
		}
	}
	if len(evs) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET head_seq = ?, head_hash = ?, last_at = ?, touched = ? WHERE id = ?`,
			headSeq, headHash, fmtTime(evs[len(evs)-1].At), fmtTime(time.Now()), id); err != nil {
			return nil, s.classify("record event", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.classify("record event", err)
	}
	if len(evs) > 0 {
		s.appended(id)
	}
	return evs, nil
}
