package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/ui"
)

// The header says whether the timeline has reached the replica, asked
// from a command and redrawn when the answer changes.
func TestHeaderShowsReplication(t *testing.T) {
	env := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "slow.md")
	if err := os.WriteFile(path, []byte(slowRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := drill.Start(context.Background(), drill.Options{ID: "DRILL-REPL", Runbook: rb, StateDir: env.cfg.StateDir,
		Store: env.cfg.Store, Operator: env.cfg.Operator, Clock: env.clock, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Value
	status.Store("3 events not yet replicated")
	var asked atomic.Int32
	opts := env.options(&ui.Runs{})
	opts.Session = ui.WithReplication(ui.NewSession(d.Incident, env.cfg.Store, rb, d.Env, env.cfg.StateDir), func(id string) string {
		asked.Add(1)
		if id != "DRILL-REPL" {
			return "asked about " + id
		}
		return status.Load().(string)
	})
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "3 events not yet replicated |")
	status.Store("replicated")
	waitFor(t, tm, "  replicated | elapsed")
	finalScreen(t, tm)
	if asked.Load() < 2 {
		t.Fatalf("asked %d times", asked.Load())
	}
}

// Sessions a replicated backend starts or opens (the home screen's) say
// it too.
func TestReplicatedBackendSessions(t *testing.T) {
	env := newTestEnv(t)
	b := ui.ReplicatedBackend(ui.NewBackend(env.cfg), func(id string) string { return "replicated " + id })
	s, err := b.Start(context.Background(), ui.StartSpec{Runbook: "complete-system-recovery", Drill: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := s.(interface{ Replication() string })
	if !ok || r.Replication() != "replicated DRILL-TEST-0001" {
		t.Fatalf("started session: %T %v", s, ok)
	}
	if _, ok := s.(interface{ SetVars(map[string]string) }); !ok {
		t.Fatal("the wrapped session lost SetVars")
	}
	o, err := b.Open(context.Background(), "DRILL-TEST-0001")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := o.(interface{ Replication() string }); !ok || r.Replication() != "replicated DRILL-TEST-0001" {
		t.Fatalf("opened session: %T", o)
	}
}
