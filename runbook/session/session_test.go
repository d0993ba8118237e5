package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/session"
	"github.com/drbook/drbook/steps/s3fake"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestStartHomeOpenClose starts a drill on a small sandbox, finds it on
// the home overview, reopens it with its sandbox environment, closes it
// and finds it among the recent drills; a live incident is refused
// without --live.
func TestStartHomeOpenClose(t *testing.T) {
	ctx := context.Background()
	dir, store := openStore(t)
	n := 0
	cfg := session.Config{Store: store, StateDir: dir, Trades: 200, Operator: incident.Operator{Name: "dana"},
		Notices: []string{"contacts are placeholders"}, NewID: func() string { n++; return "DRILL-S" + strings.Repeat("X", n) }}

	h := cfg.Home(ctx)
	if len(h.Runbooks) == 0 || len(h.Faults) == 0 || len(h.Open) != 0 || len(h.Problems) != 1 {
		t.Fatalf("empty home: %+v", h)
	}
	if _, err := cfg.Start(ctx, session.Spec{Runbook: "complete-system-recovery"}, nil); err == nil || !strings.Contains(err.Error(), "--live") {
		t.Fatalf("live without --live: %v", err)
	}

	s, err := cfg.Start(ctx, session.Spec{Runbook: "complete-system-recovery", Drill: true, Scenario: "corrupt-db"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Env.Drill || !sandbox.IsSandbox(s.Env.Root) || s.Runbook == nil || s.Env.IncidentID != s.Incident.ID() {
		t.Fatalf("started drill: %+v", s.Env)
	}
	h = cfg.Home(ctx)
	if len(h.Open) != 1 || h.Open[0].ID != s.Incident.ID() || h.Open[0].Mode != incident.Drill {
		t.Fatalf("home after start: %+v", h.Open)
	}

	re, err := cfg.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if re.Incident.ID() != s.Incident.ID() || re.Env.Root != s.Env.Root || re.Env.BackupDir != s.Env.BackupDir || !re.Env.Drill {
		t.Fatalf("reopened: %+v, want %+v", re.Env, s.Env)
	}

	// The fault is still there: the close says so and writes the report.
	cl, err := drill.Close(ctx, re.Incident, store, drill.CloseOptions{Outcome: incident.StatusAbandoned, ReportDir: cfg.ReportDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !cl.Checked || len(cl.CheckFailures) == 0 || !strings.HasPrefix(cl.Summary, "closed with system checks still failing") ||
		!strings.Contains(cl.Markdown, cl.Summary) || cl.Report == "" {
		t.Fatalf("close: %+v", cl)
	}
	h = cfg.Home(ctx)
	if len(h.Open) != 0 || len(h.Drills) != 1 || h.Drills[0].Scenario != "corrupt-db" || h.Drills[0].Recovered {
		t.Fatalf("home after close: open %+v drills %+v", h.Open, h.Drills)
	}
}

// TestLiveStartTakesSiteVars: a live incident takes the site
// configuration's values for the variables its start leaves unset (the
// start's own values win); a drill started from the same configuration
// takes none of them.
func TestLiveStartTakesSiteVars(t *testing.T) {
	ctx := context.Background()
	dir, store := openStore(t)
	site := map[string]string{"DNS_ZONE": "quantai.example", "DNS_TTL": "30", "NOT_DECLARED": "x"}
	cfg := session.Config{Store: store, StateDir: dir, Trades: 200, Live: true, Root: t.TempDir(), SiteVars: site,
		Operator: incident.Operator{Name: "dana"}}
	s, err := cfg.Start(ctx, session.Spec{Runbook: "site-failover", Vars: map[string]string{"DNS_TTL": "45"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vars := s.Incident.State().Declaration.Vars
	if vars["DNS_ZONE"] != "quantai.example" || vars["DNS_TTL"] != "45" || vars["NOT_DECLARED"] != "" || s.Env.Vars["DNS_ZONE"] != "quantai.example" {
		t.Errorf("live incident vars %v, env %v", vars, s.Env.Vars)
	}
	d, err := cfg.Start(ctx, session.Spec{Runbook: "site-failover", Drill: true, Scenario: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Incident.State().Declaration.Vars; v["DNS_ZONE"] != "" {
		t.Errorf("a drill took the site's values: %v", v)
	}
}

// TestDrillFromHomeReachesS3: a host-lost drill started as the TUI starts
// one (session.Start) gets the configured drill S3 location: without one
// it is refused before anything is made, with one its baseline backup is
// uploaded and the runbook is told where (BACKUP_S3).
func TestDrillFromHomeReachesS3(t *testing.T) {
	ctx := context.Background()
	dir, store := openStore(t)
	cfg := session.Config{Store: store, StateDir: dir, Trades: 200, Operator: incident.Operator{Name: "dana"}}
	spec := session.Spec{Runbook: "cross-platform-recovery", Drill: true, Scenario: "host-lost"}
	if _, err := cfg.Start(ctx, spec, nil); !errors.Is(err, drill.ErrNoS3) {
		t.Fatalf("host-lost without S3: %v", err)
	}
	srv := s3fake.Start(t, "bk")
	cfg.DrillS3 = drill.S3{URL: "s3://bk/quantai", Endpoint: srv.Endpoint}
	s, err := cfg.Start(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := s.Env.Vars["BACKUP_S3"]; !strings.HasPrefix(u, "s3://bk/quantai/drills/") {
		t.Errorf("BACKUP_S3 %q", u)
	}
	if len(srv.Objects(t, "bk")) == 0 {
		t.Error("nothing uploaded to the drill's S3 location")
	}
}

// openStore opens a state store in a new directory, closed when the test ends.
func openStore(t *testing.T) (string, *incident.Store) {
	t.Helper()
	dir := t.TempDir()
	store, err := incident.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return dir, store
}
