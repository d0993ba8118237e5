package checks_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/checks/checkaction"
	"github.com/drbook/drbook/steps"
)

// TestMain registers the actions these tests run, as drbook's composition
// root does.
func TestMain(m *testing.M) {
	checkaction.Register(steps.Default)
	os.Exit(m.Run())
}
