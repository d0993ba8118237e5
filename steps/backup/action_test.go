package backup_test

import (
	"context"
	"encoding/json"
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

// TestActionsAskAndTakeAPassphrase: the command line's way through the
// registered actions. The passphrase comes from the request's provider
// (nothing in the environment); the backup's result carries its whole
// outcome for --json; a restore with a Confirm callback asks once, after
// staging, with what would change, and a no changes nothing; bad
// max-expand or s3-path-style parameters change nothing.
func TestActionsAskAndTakeAPassphrase(t *testing.T) {
	root := MustRoot(t, "asked", 30)
	t.Setenv("DRBOOK_PASSPHRASE", "")
	t.Setenv("DRBOOK_PASSPHRASE_FILE", "")
	pass := func() ([]byte, error) { return []byte("correct horse battery"), nil }
	env := steps.Env{Root: root, BackupDir: filepath.Join(t.TempDir(), "backups")}
	ctx := context.Background()

	bk, _ := steps.Lookup("backup")
	if _, err := bk.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, func(steps.Event) {}); !errors.Is(err, backup.ErrNoPassphrase) {
		t.Fatalf("backup with no passphrase anywhere: %v", err)
	}
	res, err := bk.Run(ctx, steps.Request{Env: env, Params: map[string]string{"tier": "2"}, Passphrase: pass}, func(steps.Event) {})
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("backup with a passphrase provider: %+v %v", res, err)
	}
	rep, ok := res.Data.(backup.BackupReport)
	if !ok || rep.Outcome == nil || rep.Outcome.ArchivePath != rep.Archive || rep.Tier != 2 || len(rep.Outcome.Manifest.Files) != rep.Files ||
		!rep.Status.Counts() || !strings.HasPrefix(rep.Outcome.Manifest.Tool, "drbook") {
		t.Fatalf("backup result: %+v", res.Data)
	}
	// What the timeline records is the summary, not the file list.
	if b, _ := json.Marshal(rep); strings.Contains(string(b), "quantai.db\"") || !strings.Contains(string(b), `"archive"`) {
		t.Errorf("recorded backup result: %s", b)
	}

	db := filepath.Join(root, "data", "quantai.db")
	corruptDB(t, db)
	rs, _ := steps.Lookup("restore")
	for _, p := range []map[string]string{{"max-expand": "lots"}, {"s3": "s3://b/p", "s3-path-style": "sometimes"}} {
		if _, err := rs.Run(ctx, steps.Request{Env: env, Params: p, Passphrase: pass, Confirmed: true}, func(steps.Event) {}); err == nil {
			t.Errorf("restore with %v: no error", p)
		}
	}
	var asked []*backup.RestoreResult
	no := func(preview any) bool { asked = append(asked, preview.(*backup.RestoreResult)); return false }
	res, err = rs.Run(ctx, steps.Request{Env: env, Params: map[string]string{"only": "db"}, Passphrase: pass, Confirm: no}, func(steps.Event) {})
	if !errors.Is(err, backup.ErrNotConfirmed) || res.Status != steps.StatusFailed || len(asked) != 1 || len(asked[0].Changes) == 0 {
		t.Fatalf("restore declined: %+v %v (asked %d)", res, err, len(asked))
	}
	if Integrity(t, db) == "ok" {
		t.Fatal("a declined restore changed the database")
	}
	yes := func(any) bool { return true }
	res, err = rs.Run(ctx, steps.Request{Env: env, Params: map[string]string{"only": "db", "max-expand": "200x"}, Passphrase: pass, Confirm: yes}, func(steps.Event) {})
	if err != nil || res.Status != steps.StatusOK || Integrity(t, db) != "ok" || MustMarker(t, db) != "asked" {
		t.Fatalf("restore confirmed mid-way: %+v %v", res, err)
	}
}
