package killswitch_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestEngageLeavesDamagedDatabaseUntouched: SQLite accepts a write into a
// damaged file and may spread the damage, so a database that fails the
// sanity check is never written; the flag file alone halts trading and the
// state says why.
func TestEngageLeavesDamagedDatabaseUntouched(t *testing.T) {
	for _, fault := range []string{"corrupt-db", "torn-page", ""} {
		name := fault
		if name == "" {
			name = "healthy"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			root := filepath.Join(t.TempDir(), "sb")
			if err := sandbox.Create(ctx, root, sandbox.Options{Trades: 2000, Seed: 7}); err != nil {
				t.Fatal(err)
			}
			if fault != "" {
				if err := sandbox.Inject(root, fault); err != nil {
					t.Fatal(err)
				}
			}
			dbPath := filepath.Join(root, "data", "quantai.db")
			before, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			st, err := killswitch.Engage(ctx, killswitch.Options{Root: root, Operator: "ops", Reason: "drill", Now: now,
				Log: func(s string) { lines = append(lines, s) }})
			if err != nil {
				t.Fatalf("Engage: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
				t.Fatalf("flag file: %v", err)
			}
			after, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			if fault == "" {
				if bytes.Equal(before, after) || !st.DB.Halted || len(st.Problems) > 0 {
					t.Fatalf("healthy database not halted: halted=%v problems=%q", st.DB.Halted, st.Problems)
				}
				return
			}
			if !bytes.Equal(before, after) {
				t.Fatal("the damaged database was written")
			}
			for _, s := range []string{"-wal", "-journal"} {
				if _, err := os.Stat(dbPath + s); err == nil {
					t.Errorf("%s left next to the damaged database", s)
				}
			}
			if !st.Engaged || st.Flag == nil || !strings.Contains(st.Flag.DBError, "looks damaged") {
				t.Errorf("state: engaged=%v flag=%+v", st.Engaged, st.Flag)
			}
			for _, p := range st.Problems {
				if strings.Contains(p, "\n") || strings.Contains(p, "***") {
					t.Errorf("problem is not one clean line: %q", p)
				}
			}
			text := strings.Join(killswitch.Describe(st), "\n") + "\n" + strings.Join(lines, "\n")
			for _, want := range []string{"database looks damaged", "left untouched", "DAMAGED, not written", "flag file alone halts trading"} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			// Release refuses too: the halt stays and the file is not touched.
			_, err = killswitch.Release(ctx, killswitch.Options{Root: root, Operator: "ops", Reason: "done", Now: now})
			if !errors.Is(err, killswitch.ErrReleaseRefused) {
				t.Errorf("Release: %v, want ErrReleaseRefused", err)
			}
			if again, _ := os.ReadFile(dbPath); !bytes.Equal(before, again) {
				t.Error("Release wrote the damaged database")
			}
			if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
				t.Errorf("flag file after a refused release: %v", err)
			}
		})
	}
}
