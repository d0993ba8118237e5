package steps

import (
	"database/sql"
	"net/url"
	"path/filepath"
)

// DBMode says how an action opens the system database.
type DBMode int

// Ways to open the system database. ReadOnly also sets query_only, so not
// even a temp table is written; Immutable is ReadOnly for a file nothing
// else may change (SQLite then creates no lock, -wal or -shm file).
const (
	ReadOnly DBMode = iota
	Immutable
	ReadWrite
	// Create is ReadWrite that creates a missing file: for a new database
	// drbook writes (a salvage, a staged copy), never for the system's.
	Create
)

// OpenDB opens the SQLite database at path with a busy timeout and one
// connection. Except in Create mode it never creates a missing file: the
// caller's first query fails instead. Every action opens SQLite through it,
// so the modes mean the same everywhere. The sqlite driver must be linked in by the caller.
func OpenDB(path string, mode DBMode) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	switch mode {
	case ReadWrite:
		q.Set("mode", "rw")
	case Create:
		q.Set("mode", "rwc")
	default:
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
		if mode == Immutable {
			q.Set("immutable", "1")
		}
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
