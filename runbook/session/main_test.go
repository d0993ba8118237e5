package session_test

import (
	"os"
	"testing"

	"github.com/drbook/drbook/steps/all"
)

// TestMain registers the actions these tests run, as drbook's composition
// root does.
func TestMain(m *testing.M) {
	all.Install(all.Options{})
	os.Exit(m.Run())
}
