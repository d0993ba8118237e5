package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/reconcile"
)

// TestReconcileBrokerPathAsGiven: a relative --broker path is read from
// the working directory and printed as typed, although the registered
// action reads a runbook's relative paths under the root.
func TestReconcileBrokerPathAsGiven(t *testing.T) {
	root := actionSandbox(t)
	stmt, err := os.ReadFile(filepath.Join(root, reconcile.AlpacaStatement))
	if err != nil {
		t.Fatal(err)
	}
	wd := t.TempDir()
	t.Chdir(wd)
	if err := os.MkdirAll("in", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("in", "alpaca.json"), stmt, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runActionCmd(t, "", false, nil, "reconcile", "--root", root, "--broker", "./in/alpaca.json")
	if r.code != 0 || !strings.Contains(r.stdout, "Statement: alpaca ./in/alpaca.json (") {
		t.Errorf("%+v", r)
	}
}
