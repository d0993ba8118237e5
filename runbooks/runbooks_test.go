package runbooks_test

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbooks"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/s3fake"
)

// Each embedded runbook is played unattended as a drill against a real
// generated sandbox, with the real actions, under a fault it is meant to
// recover from. Every action it binds must be implemented in this build,
// every step must succeed (a failing check before the RTO phase is a
// finding, as in any drill), the system checks must pass afterwards, and
// real actions must have run (not only simulated or acknowledged).
func orClean(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func TestEmbeddedRunbooksRecoverInADrill(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a drill of every embedded runbook against generated sandboxes")
	}
	scenarios := map[string]string{
		"complete-system-recovery":       "corrupt-db",
		"database-recovery":              "torn-page",
		"configuration-recovery":         "bad-config",
		"trading-platform-failover":      "",
		"manual-backup":                  "",
		"monthly-database-recovery-test": "",
		"quarterly-system-recovery-test": "",
		"site-failover":                  "",
		"site-failover-manual":           "",
		"single-agent-failure":           "agent-down",
		"full-dr-simulation":             "corrupt-db,bad-config,missing-env",
		"compliance-validation":          "",
		"cross-platform-recovery":        "host-lost", // from the in-process S3 server below
	}
	names, err := fs.Glob(runbooks.FS, "*.md")
	if err != nil || len(names) < len(scenarios) {
		t.Fatalf("embedded runbooks %v (%v); the test knows %d", names, err, len(scenarios))
	}
	s3 := fakeS3(t)
	for _, name := range names {
		id := strings.TrimSuffix(name, ".md")
		t.Run(id, func(t *testing.T) {
			scenario, ok := scenarios[id]
			if !ok {
				t.Fatalf("no drill scenario for %s", id)
			}
			rb, err := runbook.Load(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			stateDir := t.TempDir()
			store, err := incident.OpenStore(stateDir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			ctx := context.Background()
			d, err := drill.Start(ctx, drill.Options{
				Runbook: rb, Scenario: scenario, Dir: t.TempDir(), StateDir: stateDir, Store: store,
				Operator: incident.Operator{Name: "runbook-test"}, Trades: 200, S3: s3,
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := drill.Auto(ctx, d, store, t.TempDir(), io.Discard)
			if err != nil {
				t.Fatal(err)
			}

			for _, ph := range rb.Phases {
				for _, st := range ph.Steps {
					if st.Kind == runbook.KindAction && !steps.Implemented(st.Block.Action) {
						t.Errorf("step %s binds action %q, which this build does not implement", st.ID, st.Block.Action)
					}
				}
			}
			for _, title := range res.Failed {
				t.Errorf("step %q failed in a drill with fault %q", title, orClean(scenario))
			}
			for _, f := range res.CheckFailures {
				t.Errorf("system check still fails after the drill: %s", f)
			}
			if !res.OK() {
				t.Errorf("drill did not pass: recovered=%v, RTO %s", res.Recovered, res.RTOVerdict)
			}
			// Count the action runs the drill recorded: a run that was only
			// simulated or skipped does not count.
			ran := 0
			for _, r := range d.Incident.State().Runs {
				if r.Mode == "run" && r.Status == "ok" {
					ran++
				}
			}
			if ran < 3 {
				t.Errorf("only %d actions really ran", ran)
			}
			// A rebuild from S3 alone: the drill's local backups are gone
			// and the backup restored is the one in S3.
			if strings.Contains(scenario, drill.HostLost) {
				restored := false
				for _, r := range d.Incident.State().Runs {
					if r.Action == "restore" && r.Status == "ok" && strings.Contains(r.Output, "latest verified backup: s3://bk/quantai/drills/") {
						restored = true
					}
				}
				if !restored {
					t.Error("no restore from the S3 copy recorded")
				}
			}
		})
	}
}

// fakeS3 starts an in-process S3 server with bucket "bk" and returns the
// drill S3 location in it.
func fakeS3(tb testing.TB) drill.S3 {
	tb.Helper()
	return drill.S3{URL: "s3://bk/quantai", Endpoint: s3fake.Start(tb, "bk").Endpoint}
}
