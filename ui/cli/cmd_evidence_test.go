package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEvidenceOfADrill takes a drill declared from the command line to a
// signed evidence file: findings and a sign-off after the close, the file
// verifies against the trusted key, one changed byte does not, and
// 'drills --year' lists the drill with its evidence.
func TestEvidenceOfADrill(t *testing.T) {
	state := t.TempDir()
	keys := t.TempDir()
	env := map[string]string{"DRBOOK_STATE_DIR": state, "USER": "erin", "HOME": t.TempDir()}

	out, errOut, code := runCLI(t, env, "declare", "monthly-database-recovery-test", "--drill", "--json")
	if code != 0 {
		t.Fatalf("declare: %d %s", code, errOut)
	}
	var decl struct{ ID string }
	if err := json.Unmarshal([]byte(out), &decl); err != nil || decl.ID == "" {
		t.Fatalf("declare --json: %v %q", err, out)
	}
	id := decl.ID
	if _, errOut, code := runCLI(t, env, "signoff", id, "--by", "Dana Holt"); code != 1 || !strings.Contains(errOut, "still open") {
		t.Errorf("signoff of an open drill: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, env, "close", id, "--abandoned", "--summary", "tabletop only"); code != 0 {
		t.Fatalf("close: %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, env, "finding", "add", id, "restore", "runbook", "lacks", "a", "space", "check", "--owner", "Chen Li"); code != 2 || !strings.Contains(errOut, "--due") {
		t.Errorf("finding without --due: %d %q", code, errOut)
	}
	if out, errOut, code := runCLI(t, env, "finding", "add", id, "restore runbook lacks a space check", "--owner", "Chen Li", "--due", "2027-01-15"); code != 0 || !strings.Contains(out, "finding 1") {
		t.Fatalf("finding add: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, env, "signoff", id, "--by", "Dana Holt", "--role", "Operations Manager"); code != 0 {
		t.Fatalf("signoff: %d %s", code, errOut)
	}

	// No key: a usage error, nothing written.
	if _, errOut, code := runCLI(t, env, "evidence", id); code != 2 || !strings.Contains(errOut, "no signing key") {
		t.Errorf("evidence without a key: %d %q", code, errOut)
	}
	key := filepath.Join(keys, "evidence.key")
	if out, errOut, code := runCLI(t, env, "evidence", "keygen", "-o", key); code != 0 || !strings.Contains(out, "SHA256:") {
		t.Fatalf("keygen: %d %q %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "evidence.md")
	out, errOut, code = runCLI(t, env, "evidence", id, "-o", file, "--key", key, "--participant", "Eve Auditor:observer")
	if code != 0 || !strings.Contains(out, "written to "+file) {
		t.Fatalf("evidence: %d %q %q", code, out, errOut)
	}
	doc, _ := os.ReadFile(file)
	for _, want := range []string{"# Continuity test evidence", "Database backup/restore test", "Runbook SHA-256 | `", "Eve Auditor — observer",
		"| 1 | restore runbook lacks a space check | Chen Li | 2027-01-15 |", "Dana Holt, Operations Manager", "chain verified", "```json"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("evidence lacks %q", want)
		}
	}
	if out, errOut, code := runCLI(t, env, "evidence", "verify", file, "--key", key+".pub"); code != 0 || !strings.Contains(out, "verified: "+id) || !strings.Contains(out, "(trusted key)") {
		t.Errorf("verify: %d %q %q", code, out, errOut)
	}
	edited := []byte(strings.Replace(string(doc), "2027-01-15", "2027-01-16", 1))
	bad := filepath.Join(t.TempDir(), "edited.md")
	os.WriteFile(bad, edited, 0o644)
	if _, errOut, code := runCLI(t, env, "evidence", "verify", bad, "--key", key+".pub"); code != 1 || !strings.Contains(errOut, "changed after it was signed") {
		t.Errorf("verify an edited file: %d %q", code, errOut)
	}

	year := time.Now().UTC().Year()
	out, _, code = runCLI(t, env, "drills", "--year", itoa(year))
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "verified") || !strings.Contains(out, "0 without verified evidence") {
		t.Errorf("drills --year: %d\n%s", code, out)
	}
	// The kept copy edited: drills --year says so and exits 1.
	kept := filepath.Join(state, "evidence", id+".md")
	os.WriteFile(kept, edited, 0o600)
	if out, _, code := runCLI(t, env, "drills", "--year", itoa(year)); code != 1 || !strings.Contains(out, "CHANGED") {
		t.Errorf("drills --year with edited evidence: %d\n%s", code, out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
