package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui"
)

const secretRunbook = `---
id: secret-test
title: Secret test
rto: 1h
variables:
  - name: PAGER_TOKEN
    prompt: Pager API token
    secret: true
---

# Secret test

## Recovery (0-1 hours)

- Use the token

  ` + "```sh {name=use-token}\n  echo \"token=$PAGER_TOKEN\"\n  ```\n"

// TestResumeFromHomeAsksSecrets: an incident reopened from the home screen
// asks for its secret variables (the timeline never keeps them), without
// echo, and the step then runs with the value, redacted.
func TestResumeFromHomeAsksSecrets(t *testing.T) {
	env := newTestEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.md")
	if err := os.WriteFile(path, []byte(secretRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".drbook-sandbox"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.Declare(context.Background(), env.cfg.Store, rb, incident.DeclareOptions{ID: "DRILL-SECRET-1", Mode: incident.Drill, Root: root}, env.clock); err != nil {
		t.Fatal(err)
	}
	tm := startTUI(t, ui.New(env.options(&ui.Runs{})), 80, 24)
	waitFor(t, tm, "Resume DRILL-SECRET-1")
	tm.Send(tea.KeyMsg{Type: tea.KeyDown})
	tm.Send(tea.KeyMsg{Type: tea.KeyDown})
	enter(tm)
	waitFor(t, tm, "PAGER_TOKEN, secret, not echoed")
	typeLine(tm, "tok-never-shown-77")
	waitFor(t, tm, "1 secret variable(s) set")
	enter(tm) // run the step
	// Wait for the step to be done: q while an action runs only arms the
	// quit.
	waitFor(t, tm, "> [x] Use the token")
	screen := finalScreen(t, tm)
	if !strings.Contains(screen, "token=[REDACTED]") {
		t.Errorf("the step's redacted output is not on the screen:\n%s", screen)
	}
	tm.readOutput()
	if strings.Contains(string(tm.seen)+tm.allViews()+screen, "tok-never-shown-77") {
		t.Error("the secret was echoed or shown")
	}
}
