package drill_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/sandbox"
)

func mustStore(t *testing.T) (*incident.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func mustRunbook(t *testing.T) *runbook.Runbook {
	t.Helper()
	rb, err := runbook.Load("complete-system-recovery", nil)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

func TestStartPreparesTheSandbox(t *testing.T) {
	store, state := mustStore(t)
	dir := filepath.Join(t.TempDir(), "d")
	var stages []string
	d, err := drill.Start(context.Background(), drill.Options{Runbook: mustRunbook(t), Scenario: "corrupt-db", Dir: dir,
		StateDir: state, Store: store, Trades: 200, Speed: 60, Progress: func(s string) { stages = append(stages, s) }})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, drill.SandboxDir)
	if !sandbox.IsSandbox(root) || d.Env.Root != root || !d.Env.Drill || d.Env.BackupDir != filepath.Join(dir, drill.BackupsDir) {
		t.Fatalf("env %+v", d.Env)
	}
	if m, err := sandbox.ReadMarker(root); err != nil || len(m.Faults) != 1 || m.Faults[0] != "corrupt-db" {
		t.Errorf("marker %+v %v: want the fault injected", m, err)
	}
	if entries, _ := os.ReadDir(d.Env.BackupDir); len(entries) == 0 {
		t.Error("no baseline backup before the fault")
	}
	st := d.Incident.State()
	if st.Declaration.Mode != incident.Drill || st.Declaration.Scenario != "corrupt-db" || st.Declaration.Speed != 60 || st.Declaration.Root != root {
		t.Errorf("declaration %+v", st.Declaration)
	}
	if drill.DirOf(root) != dir || drill.DirOf("/srv/quantai") != "" {
		t.Error("DirOf")
	}
	if !strings.Contains(strings.Join(stages, "\n"), "baseline backup") {
		t.Errorf("stages %q", stages)
	}
}

func TestStartRefusesUnknownFault(t *testing.T) {
	store, state := mustStore(t)
	dir := filepath.Join(t.TempDir(), "d")
	_, err := drill.Start(context.Background(), drill.Options{Runbook: mustRunbook(t), Scenario: "meteor", Dir: dir,
		StateDir: state, Store: store, Trades: 200})
	if !errors.Is(err, sandbox.ErrUnknownFault) {
		t.Fatalf("err %v, want ErrUnknownFault", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("a sandbox was made for an unknown fault")
	}
	if sums, _ := store.Incidents(context.Background()); len(sums) != 0 {
		t.Error("a drill was declared for an unknown fault")
	}
}

// TestAutoInterrupted: a cancelled unattended drill stays open.
func TestAutoInterrupted(t *testing.T) {
	store, state := mustStore(t)
	d, err := drill.Start(context.Background(), drill.Options{Runbook: mustRunbook(t), Scenario: "corrupt-db",
		StateDir: state, Store: store, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if _, err := drill.Auto(ctx, d, store, filepath.Join(state, "reports"), &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if st := d.Incident.State(); st.Status != incident.StatusOpen {
		t.Errorf("status %s, want open (resumable)", st.Status)
	}
}

// TestBackupAgeGivesTheRPO: the baseline backup is stamped BackupAge before
// the (backdated) detection, so restoring it gives that RPO achieved; by
// default it is taken just before the drill and the RPO is about zero.
func TestBackupAgeGivesTheRPO(t *testing.T) {
	for _, tt := range []struct {
		age, ago time.Duration
		want     incident.Verdict
	}{
		{10 * time.Minute, 0, incident.Met},
		{10 * time.Minute, 30 * time.Minute, incident.Met},   // still before the detection
		{20 * time.Minute, 5 * time.Minute, incident.Missed}, // older than the 15m objective
	} {
		store, state := mustStore(t)
		clock := incident.NewManualClock(time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC))
		d, err := drill.Start(context.Background(), drill.Options{Runbook: mustRunbook(t), Scenario: "corrupt-db",
			Dir: filepath.Join(t.TempDir(), "d"), StateDir: state, Store: store, Trades: 200, Clock: clock,
			BackupAge: tt.age, DetectedAgo: tt.ago})
		if err != nil {
			t.Fatal(err)
		}
		id := ""
		for _, p := range d.Incident.State().Phases {
			for _, s := range p.Steps {
				if s.Action == "restore" && id == "" {
					id = s.ID
				}
			}
		}
		if _, err := d.Incident.RunStep(context.Background(), id, d.Env, true, nil); err != nil {
			t.Fatal(err)
		}
		rpo := d.Incident.State().Clocks(clock.Now()).RPO
		if rpo.Achieved != tt.age || rpo.Verdict != tt.want {
			t.Errorf("age %s, detected %s ago: RPO achieved %s %s, want %s %s", tt.age, tt.ago, rpo.Achieved, rpo.Verdict, tt.age, tt.want)
		}
	}
}
