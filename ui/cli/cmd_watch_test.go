package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/ui/cli"
)

type failoverRun struct {
	code           int
	stdout, stderr string
}

func failoverCLI(t *testing.T, env map[string]string, args ...string) failoverRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return failoverRun{code, out.String(), errb.String()}
}

// A standby site from the command line: demo makes the primary and the
// secondary, a backup is taken, standby sync warms the secondary, and
// watch declares a drill and fails over when the primary's database dies.
func TestStandbyAndWatchCommands(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", "")
	dir := t.TempDir()
	p, s := filepath.Join(dir, "primary"), filepath.Join(dir, "secondary")
	env := map[string]string{"DRBOOK_STATE_DIR": filepath.Join(dir, "state")}

	if r := failoverCLI(t, env, "demo", "--root", filepath.Join(dir, "x"), "--secondary", filepath.Join(dir, "x", "y")); r.code != 2 {
		t.Fatalf("overlapping secondary: %+v", r)
	}
	if r := failoverCLI(t, env, "demo", "--root", p, "--secondary", s, "--trades", "200"); r.code != 0 || !strings.Contains(r.stdout, "created secondary sandbox") {
		t.Fatalf("demo: %+v", r)
	}
	if !sandbox.IsSandbox(p) || !sandbox.IsSandbox(s) {
		t.Fatal("demo did not make both sandboxes")
	}
	if _, err := os.Stat(filepath.Join(p, "logs", "heartbeat")); err != nil {
		t.Fatalf("no heartbeat: %v", err)
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	if r := failoverCLI(t, env, "backup", "--root", p, "--to", backups, "--passphrase-file", pass); r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}

	sdb := filepath.Join(s, "data", "quantai.db")
	before, _ := os.ReadFile(sdb)
	for _, args := range [][]string{
		{"standby", "sync", "--root", s, "--backup-dir", backups, "--passphrase-file", pass}, // no --yes
		{"standby", "sync", "--root", s, "--backup-dir", filepath.Join(dir, "none"), "--passphrase-file", pass, "--yes"},
		{"standby", "sync", "--root", p, "--primary", p, "--backup-dir", backups, "--passphrase-file", pass, "--yes"},
		{"standby", "sync", "--backup-dir", backups, "--passphrase-file", pass, "--yes"}, // no secondary
		{"standby", "status"},
	} {
		if r := failoverCLI(t, env, args...); r.code != 2 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if after, _ := os.ReadFile(sdb); !bytes.Equal(before, after) {
		t.Fatal("a refused sync changed the secondary")
	}
	r := failoverCLI(t, env, "standby", "sync", "--root", s, "--backup-dir", backups, "--passphrase-file", pass, "--yes", "--json")
	var got struct {
		Secondary     string `json:"secondary"`
		Source        string `json:"source"`
		BehindSeconds int64  `json:"behind_seconds"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got.Secondary != s || !strings.HasSuffix(got.Source, ".tar.gz.gpg") || got.BehindSeconds < 0 {
		t.Fatalf("standby sync: %+v → %+v", r, got)
	}
	aside, _ := filepath.Glob(sdb + ".pre-restore-*")
	if len(aside) != 1 {
		t.Fatalf("the secondary's old database was not kept aside: %v", aside)
	}

	cfg := filepath.Join(dir, "drbook.yaml")
	body := "system: {root: primary}\nbackup: {dirs: [backups], passphrase_file: pass}\nfailover:\n  secondary: secondary\n  automatic: true\n" +
		"  lb_hook: echo load balancer moved\n  dns: {zone: quantai.example, record: trading.quantai.example, secondary: 10.0.2.20}\n" +
		"  health: {heartbeat_max_age: 10m, interval: 1s, failures: 1}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := failoverCLI(t, env, "--config", cfg, "watch", "--once"); r.code != 0 || !strings.Contains(r.stdout, " ok ") {
		t.Fatalf("watch --once on a healthy primary: %+v", r)
	}
	if err := sandbox.Inject(p, "corrupt-db"); err != nil {
		t.Fatal(err)
	}
	if r := failoverCLI(t, env, "--config", cfg, "watch", "--once"); r.code != 1 || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "quick_check=") {
		t.Fatalf("watch --once on a dead primary: %+v", r)
	}
	r = failoverCLI(t, env, "--config", cfg, "watch", "--drill")
	for _, want := range []string{"declared DRILL-", "[ok] Bring the secondary", "[simulated] Switch DNS", "simulated, not run", "[ok] Redirect the load balancer", "[ok] Verify system functionality"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("watch --drill output lacks %q", want)
		}
	}
	if r.code != 1 {
		t.Errorf("watch --drill: exit %d, want 1 (declared)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := failoverCLI(t, env, "--config", cfg, "watch", "--drill"); r.code != 1 || !strings.Contains(r.stderr, "already failing over") {
		t.Errorf("second watch: %+v", r)
	}
	if r := failoverCLI(t, env, "--config", cfg, "watch", "--root", filepath.Join(dir, "nowhere")); r.code != 2 {
		t.Errorf("watch a missing root: %+v", r)
	}
}
