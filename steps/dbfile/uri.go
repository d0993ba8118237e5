package dbfile

import (
	"net/url"
	"os"
)

// The ways drbook opens a database file by URI, in one place. The action
// code opens the live system database with steps.OpenDB; these are for
// the files around a backup and a restore (a snapshot, a staged copy).

// ReadOnlyURI opens path read-only.
func ReadOnlyURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro"
}

// ReadWriteURI opens path read-write without creating it.
func ReadWriteURI(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=rw"
}

// ImmutableURI opens a file nothing else writes (a staged copy private to
// a restore) read-only and immutable: no locks, no -wal or -shm looked for
// or made.
func ImmutableURI(path string) string { return ReadOnlyURI(path) + "&immutable=1" }

// PeekURI opens a database read-only without creating or changing any file
// next to it: immutable when there is no WAL, else a private in-memory
// wal-index on the lock-free VFS. Only for looking, never for a consistent
// copy.
func PeekURI(path string) string {
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		return ImmutableURI(path)
	}
	return ReadOnlyURI(path) + "&vfs=unix-none&_pragma=locking_mode(EXCLUSIVE)"
}
