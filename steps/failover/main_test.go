package failover_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/failover"
)

// TestMain registers the actions these tests run, as drbook's composition
// root does.
func TestMain(m *testing.M) {
	failover.Register(steps.Default)
	os.Exit(m.Run())
}
