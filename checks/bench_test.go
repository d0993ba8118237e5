package checks_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/sandbox"
)

// BenchmarkRun times the database checks on a 200,000-trade sandbox
// (about 50 MB). bench/check.sh compares a 1 GB run with the sqlite3 CLI.
func BenchmarkRun(b *testing.B) {
	root := filepath.Join(b.TempDir(), "sb")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: 200000}); err != nil {
		b.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		name := "quick"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			opts := checks.Options{Root: root, Full: full, Only: []string{checks.DBIntegrity, checks.CriticalTables, checks.DataValidation}}
			for b.Loop() {
				rep, err := checks.Run(context.Background(), opts, nil)
				if err != nil || rep.Failed() {
					b.Fatalf("%v %+v", err, rep.Checks)
				}
			}
		})
	}
}
