package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
)

// gatedRunbook's one action prints a line and waits for the gate file the
// test creates: the test, not a timer, decides when it ends.
const gatedRunbook = `---
id: serve-e2e
title: Serve E2E
rto: 1h
vars:
  - name: GATE
    prompt: gate file
---

# Serve E2E

## Only Phase (0-60 minutes)

- Run the gated thing

  ` + "```sh {name=gated}" + `
  echo "gated step started"
  while [ ! -f "${GATE}" ]; do sleep 0.05; done
  echo "gated step finished"
  ` + "```" + `

- Say it is over
`

// TestServeTwoOperatorsOverSSH runs drbook serve on loopback and the real
// OpenSSH client in tmux at 80x24: alice runs a step, bob sees who runs
// it and its output and then the step done; carol's observer key cannot
// act; an unknown key is refused; SIGTERM stops the server cleanly and
// records who was connected.
func TestServeTwoOperatorsOverSSH(t *testing.T) {
	for _, bin := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (openssh-client): skipping the drbook serve end-to-end test", bin)
		}
	}
	dir := t.TempDir()
	stateDir, rbDir, root := filepath.Join(dir, "state"), filepath.Join(dir, "runbooks"), filepath.Join(dir, "root")
	for _, d := range []string{stateDir, rbDir, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rbPath := filepath.Join(rbDir, "serve-e2e.md")
	if err := os.WriteFile(rbPath, []byte(gatedRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(rbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := incident.OpenStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	gate := filepath.Join(dir, "gate")
	in, err := incident.Declare(context.Background(), store, rb, incident.DeclareOptions{Mode: incident.Live, Root: root,
		Operator: incident.Operator{Name: "e2e"}, Vars: map[string]string{"GATE": gate}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := in.ID()

	// Keys, made the way an operator makes them.
	var authorized []string
	for _, k := range []struct{ name, role string }{{"alice", "operator"}, {"bob", "operator"}, {"carol", "observer"}, {"mallory", ""}} {
		path := filepath.Join(dir, k.name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k.name+"@e2e", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		if k.role == "" {
			continue // mallory's key is not authorized
		}
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		authorized = append(authorized, fmt.Sprintf(`environment="DRBOOK_ROLE=%s" %s`, k.role, strings.TrimSpace(string(pub))))
	}
	keysFile := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keysFile, []byte(strings.Join(authorized, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--authorized-keys", keysFile,
		"--state-dir", stateDir, "--runbooks", rbDir, "--live", "--root", root, "--no-color")
	srv.Env = append(os.Environ(), "DRBOOK_STATE_DIR="+stateDir)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		srv.Process.Kill()
		<-exited
	}()
	var port, fingerprint string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (port == "" || fingerprint == "") {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "drbook serve: listening on "); ok {
			port = a[strings.LastIndex(a, ":")+1:]
		}
		if f, ok := strings.CutPrefix(line, "host key fingerprint: "); ok {
			fingerprint = f
		}
	}
	go func() {
		for sc.Scan() {
		}
		exited <- srv.Wait()
	}()
	if port == "" || !strings.HasPrefix(fingerprint, "SHA256:") {
		t.Fatalf("drbook serve did not say where it listens and its fingerprint; stderr:\n%s", stderr.String())
	}
	known := filepath.Join(dir, "known_hosts")
	ssh := func(user string) *term {
		t.Helper()
		name := fmt.Sprintf("drbook-serve-e2e-%s-%d-%d", user, os.Getpid(), time.Now().UnixNano())
		cmd := []string{"env", "TERM=xterm-256color", "ssh", "-tt", "-F", "/dev/null", "-p", port,
			"-i", filepath.Join(dir, user), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile=" + known, "-o", "StrictHostKeyChecking=accept-new",
			"-o", "VisualHostKey=no", user + "@127.0.0.1"}
		tmux(t, append([]string{"new-session", "-d", "-s", name, "-x", "80", "-y", "24"}, cmd...)...)
		tmux(t, "set-option", "-t", name, "remain-on-exit", "on")
		t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", name).Run() })
		return &term{t: t, name: name}
	}
	openIncident := func(tm *term) {
		tm.waitFor("Resume " + id)
		tm.keys("Down")
		tm.keys("Down")
		tm.keys("Enter")
		tm.waitFor("Run the gated thing", "SEV2")
	}

	alice := ssh("alice")
	openIncident(alice)
	bob := ssh("bob")
	openIncident(bob)

	alice.keys("Enter")
	bob.waitFor("RUNNING ELSEWHERE by alice SHA256:", "gated step started")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bob.waitFor("[x] Run the gated thing")
	alice.waitFor("[x] Run the gated thing")

	carol := ssh("carol")
	openIncident(carol)
	carol.keys("Down")
	carol.keys("Enter")
	carol.waitFor("refused: carol signs in with an observer key")

	// An unknown key: the real client is refused at authentication.
	out, err := exec.Command("ssh", "-F", "/dev/null", "-p", port, "-i", filepath.Join(dir, "mallory"),
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile="+known,
		"-o", "StrictHostKeyChecking=yes", "mallory@127.0.0.1", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied (publickey)") {
		t.Fatalf("an unknown key: %v\n%s", err, out)
	}

	// The host key ssh recorded is the one drbook serve printed.
	out, err = exec.Command("ssh-keygen", "-l", "-f", known).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fingerprint) {
		t.Fatalf("known_hosts fingerprint %s, want %s (%v)", out, fingerprint, err)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred wait
		if err != nil {
			t.Fatalf("drbook serve after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("drbook serve did not stop on SIGTERM; stderr:\n%s", stderr.String())
	}
	evs, err := store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ran, note string
	for _, e := range evs {
		switch e.Kind {
		case incident.KindActionStarted:
			ran = e.Actor
		case incident.KindNote:
			note = e.Data.Text
		}
		if e.Kind != incident.KindDeclared && e.Kind != incident.KindNote && strings.HasPrefix(e.Actor, "carol") {
			t.Errorf("the observer's key recorded %s", e.Kind)
		}
	}
	if !strings.HasPrefix(ran, "alice SHA256:") || !strings.Contains(ran, "(127.0.0.1)") {
		t.Errorf("action_started actor %q: want alice, her key fingerprint and address", ran)
	}
	for _, who := range []string{"alice SHA256:", "bob SHA256:", "carol SHA256:", "observer"} {
		if !strings.Contains(note, who) {
			t.Errorf("shutdown note %q does not name %s", note, who)
		}
	}
}
