package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui"
)

// TestIdleRedrawBytes measures what an idle incident screen writes to the
// terminal per displayed minute: the clocks tick at minute resolution and
// the renderer rewrites only changed lines, so it must stay far below the
// 2 KB a minute a slow SSH link can spare. The drill runs at speed 600 on
// a manual clock: each step moves it one incident minute (100 ms of clock
// time) and waits for the header to show it, so the measure does not
// depend on how promptly a loaded machine delivers the ticks.
func TestIdleRedrawBytes(t *testing.T) {
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
	clock := incident.NewManualClock(time.Date(2026, 3, 13, 20, 5, 0, 0, time.UTC))
	d, err := drill.Start(context.Background(), drill.Options{Runbook: rb, Scenario: "corrupt-db", Speed: speed,
		StateDir: dir, Store: store, Operator: incident.Operator{Name: "alice"}, Trades: 200, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	sess := ui.NewSession(d.Incident, store, rb, d.Env, dir)
	opts := ui.Options{Session: sess, NoColor: true, Runs: &ui.Runs{}, Getenv: func(string) string { return "" }}
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "mode: on") // the first step's Markdown, rendered
	waitFor(t, tm, "elapsed 0m")
	// This test measures the terminal's bytes, so it also waits for them;
	// the clock line stays on screen until the clock is advanced.
	waitWritten(t, tm, "elapsed 0m")
	from := len(tm.seen)

	const minutes = 30
	for m := 1; m <= minutes; m++ {
		clock.Advance(time.Minute / speed)
		waitFor(t, tm, fmt.Sprintf("elapsed %dm ", m))
		waitWritten(t, tm, fmt.Sprintf("elapsed %dm ", m))
	}
	written := len(tm.seen) - from
	perMinute := float64(written) / minutes
	t.Logf("idle: %d bytes over %d incident minutes: %.0f bytes per displayed minute", written, minutes, perMinute)
	if perMinute > 2048 {
		t.Errorf("idle screen writes %.0f bytes a minute, want under 2048", perMinute)
	}
	finalScreen(t, tm)
}

// waitWritten waits until the program has written want to the terminal
// since the previous call. The renderer writes on its own frame ticker, so
// this polls the output; want must stay on screen until it is written.
func waitWritten(t *testing.T, tm *watch, want string) {
	t.Helper()
	from := tm.written
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitLong)
	for {
		tm.readOutput()
		if i := bytes.Index(tm.seen[from:], []byte(want)); i >= 0 {
			tm.written = from + i + len(want)
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited %s for the program to write %q; it wrote:\n%s", waitLong, want, tm.seen[from:])
		}
	}
}
