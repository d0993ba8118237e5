package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/s3fake"
	"github.com/drbook/drbook/ui/cli"
)

const envBase = "OPENAI_API_KEY=sk\nIBKR_HOST=127.0.0.1\nIBKR_PORT=7497\nALPACA_API_KEY=ak\n"

func writeEnv(t *testing.T, root, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(envBase+"TRADING_MODE="+mode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustSystem builds a small QuantAI root from the pinned schema.
func mustSystem(t *testing.T, marker string) string {
	t.Helper()
	root := t.TempDir()
	schema, err := os.ReadFile(filepath.Join("..", "..", "steps", "sandbox", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "data"), 0o755)
	os.MkdirAll(filepath.Join(root, "config", "agents"), 0o755)
	os.MkdirAll(filepath.Join(root, "logs"), 0o755)
	db, err := sql.Open("sqlite", filepath.Join(root, "data", "quantai.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(schema), `INSERT INTO control VALUES ('marker','` + marker + `','2026-01-01T00:00:00Z','t')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	os.WriteFile(filepath.Join(root, "config", "settings.yaml"), []byte("m: "+marker+"\n"), 0o600)
	os.WriteFile(filepath.Join(root, "config", "agents", "risk.json"), []byte(`{"name":"risk"}`), 0o600)
	writeEnv(t, root, marker)
	return root
}

func marker(t *testing.T, root string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(root, "data", "quantai.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT value FROM control WHERE key='marker'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return out.String(), errb.String(), code
}

func TestBackupCommands(t *testing.T) {
	for _, c := range []string{"backup", "backups", "restore", "verify", "prune", "recover"} {
		out, _, code := runCLI(t, nil, c, "--help")
		if code != 0 || !strings.Contains(out, "Exit codes") || !strings.Contains(out, "Usage: drbook "+c) {
			t.Errorf("%s --help: %d %q", c, code, out)
		}
	}
	sys := mustSystem(t, "backed-up")
	dir := t.TempDir()
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("s3cret\n"), 0o600)
	env := map[string]string{"DRBOOK_BACKUP_DIR": dir}

	// No passphrase and no terminal: a usage error, nothing written.
	if _, errOut, code := runCLI(t, env, "backup", "--root", sys); code != 2 || !strings.Contains(errOut, "passphrase") {
		t.Errorf("backup without passphrase: %d %q", code, errOut)
	}
	out, errOut, code := runCLI(t, env, "backup", "--root", sys, "--passphrase-file", pf, "--json")
	if code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	var b struct {
		Archive  string
		Verified bool
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || !b.Verified || filepath.Dir(b.Archive) != dir {
		t.Fatalf("backup --json: %v %q", err, out)
	}

	out, _, code = runCLI(t, env, "backups", "--json")
	var l struct {
		Backups []struct {
			Name     string
			Verified bool
		}
		RPOMet bool `json:"rpo_met"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != 0 || len(l.Backups) != 1 || !l.RPOMet {
		t.Fatalf("backups --json: %d %v %q", code, err, out)
	}
	if out, _, code = runCLI(t, env, "backups", "--rpo", "0s"); code != 1 || !strings.Contains(out, "NOT MET") {
		t.Errorf("backups with an RPO missed: %d %q", code, out)
	}

	// The live system changes.
	writeEnv(t, sys, "now")

	// No terminal, no --yes: refused; wrong passphrase: exit 2; both leave the data.
	if _, errOut, code = runCLI(t, env, "restore", "--root", sys, "--passphrase-file", pf); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("restore without --yes: %d %q", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("nope\n"), 0o600)
	if _, errOut, code = runCLI(t, env, "restore", "--root", sys, "--passphrase-file", bad, "--yes"); code != 2 || !strings.Contains(errOut, "wrong passphrase") {
		t.Errorf("restore with a wrong passphrase: %d %q", code, errOut)
	}
	out, _, code = runCLI(t, env, "restore", "--root", sys, "--passphrase-file", pf, "--dry-run")
	if code != 0 || !strings.Contains(out, "variables changed: TRADING_MODE") || strings.Contains(out, "=backed-up") {
		t.Errorf("restore --dry-run: %d %q", code, out)
	}
	if got, _ := os.ReadFile(filepath.Join(sys, ".env")); string(got) != envBase+"TRADING_MODE=now\n" {
		t.Fatal("a refused or dry-run restore changed .env")
	}
	out, errOut, code = runCLI(t, map[string]string{"DRBOOK_BACKUP_DIR": dir, "DRBOOK_PASSPHRASE": "s3cret"}, "restore", "--root", sys, "--yes")
	if code != 0 || !strings.Contains(out, "backup taken") || !strings.Contains(out, "original kept") {
		t.Fatalf("restore --yes: %d %q %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(sys, ".env")); string(got) != envBase+"TRADING_MODE=backed-up\n" {
		t.Errorf(".env after restore: %q", got)
	}

	if out, errOut, code = runCLI(t, env, "verify", "latest", "--passphrase-file", pf); code != 0 || !strings.HasPrefix(out, "OK ") {
		t.Errorf("verify: %d %q %q", code, out, errOut)
	}
	if out, _, code = runCLI(t, env, "prune", "--dry-run"); code != 0 || !strings.Contains(out, "nothing to prune") {
		t.Errorf("prune --dry-run: %d %q", code, out)
	}
	if _, _, code = runCLI(t, env, "prune", "--keep-local", "0s"); code != 2 {
		t.Errorf("prune with an empty policy: exit %d", code)
	}

	newDB := filepath.Join(t.TempDir(), "new.db")
	if out, errOut, code = runCLI(t, nil, "recover", filepath.Join(sys, "data", "quantai.db"), "-o", newDB, "--builtin"); code != 0 || !strings.Contains(out, "table-by-table copy") {
		t.Errorf("recover: %d %q %q", code, out, errOut)
	}
	if _, _, code = runCLI(t, nil, "recover", filepath.Join(sys, "data", "quantai.db"), "-o", newDB); code != 2 {
		t.Errorf("recover onto an existing file: exit %d", code)
	}
	if marker(t, sys) != "backed-up" {
		t.Error("marker")
	}
}

// TestRestoreAsksOnATerminal: without --yes a terminal is asked after the
// backup is staged and checked, and only "yes" goes ahead.
func TestRestoreAsksOnATerminal(t *testing.T) {
	sys := mustSystem(t, "old")
	dir := t.TempDir()
	env := map[string]string{"DRBOOK_BACKUP_DIR": dir, "DRBOOK_PASSPHRASE": "pw"}
	if _, errOut, code := runCLI(t, env, "backup", "--root", sys); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	writeEnv(t, sys, "changed")
	for _, answer := range []string{"no\n", "yes\n"} {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), []string{"restore", "--root", sys, "--no-progress"}, &cli.IO{
			Stdin: strings.NewReader(answer), Stdout: &out, Stderr: &errb, IsTerminal: true,
			Getenv: func(k string) string { return env[k] }})
		got, _ := os.ReadFile(filepath.Join(sys, ".env"))
		if !strings.Contains(out.String(), "Type yes") || !strings.Contains(out.String(), "variables changed: TRADING_MODE") {
			t.Errorf("%q: no summary and question before the swap: %q", answer, out.String())
		}
		switch answer {
		case "no\n":
			if code != 2 || string(got) != envBase+"TRADING_MODE=changed\n" {
				t.Errorf("answer no: exit %d, .env %q", code, got)
			}
		case "yes\n":
			if code != 0 || string(got) != envBase+"TRADING_MODE=old\n" {
				t.Errorf("answer yes: exit %d, .env %q, %s", code, got, errb.String())
			}
		}
	}
}

func TestBackupCommandsWithS3(t *testing.T) {
	srv := s3fake.Start(t, "bk")
	sys := mustSystem(t, "s3")
	env := map[string]string{"DRBOOK_BACKUP_DIR": t.TempDir(), "DRBOOK_PASSPHRASE": "pw"}
	s3 := []string{"--s3", "s3://bk/quantai", "--s3-endpoint", srv.Endpoint}
	out, errOut, code := runCLI(t, env, append([]string{"backup", "--root", sys, "--json"}, s3...)...)
	var b struct{ S3 string }
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || !strings.HasPrefix(b.S3, "s3://bk/quantai/quantai_") {
		t.Fatalf("backup --s3: %d %q %q", code, out, errOut)
	}
	// List S3 alone (an empty local directory).
	env["DRBOOK_BACKUP_DIR"] = t.TempDir()
	out, _, code = runCLI(t, env, append([]string{"backups", "--json"}, s3...)...)
	if code != 0 || !strings.Contains(out, `"location": "s3"`) || !strings.Contains(out, `"rpo_met": true`) {
		t.Fatalf("backups --s3: %d %q", code, out)
	}
	writeEnv(t, sys, "later")
	out, errOut, code = runCLI(t, env, "restore", "--root", sys, "--from", b.S3, "--s3-endpoint", srv.Endpoint, "--yes")
	if code != 0 || !strings.Contains(out, "restored db, config, env from "+b.S3) {
		t.Fatalf("restore --from s3: %d %q %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(sys, ".env")); string(got) != envBase+"TRADING_MODE=s3\n" {
		t.Errorf(".env after an S3 restore: %q", got)
	}
}

// TestBackupAndRestoreRecordInIncident: with --incident, backup and
// restore are recorded in the incident's timeline and the restore's
// backup time sets the RPO achieved.
func TestBackupAndRestoreRecordInIncident(t *testing.T) {
	sys := mustSystem(t, "inc")
	state := t.TempDir()
	id := mustDeclare(t, state, "database-recovery", sys)
	env := map[string]string{"DRBOOK_BACKUP_DIR": t.TempDir(), "DRBOOK_PASSPHRASE": "pw", "USER": "erin"}
	if _, errOut, code := runCLI(t, env, "restore", "--root", sys, "--yes", "--incident", "NOPE", "--state-dir", state); code != 2 || !strings.Contains(errOut, "--incident NOPE") {
		t.Errorf("unknown incident: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, env, "backup", "--root", sys, "--incident", id, "--state-dir", state); code != 0 {
		t.Fatalf("backup --incident: %s", errOut)
	}
	if _, errOut, code := runCLI(t, env, "restore", "--root", sys, "--yes", "--incident", id, "--state-dir", state); code != 0 {
		t.Fatalf("restore --incident: %s", errOut)
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
	if len(st.Runs) != 2 || st.Runs[0].Action != "backup" || st.Runs[1].Action != "restore" || st.Runs[1].Status != "ok" {
		t.Fatalf("runs: %+v", st.Runs)
	}
	if st.BackupTime.IsZero() || time.Since(st.BackupTime) > time.Hour {
		t.Errorf("backup time for the RPO not recorded: %v", st.BackupTime)
	}
	if strings.Contains(st.Runs[0].Output+st.Runs[1].Output, "pw") {
		t.Error("passphrase in the timeline")
	}
}
