package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui/cli"
)

// incCmd runs drbook with the state directory set to dir.
func incCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"USER": "tester", "SSH_CONNECTION": "192.0.2.7 51000 10.0.0.1 22", "DRBOOK_STATE_DIR": dir}
	code := cli.Main(context.Background(), args, &cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

func TestIncidentCommands(t *testing.T) {
	dir := t.TempDir()
	root := t.TempDir()
	code, out, errs := incCmd(t, dir, "declare", "complete-system-recovery", "--severity", "1", "--title", "DB corrupt",
		"--detected-at", "10m", "--root", root)
	if code != 0 {
		t.Fatalf("declare: %d %s", code, errs)
	}
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "INC-") {
		t.Fatalf("declare printed %q", out)
	}

	steps := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"step", id, "kill-switch", "done", "--reason", "engaged from the gateway"}, 0, "immediate-actions/kill-switch done"},
		{[]string{"step", id, "confirm-halt", "skip"}, 2, ""},
		{[]string{"step", id, "confirm-halt", "skip", "--reason", "no automated trading running"}, 0, "skipped"},
		{[]string{"step", id, "assess-scope", "fail", "--reason", "no log access"}, 0, "failed"},
		{[]string{"step", id, "no-such-step", "done"}, 2, ""},
		{[]string{"step", id, "activate-backup", "done"}, 0, "immediate-actions/activate-backup-systems-if-available done"},
		{[]string{"step", id, "immediate-actions/activate", "done"}, 1, ""}, // the same step: already done
		{[]string{"step", id, "validat", "done"}, 2, ""},                    // ambiguous
		{[]string{"step", id, "kill-switch", "start"}, 1, ""},
		{[]string{"step", "INC-NOPE", "kill-switch", "done"}, 2, ""},
		{[]string{"step", id, "kill-switch", "finish"}, 2, ""},
		{[]string{"note", id, "bridge", "call", "open"}, 0, ""},
		{[]string{"note", id, "no", "client", "orders", "affected", "--severity", "2"}, 0, ""},
		{[]string{"note", id, "x", "--severity", "4"}, 2, ""},
		{[]string{"timeline", id}, 0, "severity changed to 2: no client orders affected"},
		{[]string{"comms", id, "--template", "notification"}, 0, "Status: INVESTIGATING"},
		{[]string{"comms", id, "--template", "update", "--record", "--to", "CTO"}, 0, "Recovery Progress: 11%"},
		{[]string{"comms", id, "--template", "tweet"}, 2, ""},
		{[]string{"incidents"}, 0, "DB corrupt"},
		{[]string{"timeline", id}, 0, "note: bridge call open"},
		{[]string{"timeline", "verify", id}, 0, "hash chain intact"},
		{[]string{"report", id}, 0, "## Skipped steps"},
		{[]string{"close", id}, 2, ""},
		{[]string{"close", id, "--resolved", "--summary", "restored"}, 0, "resolved"},
		{[]string{"close", id, "--resolved"}, 1, ""},
		{[]string{"note", id, "too", "late"}, 1, ""},
		{[]string{"report", "INC-NOPE"}, 2, ""},
	}
	for _, st := range steps {
		code, out, errs := incCmd(t, dir, st.args...)
		if code != st.wantCode || !strings.Contains(out, st.wantOut) {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", st.args, code, st.wantCode, out, errs)
		}
		if code != 0 && errs == "" {
			t.Errorf("%v: failed without saying why", st.args)
		}
	}

	code, out, _ = incCmd(t, dir, "incidents", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["status"] != "resolved" ||
		list[0]["operator"] != "tester (192.0.2.7)" || list[0]["elapsed_seconds"].(float64) < 600 {
		t.Errorf("incidents --json: %d %s", code, out)
	}
	code, out, _ = incCmd(t, dir, "timeline", id, "--json")
	var evs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &evs) != nil || len(evs) < 9 {
		t.Errorf("timeline --json: %d %.300s", code, out)
	}
	code, out, _ = incCmd(t, dir, "timeline", id, "--csv")
	if code != 0 || !strings.HasPrefix(out, "seq,at,kind,phase,step,actor,text,data,hash\n") {
		t.Errorf("timeline --csv: %d %.200s", code, out)
	}
	file := filepath.Join(t.TempDir(), "report.json")
	if code, _, errs := incCmd(t, dir, "report", id, "--format", "json", "-o", file); code != 0 {
		t.Fatalf("report -o: %d %s", code, errs)
	}
	var rep map[string]any
	data, _ := os.ReadFile(file)
	if json.Unmarshal(data, &rep) != nil || rep["status"] != "resolved" || rep["summary"] != "restored" {
		t.Errorf("report json: %.300s", data)
	}
	if code, _, _ := incCmd(t, dir, "report", id, "-o", file); code != 2 {
		t.Errorf("report over an existing file: exit %d", code)
	}
	code, out, _ = incCmd(t, dir, "report", id)
	for _, want := range []string{"## Skipped steps", "no automated trading running", "## Failed steps", "no log access",
		"## Root cause analysis", "| RTO | 4h00m |", "hash chain of all"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	// Once the incident is closed, the commands that only read default to
	// it (the most recent one) and say so; those that write still need an
	// open incident.
	for _, args := range [][]string{{"report"}, {"timeline"}, {"timeline", "verify"}, {"comms", "--template", "update"}} {
		code, out, errs := incCmd(t, dir, args...)
		if code != 0 || out == "" || !strings.Contains(errs, "no open incident; showing the most recent, "+id+" (resolved)") {
			t.Errorf("%v after close: %d\nstdout: %.200s\nstderr: %s", args, code, out, errs)
		}
	}
	if code, _, errs := incCmd(t, dir, "note", "", "late"); code == 0 || strings.Contains(errs, "showing the most recent") {
		t.Errorf("note without an open incident: %d %s", code, errs)
	}
}

// TestListsFit80Columns: incidents and drills are read over SSH at 80x24;
// no line may be wider, and a long title is cut, never an id.
func TestListsFit80Columns(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("database corrupted after a failed storage migration ", 3)
	for _, args := range [][]string{
		{"declare", "monthly-database-recovery-test", "--drill", "--title", long},
		{"declare", "complete-system-recovery", "--severity", "1"},
	} {
		if code, _, errs := incCmd(t, dir, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	for _, cmd := range []string{"incidents", "drills"} {
		code, out, errs := incCmd(t, dir, cmd)
		if code != 0 {
			t.Fatalf("%s: %d %s", cmd, code, errs)
		}
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if n := utf8.RuneCountInString(line); n > 80 {
				t.Errorf("%s: %d columns: %q", cmd, n, line)
			}
		}
		if cmd == "incidents" && (!strings.Contains(out, "monthly-database-recovery-test\n") || !strings.Contains(out, `"database corrupted after`) ||
			!strings.Contains(out, "…") || !strings.Contains(out, "complete-system-recovery\n")) {
			t.Errorf("incidents: titles not shown or not cut:\n%s", out)
		}
	}
}

func TestTimelineVerifyTampered(t *testing.T) {
	dir := t.TempDir()
	_, out, _ := incCmd(t, dir, "declare", "database-recovery", "--root", t.TempDir())
	id := strings.TrimSpace(out)
	for _, n := range []string{"one", "two", "three"} {
		if code, _, errs := incCmd(t, dir, "note", id, n); code != 0 {
			t.Fatal(errs)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, incident.DBName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET data = replace(data, 'two', 'TWO') WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errs := incCmd(t, dir, "timeline", "verify", id)
	if code != 1 || !strings.Contains(out, "BROKEN at event 3") {
		t.Errorf("verify tampered: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = incCmd(t, dir, "timeline", "verify", id, "--json")
	var res incident.VerifyResult
	if code != 1 || json.Unmarshal([]byte(out), &res) != nil || res.OK || res.BadSeq != 3 {
		t.Errorf("verify --json: %d %s", code, out)
	}
	code, out, errs = incCmd(t, dir, "report", id)
	if code != 1 || !strings.Contains(out, "does not verify**: event 3 (note) was edited") ||
		!strings.Contains(errs, "does not verify: event 3 (note) was edited") {
		t.Errorf("report of a tampered timeline: exit %d\n%s\n%s", code, errs, out)
	}
}

func TestDeclareJSONAndDrills(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := incCmd(t, dir, "declare", "monthly-database-recovery-test", "--drill", "--json", "--scenario", "corrupt-db", "--speed", "60")
	var rec map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec["mode"] != "drill" || rec["drill_test"] != "database-backup-restore" || rec["speed"] != 60.0 {
		t.Fatalf("declare --json: %d %s %s", code, out, errs)
	}
	if code, _, _ := incCmd(t, dir, "close", rec["id"].(string), "--resolved"); code != 0 {
		t.Fatal("close")
	}
	code, out, _ = incCmd(t, dir, "drills", "--json")
	var ds []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &ds) != nil || len(ds) != len(incident.Tests) {
		t.Fatalf("drills --json: %d %s", code, out)
	}
	for _, d := range ds {
		ran := d["id"] == "database-backup-restore"
		if (d["last_incident"] == rec["id"]) != ran || d["overdue"] == ran {
			t.Errorf("drill %v: %v", d["id"], d)
		}
	}
	if code, out, _ := incCmd(t, dir, "drills"); code != 0 || !strings.Contains(out, "OVERDUE") ||
		!regexp.MustCompile(`(?m)^database-backup-restore +monthly +\d{4}-\d\d-\d\d +\S+ +\S+ +\d{4}-\d\d-\d\d$`).MatchString(out) {
		t.Errorf("drills: %d\n%s", code, out)
	}
	if code, _, _ := incCmd(t, dir, "drills", "--fail-overdue"); code != 1 {
		t.Errorf("drills --fail-overdue: exit %d", code)
	}
	for _, bad := range [][]string{
		{"declare", "complete-system-recovery", "--severity", "5"},
		{"declare", "no-such-runbook"},
		{"declare", ""}, // "$RUNBOOK" unset: not the default runbook
		{"declare", "complete-system-recovery", "--detected-at", "yesterday-ish"},
		{"declare", "complete-system-recovery", "--drill", "--test", "no-such-test"},
		{"declare", "complete-system-recovery", "--test", "full-dr-simulation"},
		{"declare", "complete-system-recovery", "--speed", "60"},
		{"declare", "complete-system-recovery", "--drill", "--speed", "-2"},
		{"declare", "complete-system-recovery", "--drill", "--root", t.TempDir()}, // not a sandbox
	} {
		if code, _, _ := incCmd(t, dir, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	sb := t.TempDir()
	if err := os.WriteFile(filepath.Join(sb, ".drbook-sandbox"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := incCmd(t, dir, "declare", "complete-system-recovery", "--drill", "--root", sb); code != 0 {
		t.Errorf("drill in a sandbox: %d %s", code, errs)
	}
}

func TestIncidentCommandsHelpAndEmptyState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-created")
	for _, c := range []string{"declare", "step", "note", "close", "incidents", "timeline", "report", "comms", "drills"} {
		code, out, _ := incCmd(t, dir, c, "--help")
		if code != 0 || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "--state-dir") {
			t.Errorf("%s --help: %d\n%s", c, code, out)
		}
	}
	if code, out, _ := incCmd(t, dir, "incidents"); code != 0 || !strings.Contains(out, "No incidents") {
		t.Errorf("incidents with no state: %d %s", code, out)
	}
	if code, _, errs := incCmd(t, dir, "timeline", "verify", "X"); code != 2 || !strings.Contains(errs, "no state database") {
		t.Errorf("verify with no state: %d %s", code, errs)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a read-only command created the state directory")
	}
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, incident.DBName), []byte("not sqlite at all, but long enough"), 0o600)
	if code, _, errs := incCmd(t, junk, "incidents"); code != 2 || !strings.Contains(errs, "not a drbook state database") {
		t.Errorf("junk state file: %d %s", code, errs)
	}
}
