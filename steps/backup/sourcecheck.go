package backup

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
)

// ErrDamagedSource means the database being backed up is damaged or
// empty. The archive is kept, marked damaged-source, and never counts.
var ErrDamagedSource = hint.NewFinding("the database fails its checks")

// checkSnapshot checks a database snapshot the way a restore checks what it
// restores: a full PRAGMA integrity_check (in a checker process, on its own
// core, as a restore does) beside the plan's data validation. root is a
// directory laid out like a system root that holds the snapshot as
// data/quantai.db. It also reads the facts a manifest records. An error
// means the checks could not run (cancelled, out of memory), not that the
// database is damaged: damage is in the SourceCheck.
func checkSnapshot(ctx context.Context, c Checker, root, snap string) (*DBInfo, *SourceCheck, error) {
	var wg sync.WaitGroup
	var fails []string
	var valErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		fails, _, valErr = validateStaged(ctx, root, []string{PartDB})
	}()
	ic, icErr := integrityOf(ctx, c, snap)
	wg.Wait()
	if icErr != nil {
		return nil, nil, icErr
	}
	if valErr != nil {
		return nil, nil, fmt.Errorf("data validation: %w", valErr)
	}
	dbi, err := dbFacts(ctx, snap)
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return nil, nil, ce
		}
		// The facts are a record, not a check: a snapshot too damaged to
		// read its page count is recorded as such.
		dbi = &DBInfo{}
		fails = append(fails, "read the snapshot: "+err.Error())
	}
	src := &SourceCheck{IntegrityCheck: ic, Failures: fails}
	if dbi.PageCount == 0 || dbi.objects == 0 {
		// Every other failure (each table missing) says the same again.
		src.Failures = []string{"the database is empty (no tables): there is no data to back up"}
	}
	src.Status = StatusVerified
	if !src.OK() {
		src.Status = StatusDamagedSource
	}
	return dbi, src, nil
}

// integrityOf runs the full integrity_check on a private snapshot and
// returns "ok" or the problems found.
func integrityOf(ctx context.Context, c Checker, path string) (string, error) {
	out, err := c.run(ctx, path)
	if err == nil {
		return strings.TrimRight(string(out), "\n"), nil
	}
	if ce := ctx.Err(); ce != nil {
		return "", ce
	}
	db, err := steps.OpenDB(path, steps.Immutable)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return integrity(ctx, db, true)
}

// dbFacts reads the facts a manifest records about a database file: its
// page count and size and the row counts of the plan's critical tables.
func dbFacts(ctx context.Context, path string) (*DBInfo, error) {
	db, err := steps.OpenDB(path, steps.Immutable)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	info := &DBInfo{Tables: map[string]int64{}}
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&info.PageCount); err != nil {
		return nil, notADB(err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&info.PageSize); err != nil {
		return nil, notADB(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&info.objects); err != nil {
		info.objects = -1 // unreadable: the checks say why
	}
	for _, t := range []string{"trades", "positions", "orders", "accounts", "audit_trail"} {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err == nil {
			info.Tables[t] = n
		}
	}
	return info, nil
}
