package incident_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestRPOFromARealRestore takes a real backup of a sandbox before the
// incident, restores it as a drill step, and checks the RPO achieved the
// restore recorded.
func TestRPOFromARealRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sandbox and a backup")
	}
	tests := []struct {
		name      string
		backupAge time.Duration // before detection
		want      incident.Verdict
	}{
		{"recent backup", 10 * time.Minute, incident.Met},
		{"stale backup", 40 * time.Minute, incident.Missed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "sys")
			must(t, sandbox.Create(ctx, root, sandbox.Options{Trades: 200, Seed: 3}))
			detected := t0.Add(-5 * time.Minute)
			taken := detected.Add(-tt.backupAge)
			backup, _ := steps.Lookup("backup")
			res, err := backup.Run(ctx, steps.Request{Env: steps.Env{Root: root, Drill: true, Now: func() time.Time { return taken }}},
				func(steps.Event) {})
			if err != nil || res.Status != steps.StatusOK {
				t.Fatalf("backup: %+v %v", res, err)
			}

			rb := testRunbook()
			rb.Phases[2].Steps[1] = &runbook.Step{ID: "recovery/restore", Title: "Restore", Kind: runbook.KindAction,
				Block: &runbook.Block{Lang: "drbook", Action: "restore", Params: map[string]string{"from": "latest"},
					Attrs: runbook.Attrs{Confirm: true}}}
			s := MustStore(t)
			clock := incident.NewManualClock(t0)
			in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "DRILL-RPO", Mode: incident.Drill, Root: root,
				DetectedAt: detected}, clock)
			must(t, err)
			clock.Set(t0.Add(40 * time.Minute))
			out, err := in.RunStep(ctx, "recovery/restore", steps.Env{}, true, nil)
			if err != nil || out.Status != steps.StatusOK {
				t.Fatalf("restore: %+v %v", out, err)
			}
			st, err := s.Load(ctx, in.ID())
			must(t, err)
			rpo := st.Clocks(t0.Add(time.Hour)).RPO
			if rpo.Verdict != tt.want || rpo.Achieved != tt.backupAge || !rpo.BackupTime.Equal(taken) {
				t.Errorf("RPO %s achieved %s from backup %v, want %s %s", rpo.Verdict, rpo.Achieved, rpo.BackupTime, tt.want, tt.backupAge)
			}
			r := incident.BuildReport(st, nil, t0.Add(time.Hour))
			if got := r.Objectives[2]; got.Name != "RPO" || got.Verdict != tt.want {
				t.Errorf("report objective: %+v", got)
			}
		})
	}
}
