package steps

import (
	"database/sql"

	"github.com/drbook/drbook/steps/dbfile"
)

// DBMode says how an action opens the system database (dbfile.Mode).
type DBMode = dbfile.Mode

// Ways to open the system database: see dbfile.Mode.
const (
	ReadOnly  = dbfile.ReadOnly
	Immutable = dbfile.Immutable
	ReadWrite = dbfile.ReadWrite
	Create    = dbfile.Create
)

// OpenDB opens the SQLite database at path in mode (dbfile.Open): a busy
// timeout, one connection, and never a missing file created except in
// Create mode.
func OpenDB(path string, mode DBMode) (*sql.DB, error) { return dbfile.Open(path, mode) }
