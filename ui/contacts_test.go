package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/drbook/drbook/ui"
)

// The site configuration's contacts replace the runbook's placeholder
// section in the contacts view, and its problems are a home-screen line.
func TestSiteContactsReplaceTheRunbooks(t *testing.T) {
	e := newTestEnv(t)
	e.cfg.Contacts = "## Emergency Contacts\n\n- **Primary On-Call:** Ana Ruiz - +1 212 555 0101 (verified 2026-03-01)\n"
	e.cfg.Notices = []string{"contacts: 1 to fix (Ben Okafor last verified 2025-01-01); drbook config check"}
	b := ui.NewBackend(e.cfg)
	ctx := context.Background()
	home, err := b.Home(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(home.Problems) == 0 || !strings.Contains(home.Problems[0], "Ben Okafor") {
		t.Errorf("home problems = %q", home.Problems)
	}
	s, err := b.Start(ctx, ui.StartSpec{Runbook: "complete-system-recovery", Drill: true, Scenario: ""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Contacts()
	if !strings.Contains(got, "Ana Ruiz") || strings.Contains(got, "[Name]") {
		t.Errorf("contacts view:\n%s", got)
	}
	// Without site contacts, the runbook's own section is shown.
	e2 := newTestEnv(t)
	s2, err := ui.NewBackend(e2.cfg).Start(ctx, ui.StartSpec{Runbook: "complete-system-recovery", Drill: true, Scenario: ""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Contacts(); !strings.Contains(got, "[Name]") {
		t.Errorf("without site contacts the runbook's section should show:\n%s", got)
	}
}
