package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"modernc.org/sqlite"

	"github.com/drbook/drbook/steps/dbfile"
	"github.com/drbook/drbook/steps/salvage"
)

// sqliteBackup is the part of modernc's connection that runs the online
// backup API.
type sqliteBackup interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// snapshotPages is how many pages one backup step copies: 64 MiB at the
// default 4 KiB page, so progress moves and the step stays short.
const snapshotPages = 16384

// snapshot copies the live database at src into the new file dst with
// SQLite's online backup API, stepped to completion. It holds one read
// transaction for the whole copy, so the copy is a single consistent point
// in time even while writers commit to the WAL, and it never restarts.
func snapshot(ctx context.Context, src, dst string, progress func(done, total int64)) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("database %s: %w", src, err)
	}
	db, err := dbfile.OpenURI(dbfile.ReadOnlyURI(src))
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 10000"); err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	// Pin a read snapshot: the backup steps reuse this transaction.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, notADB(err))
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	return conn.Raw(func(dc any) error {
		bc, ok := dc.(sqliteBackup)
		if !ok {
			return errors.New("sqlite driver has no online backup API")
		}
		// The snapshot is a scratch file: no journal and no fsync for it
		// (the archive made from it is what gets fsynced).
		bk, err := bc.NewBackup("file:" + (&url.URL{Path: dst}).EscapedPath() + "?_pragma=synchronous(OFF)&_pragma=journal_mode(OFF)")
		if err != nil {
			return diskErr("snapshot to "+dst, err)
		}
		for {
			if err := ctx.Err(); err != nil {
				bk.Finish()
				return err
			}
			more, err := bk.Step(snapshotPages)
			if err != nil {
				bk.Finish()
				return diskErr("snapshot "+src, notADB(err))
			}
			if progress != nil {
				total := int64(bk.PageCount())
				progress(total-int64(bk.Remaining()), total)
			}
			if !more {
				break
			}
		}
		if err := bk.Finish(); err != nil {
			return diskErr("snapshot "+src, err)
		}
		return nil
	})
}

func notADB(err error) error {
	if err != nil && (strings.Contains(err.Error(), "not a database") || strings.Contains(err.Error(), "malformed")) {
		return fmt.Errorf("%w (%v)", ErrCheckFailed, err)
	}
	return err
}

// integrity runs quick_check or integrity_check (see salvage.Integrity).
func integrity(ctx context.Context, db *sql.DB, full bool) (string, error) {
	return salvage.Integrity(ctx, db, full)
}

// checkDB runs integrity_check (full) or quick_check on a database file and
// fails with ErrCheckFailed unless it says ok.
func checkDB(ctx context.Context, path string, full bool) error {
	return checkDBURI(ctx, dbfile.ReadOnlyURI(path), full)
}

func checkDBURI(ctx context.Context, uri string, full bool) error {
	db, err := dbfile.OpenURI(uri)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := integrity(ctx, db, full)
	if err != nil {
		return err
	}
	if res != "ok" {
		what := "quick_check"
		if full {
			what = "integrity_check"
		}
		return fmt.Errorf("%w: %s: %s", ErrCheckFailed, what, res)
	}
	return nil
}
