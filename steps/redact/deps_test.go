package redact_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf: the redactor is a leaf every other package may import, so it
// imports only the standard library; and the incident engine reads .env
// through it, not through the checks.
func TestLeaf(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "github.com/drbook/drbook/steps/redact" {
		t.Errorf("steps/redact depends on %v; it may import only the standard library", got)
	}
	out, err = exec.Command("go", "list", "-deps", "../../runbook/incident").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if strings.Contains(string(out), "github.com/drbook/drbook/checks\n") {
		t.Error("runbook/incident imports checks")
	}
}
