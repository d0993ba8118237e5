package killswitch_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps"
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

// TestActionOnDamagedDatabaseIsDoneWithFindings: the kill switch's job is
// the halt. When the flag file holds it and the damaged database was
// deliberately left untouched, the action is done with that finding, not
// failed; when the flag file cannot be written either, the halt did not
// hold and the action fails.
func TestActionOnDamagedDatabaseIsDoneWithFindings(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "sb")
	if err := sandbox.Create(ctx, root, sandbox.Options{Trades: 200, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Inject(root, "corrupt-db"); err != nil {
		t.Fatal(err)
	}
	a, _ := steps.Lookup("kill-switch")
	req := steps.Request{Env: steps.Env{Root: root, Operator: "ops", Drill: true, Now: now},
		Params: map[string]string{"mode": "on", "reason": "drill"}, Confirmed: true}
	res, err := a.Run(ctx, req, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != steps.StatusOK || !res.WithFindings() || len(res.Findings) != 1 {
		t.Fatalf("result %s %q, want ok with one finding", res.Status, res.Findings)
	}
	for _, want := range []string{"looks damaged", "left untouched", "flag file alone halts trading"} {
		if !strings.Contains(res.Findings[0], want) {
			t.Errorf("finding lacks %q: %s", want, res.Findings[0])
		}
	}
	if !strings.Contains(res.Summary, "trading HALTED") || !strings.Contains(res.Summary, "FINDINGS: ") || strings.Contains(res.Summary, "PROBLEMS") {
		t.Errorf("summary: %s", res.Summary)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
		t.Fatalf("flag file: %v", err)
	}

	// The flag file cannot be written (a directory stands in its way) and
	// the database is damaged: nothing halts, and that is an error.
	root2 := filepath.Join(t.TempDir(), "sb")
	if err := sandbox.Create(ctx, root2, sandbox.Options{Trades: 200, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Inject(root2, "corrupt-db"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root2, killswitch.FlagFile, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	req.Env.Root = root2
	res, err = a.Run(ctx, req, nil)
	if !errors.Is(err, killswitch.ErrNotHalted) || res.Status != steps.StatusFailed || len(res.Findings) != 0 {
		t.Fatalf("no halt: %v %s %q, want ErrNotHalted and failed", err, res.Status, res.Findings)
	}
}
