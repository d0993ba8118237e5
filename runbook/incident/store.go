package incident

import (
	"context"
	"database/sql"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"
)

// DBName is the state database's file name inside the state directory.
const DBName = "drbook.db"

// Store is drbook's state database: incidents and their hash-chained
// timelines, in one SQLite file in WAL mode with synchronous=FULL (an
// acknowledged event survives a power cut) and a busy timeout (two drbook
// processes on one host share it safely). It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
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
func OpenStoreWith(dir string, opts StoreOptions) (*Store, error) { return nil, errTODO }

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
}

// Incidents lists every incident, open ones first, newest first within.
func (s *Store) Incidents(ctx context.Context) ([]Summary, error) { return nil, errTODO }

// Resolve turns what an operator typed into an incident id: an exact id, a
// unique prefix, or "" for the most recently active open incident.
func (s *Store) Resolve(ctx context.Context, ref string) (string, error) { return "", errTODO }

// Events returns an incident's whole timeline in order.
func (s *Store) Events(ctx context.Context, id string) ([]Event, error) {
	return s.EventsAfter(ctx, id, 0)
}

// EventsAfter returns the events with a sequence number above seq: a cheap
// poll for followers (resume --follow).
func (s *Store) EventsAfter(ctx context.Context, id string, seq int64) ([]Event, error) {
	return nil, errTODO
}

// Load rebuilds an incident's state from its timeline, open or closed,
// without changing anything.
func (s *Store) Load(ctx context.Context, id string) (*State, error) { return nil, errTODO }

// VerifyResult is the outcome of checking an incident's hash chain.
type VerifyResult struct {
	Incident string `json:"incident"`
	Events   int    `json:"events"`
	OK       bool   `json:"ok"`
	// BadSeq is the first event that does not check out (edited, deleted
	// before it, or out of order); 0 when OK.
	BadSeq  int64  `json:"bad_seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// Verify recomputes an incident's hash chain and names the first event
// that was edited, deleted or reordered. An error means the check itself
// could not be done.
func (s *Store) Verify(ctx context.Context, id string) (VerifyResult, error) {
	return VerifyResult{}, errTODO
}
