package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook/incident"
)

// TestBackupRestoreRecordTheirAction: with --incident, backup and restore
// record what their registered action did, as a runbook step's would be:
// the parameters (the passphrase from a file is never one, and appears
// nowhere in the timeline), the backup's result and the restore's own
// report of what changed.
func TestBackupRestoreRecordTheirAction(t *testing.T) {
	sys := mustSystem(t, "recorded")
	state := t.TempDir()
	id := mustDeclare(t, state, "database-recovery", sys)
	const pass = "correct-horse-battery-staple-42"
	pf := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pf, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DRBOOK_BACKUP_DIR": t.TempDir(), "USER": "erin"}
	if _, errOut, code := runCLI(t, env, "backup", "--root", sys, "--passphrase-file", pf, "--tier", "2", "--incident", id, "--state-dir", state); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	out, errOut, code := runCLI(t, env, "restore", "--root", sys, "--yes", "--passphrase-file", pf, "--max-expand", "200x", "--incident", id, "--state-dir", state)
	if code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	if strings.Contains(errOut, "data/quantai.db: ") {
		t.Errorf("the restore's report reached stderr as well as stdout:\n%s", errOut)
	}
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 2 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	bk, rs := st.Runs[0], st.Runs[1]
	if bk.Action != "backup" || bk.Status != "ok" || bk.Params["tier"] != "2" || !strings.Contains(bk.Summary, "verified (tier 2") {
		t.Errorf("backup run: %+v", bk)
	}
	if rs.Action != "restore" || rs.Status != "ok" || rs.Params["max-expand"] != "200x" || rs.BackupTime.IsZero() {
		t.Errorf("restore run: %+v", rs)
	}
	// Every change the command printed is in the recorded output.
	changes := 0
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "data/quantai.db: ") || strings.HasPrefix(l, ".env: ") {
			changes++
			if !strings.Contains(rs.Output, l) {
				t.Errorf("printed %q, not recorded in:\n%s", l, rs.Output)
			}
		}
	}
	if changes != 2 {
		t.Errorf("%d change lines printed, want the database's and .env's:\n%s", changes, out)
	}
	events, err := store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(events)
	if strings.Contains(string(raw), pass) {
		t.Error("the passphrase reached the timeline")
	}
	var result struct {
		Archive string `json:"archive"`
		Tier    int    `json:"tier"`
	}
	for _, e := range events {
		if e.Data.Action == "backup" && len(e.Data.Result) > 0 {
			if err := json.Unmarshal(e.Data.Result, &result); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := os.Stat(result.Archive); err != nil || result.Tier != 2 {
		t.Errorf("recorded backup result %+v: %v", result, err)
	}
}
