package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLiveHostFromConfigOnly runs the operator's commands on a host that
// is described only by its site configuration: no --root, --to or
// --passphrase-file on any command line.
func TestLiveHostFromConfigOnly(t *testing.T) {
	root := actionSandbox(t)
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	pass := filepath.Join(dir, "backup.pass")
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	cfg := filepath.Join(dir, "drbook.yaml")
	os.WriteFile(cfg, []byte(`system:
  root: `+root+`
  live: true
backup:
  dirs: [backups]          # relative to this file
  passphrase_file: backup.pass
brokers:
  ibkr: {statement: `+filepath.Join(root, "brokers", "ibkr_positions.csv")+`}
  alpaca: {statement: `+filepath.Join(root, "brokers", "alpaca_positions.json")+`}
state:
  dir: state
`), 0o644)
	env := map[string]string{"DRBOOK_CONFIG": cfg, "USER": "erin", "HOME": dir}

	if out, errOut, code := runCLI(t, env, "config", "check"); code != 0 {
		t.Fatalf("config check: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := runCLI(t, env, "backup")
	if code != 0 || !strings.Contains(out+errOut, backups) {
		t.Fatalf("backup with no flags: %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, env, "backups"); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("backups: %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, env, "check"); code != 0 || !strings.Contains(out, "backup-freshness") {
		t.Fatalf("check: %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, env, "reconcile"); code != 0 || !strings.Contains(out, "ibkr_positions.csv") || !strings.Contains(out, "alpaca_positions.json") {
		t.Fatalf("reconcile: %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, env, "restore", "--yes"); code != 0 || !strings.Contains(out+errOut, root) {
		t.Fatalf("restore: %d\n%s%s", code, out, errOut)
	}
	// Incidents land in state.dir, relative to the file.
	if _, errOut, code := runCLI(t, env, "declare", "database-recovery"); code != 0 {
		t.Fatalf("declare: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "drbook.db")); err != nil {
		ents, _ := os.ReadDir(filepath.Join(dir, "state"))
		t.Fatalf("no state database in state.dir: %v (%v)", err, ents)
	}
	// A flag still wins over the file.
	other := t.TempDir()
	if out, errOut, _ := runCLI(t, env, "backups", "--to", other); !strings.Contains(out, "no backups in "+other) {
		t.Fatalf("backups --to an empty folder:\n%s%s", out, errOut)
	}
}
