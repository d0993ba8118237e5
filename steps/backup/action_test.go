package backup_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
)

func TestActionsInADrill(t *testing.T) {
	root := MustRoot(t, "before-fault", 40)
	env := steps.Env{Root: root, Drill: true, BackupDir: filepath.Join(t.TempDir(), "backups"),
		Now: func() time.Time { return time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC) }}
	t.Setenv("DRBOOK_PASSPHRASE", "")
	t.Setenv("DRBOOK_PASSPHRASE_FILE", "")
	var events []steps.Event
	emit := func(e steps.Event) { events = append(events, e) }

	if !steps.Implemented("backup") || !steps.Implemented("restore") || !steps.Implemented("restore-config") {
		t.Fatal("actions not registered")
	}
	bk, _ := steps.Lookup("backup")
	res, err := bk.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{}}, emit)
	if err != nil || res.Status != steps.StatusOK || !strings.Contains(res.Summary, "verified") {
		t.Fatalf("backup action: %+v %v", res, err)
	}
	progress := 0
	for _, e := range events {
		if e.Progress != nil {
			progress++
		}
	}
	if progress == 0 {
		t.Error("no progress events")
	}

	// The fault: the database is damaged, .env overwritten.
	corruptDB(t, filepath.Join(root, "data", "quantai.db"))
	MustWrite(t, filepath.Join(root, ".env"), "TRADING_MODE=broken\n")

	rs, _ := steps.Lookup("restore")
	res, err = rs.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"from": "latest"}}, emit)
	if !errors.Is(err, steps.ErrNotConfirmed) || res.Status != steps.StatusFailed {
		t.Fatalf("unconfirmed restore: %+v %v", res, err)
	}
	res, err = rs.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"from": "latest", "only": "db"}, Confirmed: true}, emit)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("restore action: %+v %v", res, err)
	}
	if !res.BackupTime.Equal(time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("BackupTime %v", res.BackupTime)
	}
	db := filepath.Join(root, "data", "quantai.db")
	if Integrity(t, db) != "ok" || MustMarker(t, db) != "before-fault" {
		t.Error("database not restored")
	}
	if MustRead(t, filepath.Join(root, ".env")) != "TRADING_MODE=broken\n" {
		t.Error("only=db restored .env")
	}

	rc, _ := steps.Lookup("restore-config")
	res, err = rc.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{}, DryRun: true}, emit)
	if err != nil || !strings.Contains(res.Summary, "dry run") {
		t.Fatalf("restore-config dry run: %+v %v", res, err)
	}
	res, err = rc.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{}, Confirmed: true}, emit)
	if err != nil || strings.Join(res.Data.(*backup.RestoreResult).Parts, ",") != "config,env" {
		t.Fatalf("restore-config: %+v %v", res, err)
	}
	if !strings.Contains(MustRead(t, filepath.Join(root, ".env")), "TRADING_MODE=paper") {
		t.Error(".env not restored by restore-config")
	}
	for _, e := range events {
		if strings.Contains(e.Line, backup.DrillPassphrase) || strings.Contains(e.Line, "sk-before-fault") {
			t.Errorf("secret in an event: %q", e.Line)
		}
	}
}
