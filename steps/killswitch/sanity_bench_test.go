package killswitch

import (
	"context"
	"os"
	"testing"
)

// BenchmarkCheckDatabase measures the sanity check before a write on the
// system root named by $DRBOOK_BENCH_ROOT (e.g. a 1 GB sandbox from
// bench/backup.sh); without it the benchmark is skipped.
func BenchmarkCheckDatabase(b *testing.B) {
	root := os.Getenv("DRBOOK_BENCH_ROOT")
	if root == "" {
		b.Skip("set DRBOOK_BENCH_ROOT to a system root")
	}
	for b.Loop() {
		if err := checkDatabase(context.Background(), root); err != nil {
			b.Fatal(err)
		}
	}
}
