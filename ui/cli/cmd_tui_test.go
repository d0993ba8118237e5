package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui/cli"
)

func runTUICmd(t *testing.T, terminal bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, IsTerminal: terminal,
		Getenv: func(string) string { return "" },
	})
	return code, out.String(), errb.String()
}

// TestDrillAuto runs the plan's recovery test unattended: the corrupted
// database is found, restored from the baseline backup and validated.
func TestDrillAuto(t *testing.T) {
	state := t.TempDir()
	code, out, errs := runTUICmd(t, false, "drill", "--auto", "--json", "--state-dir", state, "--trades", "200")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"[run] Restore from the most recent backup", "# Post-incident report", "PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	var res struct {
		ID     string `json:"id"`
		OK     bool   `json:"ok"`
		Report string `json:"report"`
	}
	if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "\n{")+1:]), &res); err != nil || !res.OK {
		t.Fatalf("json result %+v: %v", res, err)
	}
	if b, err := os.ReadFile(res.Report); err != nil || !strings.Contains(string(b), res.ID) {
		t.Fatalf("report %s: %v", res.Report, err)
	}
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st, err := store.Load(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != incident.StatusResolved || st.Declaration.Mode != incident.Drill || st.Declaration.Scenario != "corrupt-db" {
		t.Errorf("drill %s mode %s scenario %q, want a resolved corrupt-db drill", st.Status, st.Declaration.Mode, st.Declaration.Scenario)
	}
	if ck := st.Clocks(st.ClosedAt); ck.RTO.Verdict != incident.Met || ck.RPO.Verdict != incident.Met {
		t.Errorf("RTO %s RPO %s, want both met", ck.RTO.Verdict, ck.RPO.Verdict)
	}
}

// TestDrillAutoRecoveryFails: a recovery step that fails makes the drill
// exit 1 and close as abandoned.
func TestDrillAutoRecoveryFails(t *testing.T) {
	state, books := t.TempDir(), t.TempDir()
	rb := `---
id: broken-recovery
title: Broken Recovery
rto: 1h
rto_phase: recovery
---

# Broken Recovery

## Assessment (0-10 minutes)

- Look around

## Recovery (10-60 minutes)

- Bring the system back

  ` + "```sh {name=bring-back}" + `
  echo "cannot reach the standby"
  exit 3
  ` + "```" + `
`
	if err := os.WriteFile(filepath.Join(books, "broken.md"), []byte(rb), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runTUICmd(t, false, "drill", "broken-recovery", "--auto", "--runbooks", books,
		"--scenario", "none", "--state-dir", state, "--trades", "200")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, "cannot reach the standby") || !strings.Contains(out, "FAILED") || !strings.Contains(out, "abandoned") {
		t.Errorf("output:\n%s", out)
	}
}

// TestDrillAutoFaultRemains: a runbook that never repairs the injected
// damage does not pass: the system checks after the drill still fail.
func TestDrillAutoFaultRemains(t *testing.T) {
	code, out, errs := runTUICmd(t, false, "drill", "configuration-recovery", "--scenario", "corrupt-db", "--auto",
		"--state-dir", t.TempDir(), "--trades", "200")
	if code != cli.ExitFailure || !strings.Contains(out, "FAIL db-integrity") || !strings.Contains(out, "system checks still fail") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

func TestTUIUsage(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		terminal bool
		args     []string
		code     int
		want     string
	}{
		{false, []string{"--state-dir", state}, cli.ExitUsage, "needs a terminal"},
		{false, []string{"drill", "--state-dir", state}, cli.ExitUsage, "drill --auto"},
		{false, []string{"resume", "--state-dir", state}, cli.ExitUsage, "needs a terminal"},
		{true, []string{"--live", "--state-dir", state}, cli.ExitUsage, "--live needs --root"},
		{true, []string{"--root", state, "--state-dir", state}, cli.ExitUsage, "--root without --live"},
		{true, []string{"resume", "NOPE", "--state-dir", state}, cli.ExitUsage, "NOPE"},
		{false, []string{"drill", "--auto", "--live", "--state-dir", state}, cli.ExitUsage, "never touch a live system"},
		{false, []string{"drill", "--auto", "--speed", "0", "--state-dir", state}, cli.ExitUsage, "--speed"},
		{false, []string{"drill", "--auto", "--scenario", "no-such-fault", "--state-dir", state, "--trades", "200"}, cli.ExitUsage, "unknown fault"},
		{false, []string{"drill", "no-such-runbook", "--auto", "--state-dir", state}, cli.ExitUsage, "no-such-runbook"},
		{false, []string{"drill", "", "--auto", "--state-dir", state, "--trades", "200"}, cli.ExitUsage, "RUNBOOK is an empty argument"},
		{false, []string{"drill", "--auto", "--var", "NOEQUALS", "--state-dir", state}, cli.ExitUsage, "NAME=VALUE"},
		{false, []string{"drill", "--help"}, cli.ExitOK, "Exit codes"},
		{false, []string{"resume", "--help"}, cli.ExitOK, "--follow"},
		{false, []string{"--help"}, cli.ExitOK, "open the TUI"},
	} {
		code, out, errs := runTUICmd(t, tc.terminal, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("drbook %v: exit %d (want %d), output %q (want %q)", tc.args, code, tc.code, out+errs, tc.want)
		}
	}
}

// TestDrillTradingPlatformFailoverAuto: the failover runbook resolves its
// own default fault (position drift) by adopting the broker's position,
// which the statement and the filled trades agree on, with an audit row.
func TestDrillTradingPlatformFailoverAuto(t *testing.T) {
	state := t.TempDir()
	code, out, errs := runTUICmd(t, false, "drill", "trading-platform-failover", "--auto", "--state-dir", state, "--trades", "200")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"scenario position-drift", "OK: adopted 1 position(s) from the broker", "PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestDrillSiteFailoverAuto: the primary site is lost (its database
// deleted); the drill fails over to a secondary sandbox and is judged on
// it, the DNS switch simulated without a Route 53 endpoint.
func TestDrillSiteFailoverAuto(t *testing.T) {
	state := t.TempDir()
	code, out, errs := runTUICmd(t, false, "drill", "site-failover", "--auto", "--state-dir", state, "--trades", "200")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"scenario delete-db", "SIMULATED: drill: DNS switch simulated", "promoted", "PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
