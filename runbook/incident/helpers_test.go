package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
)

// t0 is when test incidents are declared.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var ctx = context.Background()

// MustStore opens a state database in a fresh temporary directory.
func MustStore(tb testing.TB) *incident.Store {
	tb.Helper()
	s, err := incident.OpenStore(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func block(lang, code string, attrs runbook.Attrs) *runbook.Block {
	return &runbook.Block{Lang: lang, Code: code, Attrs: attrs}
}

// testRunbook is a small runbook shaped like the plan: RTO 1h with phases
// immediate 0-15m, assessment 15-30m, recovery 30m-1h, validation 1h-2h;
// RPO 15m, MTD 2h.
func testRunbook() *runbook.Runbook {
	win := func(a, b time.Duration) runbook.Window { return runbook.Window{Start: a, End: b, Set: true} }
	return &runbook.Runbook{
		ID: "test-recovery", Title: "Test Recovery", Source: "test", Severity: 1,
		Objectives: runbook.Objectives{RTO: time.Hour, RPO: 15 * time.Minute, MTD: 2 * time.Hour},
		RTOPhase:   "recovery",
		Response:   map[int]time.Duration{1: 15 * time.Minute, 2: time.Hour, 3: 4 * time.Hour},
		Vars:       []runbook.Var{{Name: "DB_PASSWORD", Secret: true}, {Name: "TARGET", Default: "primary"}},
		Phases: []*runbook.Phase{
			{ID: "immediate", Title: "Immediate Actions (0-15 minutes)", Window: win(0, 15*time.Minute), Steps: []*runbook.Step{
				{ID: "immediate/halt", Title: "Halt trading", Kind: runbook.KindManual},
				{ID: "immediate/notify", Title: "Notify stakeholders", Kind: runbook.KindAction,
					Block: &runbook.Block{Lang: "drbook", Action: "notify", Params: map[string]string{"template": "notification", "to": "CEO, CTO"}}},
			}},
			{ID: "assessment", Title: "Assessment (15-30 minutes)", Window: win(15*time.Minute, 30*time.Minute), Steps: []*runbook.Step{
				{ID: "assessment/scope", Title: "Assess the scope", Kind: runbook.KindShell,
					Block: block("sh", "echo scope of $TARGET ok", runbook.Attrs{})},
				{ID: "assessment/estimate", Title: "Estimate recovery time", Kind: runbook.KindManual},
			}},
			{ID: "recovery", Title: "Recovery (30-60 minutes)", Window: win(30*time.Minute, time.Hour), Steps: []*runbook.Step{
				{ID: "recovery/wipe", Title: "Wipe the scratch area", Kind: runbook.KindShell,
					Block: block("sh", "echo wiped", runbook.Attrs{Confirm: true})},
				{ID: "recovery/restore", Title: "Restore", Kind: runbook.KindManual},
			}},
			{ID: "validation", Title: "Validation (1-2 hours)", Window: win(time.Hour, 2*time.Hour), Steps: []*runbook.Step{
				{ID: "validation/check", Title: "Check everything", Kind: runbook.KindManual},
			}},
		},
	}
}

var alice = incident.Operator{Name: "alice", Addr: "10.0.0.5"}

// MustDeclare declares a live severity-1 incident of testRunbook at t0.
func MustDeclare(tb testing.TB, s *incident.Store, clock incident.Clock, opts incident.DeclareOptions) *incident.Incident {
	tb.Helper()
	if opts.Operator == (incident.Operator{}) {
		opts.Operator = alice
	}
	if opts.ID == "" {
		opts.ID = "INC-TEST-1"
	}
	in, err := incident.Declare(ctx, s, testRunbook(), opts, clock)
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
