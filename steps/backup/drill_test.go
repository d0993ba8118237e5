package backup_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/drbook/drbook/steps"
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
