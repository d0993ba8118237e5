package killswitch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/steps/dbfile"
	"github.com/drbook/drbook/steps/system"
)

// ErrDatabaseDamaged means the database failed the sanity check that runs
// before every write: SQLite would accept the write into a damaged file and
// could spread the damage, so the database is left untouched.
var ErrDatabaseDamaged = errors.New("the database looks damaged")

// checkDatabase is the look before a write. It first reads the 100-byte
// header and the file size with dbfile.InspectDB (a SQLite header, a sane
// page size, a whole number of pages that agrees with the header's page
// count when there is no WAL), then runs PRAGMA quick_check(1) read-only: a torn b-tree page keeps
// the header and size intact and only a walk of the pages finds it. The
// quick_check reads the whole file: about 2 s on a 1.1 GB sandbox on a
// shared 2-core machine (BenchmarkCheckDatabase; 1.2 s with the sqlite3
// binary). It runs after the flag file is written, so trading is already
// halted while it reads, and the operator learns of a damaged database
// before anything writes into it. A missing database
// is not "damaged": the write then fails with its own error.
func checkDatabase(ctx context.Context, root string) error {
	path := system.DB(root)
	if err := dbfile.InspectDB(path); err != nil {
		if errors.Is(err, dbfile.ErrNoDatabase) {
			return nil
		}
		// "data/quantai.db: 13 stray bytes ...", not the full path and
		// "database file is damaged" after "looks damaged".
		msg := strings.TrimPrefix(err.Error(), path+": ")
		msg = strings.TrimPrefix(msg, dbfile.ErrDamagedDatabase.Error()+": ")
		return fmt.Errorf("%w: data/quantai.db: %s", ErrDatabaseDamaged, msg)
	}
	// Without a WAL no connection has the database open in WAL mode, so
	// it is read as immutable: a plain read-only open would leave an empty
	// -wal and -shm next to a damaged file.
	_, werr := os.Stat(path + "-wal")
	db, err := openDBWith(root, false, werr != nil)
	if err != nil {
		return nil // the write reports it
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: data/quantai.db: quick_check: %v", ErrDatabaseDamaged, err)
	}
	if res != "ok" {
		// "*** in database main ***\nTree 6 page 13: ..." on one line.
		res = strings.TrimSpace(strings.TrimPrefix(res, "*** in database main ***"))
		res = strings.Join(strings.Fields(res), " ")
		return fmt.Errorf("%w: data/quantai.db: quick_check: %s", ErrDatabaseDamaged, res)
	}
	return nil
}
