package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/ui/cli"
)

func drbook(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" },
	})
	return code, out.String(), errb.String()
}

func hashTree(t *testing.T, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = [32]byte{}
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	return out
}

// assertSameTree fails the test for every file or folder that changed,
// disappeared or appeared between two hashTree snapshots.
func assertSameTree(t *testing.T, before, after map[string][32]byte) {
	t.Helper()
	for p, h := range before {
		if g, ok := after[p]; !ok {
			t.Errorf("%s disappeared", p)
		} else if g != h {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

func TestDemoHelpListsEveryFault(t *testing.T) {
	code, out, _ := drbook(t, "demo", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range sandbox.Faults() {
		if !strings.Contains(out, "  "+f.Name+" ") {
			t.Errorf("demo --help does not describe %s", f.Name)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 80 {
			t.Errorf("help line wider than 80 columns: %q", l)
		}
	}
	code, out, _ = drbook(t, "check", "--help")
	if code != 0 || !strings.Contains(out, "Exit codes") {
		t.Errorf("check --help: exit %d\n%s", code, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 80 {
			t.Errorf("check help line wider than 80 columns: %q", l)
		}
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "sb")
	tests := []struct {
		name      string
		args      []string
		code      int
		out, errs string
	}{
		{"no root", []string{"demo"}, 2, "", "--root DIR is required"},
		{"unknown fault", []string{"demo", "--root", root, "--fault", "meteor"}, 2, "", `unknown fault "meteor" (known: corrupt-db,`},
		{"too few trades", []string{"demo", "--root", root, "--trades", "3"}, 2, "", "--trades 3: at least 200"},
		{"fault after delete-db", []string{"demo", "--root", root, "--fault", "delete-db,corrupt-db"}, 2, "", "inject delete-db last"},
		{"create", []string{"demo", "--root", root, "--seed", "9"}, 0, "created sandbox", ""},
		{"exists", []string{"demo", "--root", root}, 1, "", "is already a sandbox; use --force"},
		{"inject into existing", []string{"demo", "--root", root, "--fault", "audit-gap"}, 0, "injected audit-gap", ""},
		{"recreate with a fault", []string{"demo", "--root", root, "--force", "--fault", "missing-env,bad-config"}, 0, "injected bad-config", ""},
		{"one-shot fault twice", []string{"demo", "--root", root, "--fault", "audit-gap,missing-env"}, 2, "", "missing-env is already injected"},
	}
	for i, tt := range tests {
		code, out, errs := drbook(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errs) || tt.errs == "" && errs != "" {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.name, code, tt.code, out, errs)
		}
		if i < 4 {
			if _, err := os.Stat(root); err == nil {
				t.Errorf("%s: a refused demo created %s", tt.name, root)
			}
		}
	}
	m, err := sandbox.ReadMarker(root)
	if err != nil || strings.Join(m.Faults, ",") != "missing-env,bad-config" {
		t.Errorf("marker after --force --fault: %+v %v", m, err)
	}
}

// TestDemoNeverClobbers: a directory that is not a sandbox is refused, even
// with --force, and stays as it was.
func TestDemoNeverClobbers(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "data"), 0o755)
	os.WriteFile(filepath.Join(root, "data", "quantai.db"), []byte("production data"), 0o644)
	before := hashTree(t, root)
	for _, args := range [][]string{
		{"demo", "--root", root},
		{"demo", "--root", root, "--force"},
		{"demo", "--root", root, "--fault", "delete-db"},
	} {
		if code, _, errs := drbook(t, args...); code != 1 || !strings.Contains(errs, "not a drbook sandbox") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
	assertSameTree(t, before, hashTree(t, root))
}

// TestCheckLeavesEveryScenarioUntouched runs drbook check on a sandbox with
// each fault and compares every byte and the set of files before and after.
func TestCheckLeavesEveryScenarioUntouched(t *testing.T) {
	scenarios := []string{""}
	for _, f := range sandbox.Faults() {
		scenarios = append(scenarios, f.Name)
	}
	for _, fault := range scenarios {
		name := fault
		if name == "" {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "sb")
			args := []string{"demo", "--root", root, "--trades", "1000"}
			if fault != "" {
				args = append(args, "--fault", fault)
			}
			if code, _, errs := drbook(t, args...); code != 0 {
				t.Fatalf("demo: %s", errs)
			}
			before := hashTree(t, root)
			// backup-freshness depends on the machine's backups; the checks
			// package tests it with its own catalogues.
			code, out, errs := drbook(t, "check", "--root", root, "--full", "--only", "db-integrity,critical-tables,data-validation,config")
			assertSameTree(t, before, hashTree(t, root))
			wantCode := 0
			if f, ok := sandbox.LookupFault(fault); ok && fault != "pending-orders" && len(f.Checks) > 0 {
				wantCode = 1
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d\n%s%s", code, wantCode, out, errs)
			}
			for _, l := range strings.Split(out, "\n") {
				if len(l) > 80 {
					t.Errorf("line wider than 80 columns: %q", l)
				}
			}
		})
	}
}

func TestCheckJSONAndExitCodes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sb")
	if code, _, errs := drbook(t, "demo", "--root", root, "--fault", "negative-balance"); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ := drbook(t, "check", "--root", root, "--json")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var rep struct {
		Root     string `json:"root"`
		Status   string `json:"status"`
		Checks   []struct{ Name, Status string }
		Findings []checks.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Check == "data-validation" && f.Item == "negative-balances" && f.Status == checks.Fail && f.Evidence != nil && len(f.Evidence.Rows) == 1 {
			found = true
		}
	}
	if rep.Status != "fail" || !found {
		t.Errorf("JSON report lacks the negative balance: %s", out)
	}

	if code, out, _ := drbook(t, "check", "--root", root, "--only", "config,critical-tables"); code != 0 || strings.Contains(out, "data-validation") {
		t.Errorf("--only config,critical-tables: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"check", "--root", root, "--only", "nonsense"},
		{"check", "--root", filepath.Join(root, "missing")},
		{"check", "--bogus"},
	} {
		if code, _, _ := drbook(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestCheckBackupFreshnessWithARealBackup takes a real backup with drbook
// backup and lets drbook check find it through --backup-dir.
func TestCheckBackupFreshnessWithARealBackup(t *testing.T) {
	dir := t.TempDir()
	root, backups := filepath.Join(dir, "sb"), filepath.Join(dir, "bk")
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600)
	if code, _, errs := drbook(t, "demo", "--root", root); code != 0 {
		t.Fatal(errs)
	}
	args := []string{"check", "--root", root, "--only", "backup-freshness", "--backup-dir", backups}
	if code, out, _ := drbook(t, args...); code != 1 || !strings.Contains(out, "no backups exist") {
		t.Errorf("before any backup: exit %d\n%s", code, out)
	}
	if code, out, errs := drbook(t, "backup", "--root", root, "--to", backups, "--passphrase-file", pass, "--no-progress"); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := drbook(t, args...); code != 0 || !strings.Contains(out, "within the RPO") {
		t.Errorf("after a backup: exit %d\n%s", code, out)
	}
}

// TestCheckTableOrder: the human table lists checks in checks.Names()
// order and items in a fixed order, whatever order the concurrent checks
// finish in, so two runs print the same table; the summary counts items
// too, and a file's parse error is printed whole as "file: error".
func TestCheckTableOrder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sb")
	if code, _, errs := drbook(t, "demo", "--root", root, "--trades", "300", "--fault", "stale-wal,bad-config,missing-env"); code != 0 {
		t.Fatal(errs)
	}
	args := []string{"check", "--root", root, "--only", "db-integrity,critical-tables,data-validation,config"}
	table := func() string {
		code, out, errs := drbook(t, args...)
		if code != 1 {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return strings.Join(lines[:len(lines)-1], "\n") // the summary holds the run's duration
	}
	first := table()
	for range 3 {
		if again := table(); again != first {
			t.Fatalf("two runs print different tables:\n%s\n---\n%s", first, again)
		}
	}
	var order []string
	for _, l := range strings.Split(first, "\n")[1:] {
		if f := strings.Fields(l); len(f) > 2 && (f[0] == "PASS" || f[0] == "WARN" || f[0] == "FAIL") {
			if len(order) == 0 || order[len(order)-1] != f[1] {
				order = append(order, f[1])
			}
		}
	}
	if want := []string{"db-integrity", "critical-tables", "data-validation", "config"}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("checks printed in order %v, want %v", order, want)
	}
	if !strings.Contains(first, "config/agents/risk_manager.json: line ") || strings.Contains(first, "~") {
		t.Errorf("the agent's parse error is not printed whole:\n%s", first)
	}
	_, out, _ := drbook(t, args...)
	if !strings.Contains(out, "checks: 0 pass, 0 warn, 4 fail; items: ") {
		t.Errorf("summary: %s", out)
	}
}

// TestBadRoots: a --root that is missing or a file is a usage error that
// names the problem and changes nothing.
func TestBadRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "quantai.db")
	if err := os.WriteFile(file, []byte("production data"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, dir)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"check", "--root", filepath.Join(dir, "missing")}, 2, "does not exist"},
		{[]string{"check", "--root", file}, 2, "is a file, not a directory"},
		{[]string{"demo", "--root", file}, 2, "is a file, not a directory"},
		{[]string{"demo", "--root", file, "--fault", "delete-db"}, 2, "is a file, not a directory"},
		{[]string{"demo", "--root", file, "--force"}, 2, "is a file, not a directory"},
		{[]string{"check", "--root", dir, "--only", "nonsense"}, 2, `check "nonsense"`},
		{[]string{"check", "--root", dir, "--rpo", "-5m"}, 2, "--rpo -5m0s: want a positive duration"},
		{[]string{"check", "--root", dir, "--rpo", "0"}, 2, "want a positive duration"},
		{[]string{"check", "--root", dir, "--only", "backup-freshness", "--backup-dir", filepath.Join(dir, "bakups")}, 1, "--backup-dir " + filepath.Join(dir, "bakups") + " does not exist"},
		{[]string{"check", "--root", dir, "--backup-dir", file}, 2, "is a file, not a directory"},
		{[]string{"check", "--root", dir, "--only", "config"}, 1, "is it the QuantAI root?"},
	} {
		code, out, errs := drbook(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)\n%s", tc.args, code, tc.code, errs, tc.msg, out)
		}
	}
	assertSameTree(t, before, hashTree(t, dir))
}
