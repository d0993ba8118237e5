package runbook_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The domain packages know nothing of the terminal (see STYLE.md): they
// never import ui/, bubbletea or lipgloss, directly or through another
// package.
func TestDomainDoesNotImportUI(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}} {{if .DepsErrors}}depserr{{end}}",
		"./runbook/...", "./steps/...", "./checks/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/drbook/drbook/ui",
		"github.com/charmbracelet/bubbletea",
		"github.com/charmbracelet/lipgloss",
		"github.com/charmbracelet/bubbles",
		"github.com/charmbracelet/glamour",
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg := strings.Fields(line)[0]
		n++
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("a domain package depends on %s; find who with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./runbook/... ./steps/... ./checks/...", pkg)
			}
		}
	}
	if n < 10 {
		t.Errorf("go list returned only %d packages: %s", n, out)
	}
}
