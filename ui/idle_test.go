package ui_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui"
)

// TestIdleRedrawBytes measures what an idle incident screen writes to the
// terminal per displayed minute: the clocks tick at minute resolution and
// the renderer rewrites only changed lines, so it must stay far below the
// 2 KB a minute a slow SSH link can spare. The drill runs at speed 600 so
// 30 incident minutes pass in 3 seconds.
func TestIdleRedrawBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("idle measurement takes a few seconds")
	}
	dir := t.TempDir()
	store, err := incident.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rb, err := runbook.Load(ui.DefaultRunbook, nil)
	if err != nil {
		t.Fatal(err)
	}
	const speed = 600
	d, err := drill.Start(context.Background(), drill.Options{Runbook: rb, Scenario: "corrupt-db", Speed: speed,
		StateDir: dir, Store: store, Operator: incident.Operator{Name: "alice"}, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	sess := ui.NewSession(d.Incident, store, rb, d.Env, dir)
	opts := ui.Options{Session: sess, NoColor: true, Runs: &ui.Runs{}, Getenv: func(string) string { return "" }}
	tm := newWatch(teatest.NewTestModel(t, ui.New(opts), teatest.WithInitialTermSize(80, 24)))
	waitFor(t, tm, "mode: on") // the first step's Markdown, rendered
	time.Sleep(200 * time.Millisecond)
	io.ReadAll(tm.Output())

	start := sess.Now()
	time.Sleep(3 * time.Second)
	b, _ := io.ReadAll(tm.Output())
	minutes := sess.Now().Sub(start).Minutes()
	perMinute := float64(len(b)) / minutes
	t.Logf("idle: %d bytes over %.1f incident minutes: %.0f bytes per displayed minute", len(b), minutes, perMinute)
	if perMinute > 2048 {
		t.Errorf("idle screen writes %.0f bytes a minute, want under 2048", perMinute)
	}
	if len(b) == 0 {
		t.Error("the clocks did not redraw at all")
	}
	finalScreen(t, tm)
}
