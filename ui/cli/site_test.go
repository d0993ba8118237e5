package cli_test

import (
	"encoding/json"
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

// TestDeclareTakesSiteVars: a live incident declared on a configured host
// takes the runbook's variables from the site configuration (the failover
// section), under --var and over the runbook's defaults, and its root from
// system.root; a drill takes none of the real site's values; a --var the
// runbook does not declare, or a secret one, is refused.
func TestDeclareTakesSiteVars(t *testing.T) {
	root := actionSandbox(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secondary"), 0o755)
	cfg := filepath.Join(dir, "drbook.yaml")
	os.WriteFile(cfg, []byte(`system: {root: `+root+`}
state: {dir: state}
failover:
  secondary: secondary
  dns: {zone: quantai.example, record: trading.quantai.example, secondary: 10.0.2.20, type: cname, ttl: 30}
`), 0o644)
	env := map[string]string{"DRBOOK_CONFIG": cfg, "USER": "erin", "HOME": dir}
	declared := func(args ...string) (string, map[string]string) {
		t.Helper()
		out, errOut, code := runCLI(t, env, append([]string{"declare"}, args...)...)
		if code != 0 {
			t.Fatalf("declare %v: %d %s", args, code, errOut)
		}
		id := strings.TrimSpace(out)
		out, errOut, code = runCLI(t, env, "timeline", id, "--json")
		if code != 0 {
			t.Fatalf("timeline: %d %s", code, errOut)
		}
		var evs []struct {
			Data struct {
				Declared struct {
					Root string            `json:"root"`
					Vars map[string]string `json:"vars"`
				} `json:"declared"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &evs); err != nil || len(evs) == 0 {
			t.Fatalf("timeline --json: %v\n%s", err, out)
		}
		d := evs[0].Data.Declared
		return d.Root, d.Vars
	}
	gotRoot, vars := declared("site-failover", "--var", "DNS_TTL=45")
	if gotRoot != root {
		t.Errorf("root %q, want system.root %q", gotRoot, root)
	}
	want := map[string]string{"SECONDARY_ROOT": filepath.Join(dir, "secondary"), "DNS_ZONE": "quantai.example",
		"DNS_RECORD": "trading.quantai.example", "DNS_VALUE": "10.0.2.20", "DNS_TYPE": "CNAME", "DNS_TTL": "45"}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, vars[k], v, vars)
		}
	}
	if _, vars := declared("site-failover", "--drill", "--root", root); len(vars) != 0 {
		t.Errorf("a drill took the real site's values: %v", vars)
	}
	if _, errOut, code := runCLI(t, env, "declare", "site-failover", "--var", "DNS_ZONES=x"); code != 2 || !strings.Contains(errOut, "no such variable") || !strings.Contains(errOut, "DNS_ZONE") {
		t.Errorf("unknown --var: %d %s", code, errOut)
	}
	books := t.TempDir()
	os.WriteFile(filepath.Join(books, "s.md"), []byte("---\nid: s\nvariables:\n  - name: TOKEN\n    secret: true\n---\n# S\n\n## Do (0-5 minutes)\n\n- [ ] a step\n"), 0o644)
	if _, errOut, code := runCLI(t, env, "declare", "s", "--runbooks", books, "--var", "TOKEN=hunter2"); code != 2 || !strings.Contains(errOut, "secret") {
		t.Errorf("secret --var: %d %s", code, errOut)
	}
}
