package reconcile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/sandbox"
)

// BenchmarkReconcile reconciles sandboxes of growing trade counts; the
// ratio of the timings shows how reconciliation scales with the trades it
// sums (one GROUP BY over trades).
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		b.Run(fmt.Sprintf("trades=%d", n), func(b *testing.B) {
			root := filepath.Join(b.TempDir(), "sys")
			if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: n, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			if err := sandbox.Inject(root, "position-drift"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := reconcile.Run(context.Background(), reconcile.Options{Root: root, Tolerance: reconcile.DefaultTolerance})
				if err != nil || len(rep.Breaks) != 1 {
					b.Fatal(err, rep.Breaks)
				}
			}
		})
	}
}
