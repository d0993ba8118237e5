package reconcile_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/reconcile"
)

// TestMain registers the actions these tests run, as drbook's composition
// root does.
func TestMain(m *testing.M) {
	reconcile.Register(steps.Default)
	os.Exit(m.Run())
}
