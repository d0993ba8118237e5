package runbook_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/steps/all"
)

// TestMain registers every action, as drbook's composition root does, so
// that validation (steps.Catalog) knows the actions drbook can run.
func TestMain(m *testing.M) {
	all.Install(all.Options{})
	os.Exit(m.Run())
}
