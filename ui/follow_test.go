package ui_test

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/ui"
)

// TestFollowAndResize: a second operator follows a drill read-only and
// sees the first operator's changes; resizing re-renders the step's
// Markdown for the new width.
func TestFollowAndResize(t *testing.T) {
	env := newTestEnv(t)
	rb, err := runbook.Load(ui.DefaultRunbook, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := drill.Start(context.Background(), drill.Options{ID: "DRILL-FOLLOW", Runbook: rb, Scenario: "corrupt-db",
		StateDir: env.cfg.StateDir, Store: env.cfg.Store, Operator: env.cfg.Operator, Clock: env.clock, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ui.NewFollowSession(context.Background(), env.cfg, "DRILL-FOLLOW")
	if err != nil {
		t.Fatal(err)
	}
	opts := env.options(&ui.Runs{})
	opts.Session, opts.Follow = sess, true
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "(read-only)")
	waitFor(t, tm, "mode: on")

	// The operator running the drill skips the first step elsewhere.
	if err := d.Incident.SkipStep("immediate-actions/kill-switch", "halted at the broker by phone"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tm, "[-] Activate the emergency")

	key(tm, 'd')
	waitFor(t, tm, "read-only: following the incident")

	// The follower moved on with the drill, to the next open step.
	waitFor(t, tm, "> [ ] Stop all automated")
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	waitFor(t, tm, "|     if [ -f data/KILL_SWITCH ]; then") // glamour's code block, at 120
	screen := finalScreen(t, tm)
	wide := false
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "Confirm that no agent is still placing orders: the kill") {
			wide = true
		}
		if len([]rune(l)) > 120 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
	if !wide {
		t.Errorf("the Markdown was not re-rendered for 120 columns:\n%s", screen)
	}
	if n := strings.Count(screen, "\n") + 1; n != 40 {
		t.Errorf("screen has %d lines, want 40", n)
	}
}
