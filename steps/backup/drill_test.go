package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestRestoreEveryDatabaseFaultInASandbox runs the real actions inside a
// drill: back up a generated sandbox, inject each database fault, restore
// "latest", and check the live database is whole again.
func TestRestoreEveryDatabaseFaultInASandbox(t *testing.T) {
	ctx := context.Background()
	for _, fault := range []string{"corrupt-db", "torn-page", "delete-db", "stale-wal", "bad-config", "missing-env"} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "sandbox")
			if err := sandbox.Create(ctx, root, sandbox.Options{Trades: 2000, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			env := steps.Env{Root: root, Drill: true, BackupDir: filepath.Join(dir, "backups"), Now: time.Now}
			emit := func(steps.Event) {}
			bk, _ := steps.Lookup("backup")
			if res, err := bk.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, emit); err != nil {
				t.Fatalf("backup: %v (%s)", err, res.Summary)
			}
			before := MustRead(t, filepath.Join(root, ".env"))
			if err := sandbox.Inject(root, fault); err != nil {
				t.Fatal(err)
			}
			action, only := "restore", "db"
			if fault == "bad-config" || fault == "missing-env" {
				action, only = "restore-config", ""
			}
			a, _ := steps.Lookup(action)
			res, err := a.Run(ctx, steps.Request{Env: env, Params: map[string]string{"from": "latest", "only": only}, Confirmed: true}, emit)
			if err != nil || res.Status != steps.StatusOK || res.BackupTime.IsZero() {
				t.Fatalf("%s: %v (%+v)", action, err, res)
			}
			db := filepath.Join(root, "data", "quantai.db")
			if got := Integrity(t, db); got != "ok" {
				t.Errorf("after restore: integrity %q", got)
			}
			if got := MustRead(t, filepath.Join(root, ".env")); action == "restore-config" && got != before {
				t.Error(".env not restored")
			}
		})
	}
}

// TestRestoreRefusesABackupThatFailsItsChecks: a backup taken after the
// damage (orphaned trades, a broken agent configuration) is refused on the
// staged copy; the live system is left as it is. The backup of orphaned
// trades is itself damaged-source: kept, never latest, refused when named.
func TestRestoreRefusesABackupThatFailsItsChecks(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ fault, action string }{{"orphan-trades", "restore"}, {"bad-config", "restore-config"}} {
		t.Run(c.fault, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "sandbox")
			if err := sandbox.Create(ctx, root, sandbox.Options{Trades: 500, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			if err := sandbox.Inject(root, c.fault); err != nil {
				t.Fatal(err)
			}
			env := steps.Env{Root: root, Drill: true, BackupDir: filepath.Join(dir, "backups")}
			bk, _ := steps.Lookup("backup")
			params := map[string]string{}
			bres, err := bk.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, func(steps.Event) {})
			if c.fault == "orphan-trades" {
				if !errors.Is(err, backup.ErrDamagedSource) || bres.Status != steps.StatusFailed || !strings.Contains(bres.Summary, "damaged-source") {
					t.Fatalf("backup of orphaned trades: %v (%+v)", err, bres)
				}
				before := snapshotTree(t, root)
				a, _ := steps.Lookup(c.action)
				if _, err := a.Run(ctx, steps.Request{Env: env, Params: map[string]string{}, Confirmed: true}, func(steps.Event) {}); !errors.Is(err, backup.ErrNoBackup) {
					t.Fatalf("restore latest with only a damaged-source backup: %v", err)
				}
				assertUnchanged(t, root, before)
				params["from"] = bres.Data.(backup.BackupReport).Archive
			} else if err != nil {
				t.Fatal(err)
			}
			before := snapshotTree(t, root)
			a, _ := steps.Lookup(c.action)
			res, err := a.Run(ctx, steps.Request{Env: env, Params: params, Confirmed: true}, func(steps.Event) {})
			if !errors.Is(err, backup.ErrCheckFailed) || res.Status != steps.StatusFailed {
				t.Fatalf("%s of a backup that fails its checks: %v (%+v)", c.action, err, res)
			}
			assertUnchanged(t, root, before)
		})
	}
}

func TestCatalogueFeedsBackupFreshness(t *testing.T) {
	ctx := context.Background()
	root := MustRoot(t, "f", 5)
	dir := t.TempDir()
	run := func() checks.Status {
		rep, err := checks.Run(ctx, checks.Options{Root: root, Only: []string{checks.BackupFreshness}, Backups: backup.Catalogue(dir, nil)}, func(checks.Finding) {})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Status()
	}
	if s := run(); s != checks.Fail {
		t.Errorf("no backups: %s", s)
	}
	MustBackup(t, root, dir, 1, time.Now().Add(-time.Hour))
	if s := run(); s != checks.Fail {
		t.Errorf("an hour-old backup against a 15-minute RPO: %s", s)
	}
	MustBackup(t, root, dir, 1, time.Now())
	if s := run(); s == checks.Fail {
		t.Errorf("fresh backup: %s", s)
	}
	// With no Options.Backups, the catalogue registered for the root is used.
	os.Rename(dir, filepath.Join(root, "backups"))
	rep, _ := checks.Run(ctx, checks.Options{Root: root, Only: []string{checks.BackupFreshness}}, func(checks.Finding) {})
	if rep.Status() == checks.Fail {
		t.Errorf("registered catalogue did not find <root>/backups: %+v", rep.Findings)
	}
}
