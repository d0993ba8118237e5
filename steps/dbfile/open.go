package dbfile

import (
	"database/sql"
	"net/url"
	"path/filepath"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Mode says how drbook opens a QuantAI database file.
type Mode int

// Ways to open a database file. ReadOnly also sets query_only, so not even
// a temp table is written; Immutable is ReadOnly for a file nothing else
// may change (SQLite then creates no lock, -wal or -shm file).
const (
	ReadOnly Mode = iota
	Immutable
	ReadWrite
	// Create is ReadWrite that creates a missing file: for a new database
	// drbook writes (a salvage, a staged copy, the sandbox), never for the
	// system's.
	Create
)

// Open opens the SQLite database at path in mode with a busy timeout and
// one connection. Except in Create mode it never creates a missing file:
// the caller's first query fails instead. Every open of a QuantAI database
// goes through Open or OpenURI, so the modes mean the same everywhere.
func Open(path string, mode Mode) (*sql.DB, error) {
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
	return OpenURI((&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String())
}

// OpenURI opens a database by one of the URIs this package builds for a
// file whose state decides the mode (File.DSN, PeekURI, ReadOnlyURI...),
// with one connection.
func OpenURI(uri string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
