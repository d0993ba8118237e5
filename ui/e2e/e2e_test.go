// Package e2e drives the built drbook binary in a real terminal (tmux at
// 80x24) the way an operator would over SSH.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

var binary string

// tmuxSocket is this test binary's own tmux server. The default server is
// shared with every other tmux user on the machine, and it exits when its
// last session is killed: a new session started at that moment (by this
// test after killing one, or by anyone else) fails with "server exited
// unexpectedly". A keeper session holds the private server up until
// TestMain kills it.
var tmuxSocket string

func TestMain(m *testing.M) {
	code := func() int {
		if _, err := exec.LookPath("tmux"); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: tmux not installed; skipping")
			return 0
		}
		dir, err := os.MkdirTemp("", "drbook-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "drbook")
		// Built as released: static, CGO off (the start-up benchmarks time it).
		build := exec.Command("go", "build", "-o", binary, "github.com/drbook/drbook")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build: %v\n%s", err, out)
			return 1
		}
		tmuxSocket = filepath.Join(dir, "tmux.sock")
		if out, err := exec.Command("tmux", "-S", tmuxSocket, "new-session", "-d", "-s", "keeper", "cat").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: tmux: %v\n%s", err, out)
			return 1
		}
		defer exec.Command("tmux", "-S", tmuxSocket, "kill-server").Run()
		return m.Run()
	}()
	os.Exit(code)
}

// term is one tmux session running drbook.
type term struct {
	t    *testing.T
	name string
}

func tmux(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tmuxSocket}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start runs drbook with args in a new 80x24 tmux session.
func start(t *testing.T, stateDir string, args ...string) *term {
	t.Helper()
	name := fmt.Sprintf("drbook-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := []string{"env", "DRBOOK_STATE_DIR=" + stateDir, "NO_COLOR=1", "TERM=xterm-256color", "USER=e2e", binary}
	cmd = append(cmd, args...)
	// remain-on-exit keeps the pane readable after drbook exits.
	tmux(t, append([]string{"new-session", "-d", "-s", name, "-x", "80", "-y", "24"}, cmd...)...)
	tmux(t, "set-option", "-t", name, "remain-on-exit", "on")
	tm := &term{t: t, name: name}
	t.Cleanup(func() { exec.Command("tmux", "-S", tmuxSocket, "kill-session", "-t", name).Run() })
	return tm
}

func (tm *term) screen() string {
	return tmux(tm.t, "capture-pane", "-p", "-t", tm.name)
}

// lastWords waits for drbook to exit and returns what it printed last:
// the screen and its scrollback, wrapped lines joined.
func (tm *term) lastWords() string {
	tm.t.Helper()
	tm.waitDead()
	return tmux(tm.t, "capture-pane", "-p", "-J", "-S", "-50", "-t", tm.name)
}

// waitDead waits until drbook has exited (the pane stays, remain-on-exit).
func (tm *term) waitDead() {
	tm.t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		if strings.TrimSpace(tmux(tm.t, "display-message", "-p", "-t", tm.name, "#{pane_dead}")) == "1" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("drbook did not exit; screen:\n%s", tm.screen())
}

// waitLong bounds each wait; a wait ends as soon as the screen shows what
// it waits for, so it only matters when a test fails, and it is generous
// for a machine busy with other work.
const waitLong = 2 * time.Minute

// waitFor waits until the screen shows every one of want. It polls the
// terminal: want must stay on screen until the next key (a status line,
// a step's mark or output, a prompt), never a state that may last less
// than a poll or than one of drbook's frames.
func (tm *term) waitFor(want ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(waitLong)
	var s string
	for time.Now().Before(deadline) {
		s = tm.screen()
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("screen never showed %q; it shows:\n%s", want, s)
	return ""
}

// waitGone waits until the screen no longer shows text.
func (tm *term) waitGone(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		if !strings.Contains(tm.screen(), text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("screen still shows %q:\n%s", text, tm.screen())
}

// settle waits until the screen stops changing and returns it.
func (tm *term) settle() string {
	tm.t.Helper()
	prev := tm.screen()
	for i := 0; i < 200; i++ {
		time.Sleep(100 * time.Millisecond)
		s := tm.screen()
		if s == prev && !strings.Contains(s, "running") {
			return s
		}
		prev = s
	}
	return prev
}

func (tm *term) keys(k ...string) { tmux(tm.t, append([]string{"send-keys", "-t", tm.name}, k...)...) }

func (tm *term) typeLine(s string) {
	tmux(tm.t, "send-keys", "-t", tm.name, "-l", s)
	tm.keys("Enter")
}

func (tm *term) kill() { tmux(tm.t, "kill-session", "-t", tm.name) }

// TestDrillKillResume runs the README's first command (drbook drill) in a
// real terminal, drives the drill with keys, kills the terminal halfway,
// resumes, drives it to its end and checks the exported report.
func TestDrillKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: slow")
	}
	state := t.TempDir()
	tm := start(t, state, "drill", "--trades", "200")
	s := tm.waitFor("[DRILL]", "Activate the emergency kill switch", "enter: run kill-switch")
	if !strings.Contains(s, "DRILL-") {
		t.Fatalf("no drill id on screen:\n%s", s)
	}
	tm.keys("Enter")
	tm.waitFor("DESTRUCTIVE")
	tm.typeLine("y")
	tm.waitFor("not confirmed")
	tm.typeLine("yes")
	// corrupt-db: the flag file halts, the damaged database is left
	// untouched: the step is done with that finding, and says why.
	tm.waitFor("DONE WITH FINDINGS: trading HALTED", "looks damaged")
	tm.waitFor("> [ ] Stop all automated")
	tm.keys("Enter")
	tm.waitFor("OK: shell")
	tm.waitFor("> [ ] Notify key")

	// The SSH link drops: the terminal goes away.
	tm.kill()

	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sums, err := store.Incidents(context.Background())
	if err != nil || len(sums) != 1 || sums[0].Status != incident.StatusOpen {
		t.Fatalf("after the kill: %v %+v, want one open drill", err, sums)
	}
	id := sums[0].ID

	tm = start(t, state, "resume")
	s = tm.waitFor(id, "[x] Activate the emergency", "[x] Stop all automated", "> [ ] Notify key")
	if !strings.Contains(s, "[DRILL]") {
		t.Fatalf("resumed screen does not say DRILL:\n%s", s)
	}
	drive(t, tm)
	// Leaving, drbook says where the report is.
	if s := tm.lastWords(); !strings.Contains(s, id+" resolved; report: "+filepath.Join(state, "reports", id+".md")) {
		t.Errorf("on exit drbook does not say where the report is:\n%s", s)
	}

	report := filepath.Join(state, "reports", id+".md")
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("exported report: %v", err)
	}
	for _, want := range []string{"# Post-incident report: " + id, "resolved", "recovery-phase/restore",
		"## Steps done with findings\n\n- **Activate the emergency kill switch**", "  - database not updated: the database looks damaged"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	st, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != incident.StatusResolved || st.Resumes < 1 {
		t.Errorf("status %s resumes %d, want resolved after a resume", st.Status, st.Resumes)
	}
}

// drive plays the rest of the drill as a newcomer would, from what the
// screen says: enter on each step, 'yes' to confirm, a reason to skip a
// step whose action failed, C and 'yes' to close, then the report.
func drive(t *testing.T, tm *term) {
	t.Helper()
	for i := 0; i < 120; i++ {
		s := tm.settle()
		switch {
		case strings.Contains(s, "Post-incident report"):
			tm.keys("q") // leave the report pager
			tm.settle()
			tm.keys("q")
			return
		case strings.Contains(s, "Close the incident as RESOLVED"):
			tm.typeLine("yes")
		case strings.Contains(s, "DESTRUCTIVE "):
			tm.typeLine("yes")
		case strings.Contains(s, "Every step is settled"):
			tm.keys("C")
		case selectedIs(s, "[!]") || selectedIs(s, "[~]"):
			// The step's action failed or was interrupted: skip it.
			tm.keys("s")
			tm.waitFor("why?")
			tm.typeLine("action not available in this drill")
		default:
			tm.keys("Enter")
		}
	}
	t.Fatalf("the drill did not end; screen:\n%s", tm.screen())
}

const slowRunbook = `---
id: slow-drill
title: Slow Drill
rto: 1h
---

# Slow Drill

## Only Phase (0-60 minutes)

- Wait for a slow thing

  ` + "```sh {name=slow}" + `
  echo "slow step started"
  sleep 307
  echo "never printed"
  ` + "```" + `
`

// TestHangupCancelsAction drops the terminal while an action runs: the
// action's process group is killed and the run is recorded as
// interrupted; the drill stays open.
func TestHangupCancelsAction(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: slow")
	}
	state, books := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(books, "slow-drill.md"), []byte(slowRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := start(t, state, "drill", "slow-drill", "--runbooks", books, "--scenario", "none", "--trades", "200")
	tm.waitFor("Wait for a slow thing", "enter: run the sh")
	tm.keys("Enter")
	tm.waitFor("slow step started", "running")
	pid := strings.TrimSpace(tmux(t, "display-message", "-p", "-t", tm.name, "#{pane_pid}"))
	tm.kill()

	// drbook records the interruption before it exits.
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("kill", "-0", pid).Run() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sums, err := store.Incidents(context.Background())
	if err != nil || len(sums) != 1 {
		t.Fatalf("incidents: %v %+v", err, sums)
	}
	st, err := store.Load(context.Background(), sums[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != incident.StatusOpen {
		t.Errorf("drill status %s, want open", st.Status)
	}
	if len(st.Runs) != 1 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	r := st.Runs[0]
	if r.Status != "interrupted" || strings.Contains(r.Output, "never printed") {
		t.Errorf("run after hangup: status %q output %q; want it interrupted", r.Status, r.Output)
	}
	s := st.Step("only-phase/slow")
	if s == nil || s.Status != incident.StepInterrupted {
		t.Errorf("step after hangup: %+v", s)
	}
	// The shell's process group is gone: no sleep 307 is left.
	out, _ := exec.Command("pgrep", "-f", "sleep 307").Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("the action's processes survived the hangup: %s", out)
	}
	t.Logf("run recorded as %q (%s); step %s", r.Status, r.Error, s.Status)
}

// selectedIs reports whether the selected step (the "> [" line) has mark.
func selectedIs(screen, mark string) bool {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(l, "> [") {
			return strings.HasPrefix(l, "> "+mark)
		}
	}
	return false
}

// TestKillDuringActionResume: drbook is killed outright (SIGKILL) while an
// action runs; resuming shows the step as interrupted (never re-run on its
// own), with everything acknowledged before the kill still there.
func TestKillDuringActionResume(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: slow")
	}
	state, books := t.TempDir(), t.TempDir()
	rb := strings.ReplaceAll(slowRunbook, "sleep 307", "sleep 309")
	if err := os.WriteFile(filepath.Join(books, "slow-drill.md"), []byte(rb), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := start(t, state, "drill", "slow-drill", "--runbooks", books, "--scenario", "none", "--trades", "200")
	tm.waitFor("Wait for a slow thing", "enter: run the sh")
	tm.keys("n")
	// Wait for the prompt: typed at once, n and the text could reach
	// drbook in one read, as one key.
	tm.waitFor("Note for the timeline")
	tm.typeLine("before the kill")
	tm.waitFor("Note added")
	tm.keys("Enter")
	tm.waitFor("slow step started", "running")
	pane := strings.TrimSpace(tmux(t, "display-message", "-p", "-t", tm.name, "#{pane_pid}"))
	// The pane runs env, which execs drbook: the pane's pid is drbook's.
	if err := exec.Command("kill", "-KILL", pane).Run(); err != nil {
		t.Fatal(err)
	}
	tm.waitDead()
	// The action's shell survives a SIGKILL of its parent (it has its own
	// session); end it, by its pid, as an operator would.
	t.Cleanup(func() {
		out, _ := exec.Command("pgrep", "-f", "sleep 309").Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", pid).Run()
		}
	})

	tm = start(t, state, "resume", "--runbooks", books)
	tm.waitFor("[~] Wait for a slow thing", "INTERRUPTED")
	tm.keys("t")
	tm.waitFor("before the kill", "resumed")
	tm.keys("Escape")
	// Wait for the pager to close: an escape and a q that reach drbook in
	// one read are alt+q.
	tm.waitGone("esc: back")
	tm.keys("q")
	if s := tm.lastWords(); !strings.Contains(s, "is still open: drbook resume DRILL-") {
		t.Errorf("on exit drbook does not say how to resume:\n%s", s)
	}
}

const secretRunbook = `---
id: paging
title: Paging
rto: 1h
variables:
  - name: PAGER_TOKEN
    prompt: Pager API token
    secret: true
---

# Paging

## Only Phase (0-60 minutes)

- Page the on-call

  ` + "```sh {name=page}" + `
  echo "paging with token $PAGER_TOKEN"
  ` + "```" + `
`

// TestResumeAsksSecrets: secret variables are never stored, so resume asks
// for them again (without echo), and they reach the step redacted.
func TestResumeAsksSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: slow")
	}
	state, books := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(books, "paging.md"), []byte(secretRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := start(t, state, "drill", "paging", "--runbooks", books, "--scenario", "none", "--trades", "200",
		"--var", "PAGER_TOKEN=hunter2-first")
	tm.waitFor("Page the on-call")
	tm.keys("q")
	tm.waitDead()

	tm = start(t, state, "resume", "--runbooks", books)
	tm.waitFor("Pager API token (PAGER_TOKEN, secret")
	tmux(t, "send-keys", "-t", tm.name, "-l", "hunter2-again")
	tm.keys("Enter")
	tm.waitFor("Page the on-call", "enter: run the sh")
	if strings.Contains(tm.screen(), "hunter2") {
		t.Fatal("the secret was echoed")
	}
	tm.keys("Enter")
	s := tm.waitFor("[x] Page the on-call", "paging with token [REDACTED]")
	if strings.Contains(s, "hunter2") {
		t.Errorf("the secret reached the screen:\n%s", s)
	}
	tm.keys("q")
	tm.waitDead()
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sums, err := store.Incidents(context.Background())
	if err != nil || len(sums) != 1 {
		t.Fatalf("incidents %v %+v", err, sums)
	}
	evs, err := store.Events(context.Background(), sums[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(evs)
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("a secret reached the timeline")
	}
	if !strings.Contains(string(b), "paging with token [REDACTED]") {
		t.Errorf("the step's output is not in the timeline")
	}
}
