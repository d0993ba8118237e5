package serve_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/steps/all"
)

// TestMain registers every action, as the program's composition root does.
func TestMain(m *testing.M) {
	all.Install(all.Options{})
	os.Exit(m.Run())
}
