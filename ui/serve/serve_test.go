package serve_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	_ "github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/ui"
	"github.com/drbook/drbook/ui/serve"
)

// gatedRunbook has one shell step that prints a line, then waits until the
// test creates the file named by the GATE variable: the test decides when
// the action ends, no timing involved.
const gatedRunbook = `---
id: serve-test
title: Serve Test
rto: 1h
vars:
  - name: GATE
    prompt: gate file
---

# Serve Test

## Only Phase (0-60 minutes)

- Run the gated thing

  ` + "```sh {name=gated}" + `
  echo "gated step started"
  while [ ! -f "${GATE}" ]; do sleep 0.05; done
  echo "gated step finished"
  ` + "```" + `

- Say it is over
`

// fixture is a server on loopback with a live incident on the gated
// runbook and three keys: two operators and an observer.
type fixture struct {
	t        *testing.T
	addr     string
	store    *incident.Store
	id       string
	gate     string
	stateDir string
	keys     map[string]gossh.Signer
	hostKey  gossh.PublicKey
	cancel   context.CancelFunc
	done     chan error
}

func newSigner(t testing.TB) (gossh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp)))
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, gatedRunbook) }

func newFixtureWith(t testing.TB, rbText string) *fixture { return newFixtureCfg(t, rbText, nil) }

func newFixtureCfg(t testing.TB, rbText string, tune func(*serve.Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	rbDir := filepath.Join(dir, "runbooks")
	root := filepath.Join(dir, "root")
	for _, d := range []string{stateDir, rbDir, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rbPath := filepath.Join(rbDir, "serve-test.md")
	if err := os.WriteFile(rbPath, []byte(rbText), 0o600); err != nil {
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
	t.Cleanup(func() { store.Close() })
	gate := filepath.Join(dir, "gate")
	in, err := incident.Declare(context.Background(), store, rb, incident.DeclareOptions{
		Mode: incident.Live, Root: root, Operator: incident.Operator{Name: "declarer"},
		Vars: map[string]string{"GATE": gate}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: nil, store: store, id: in.ID(), gate: gate, stateDir: stateDir, keys: map[string]gossh.Signer{}}
	var authorized []string
	for _, k := range []struct{ name, opt string }{
		{"alice", `environment="DRBOOK_ROLE=operator" `},
		{"bob", `environment="DRBOOK_ROLE=operator" `},
		{"carol", `environment="DRBOOK_ROLE=observer" `},
	} {
		s, line := newSigner(t)
		f.keys[k.name] = s
		authorized = append(authorized, k.opt+line+" "+k.name+"@laptop")
	}
	keys, err := serve.ParseKeys([]byte(strings.Join(authorized, "\n")+"\n"), "authorized_keys")
	if err != nil {
		t.Fatal(err)
	}
	pem, _, _, err := serve.HostKey(filepath.Join(stateDir, "host_key"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	f.hostKey = hs.PublicKey()
	cfg := serve.Config{
		Engine: ui.EngineConfig{Store: store, StateDir: stateDir, RunbookDirs: []string{rbDir}, Live: true, Root: root},
		Keys:   keys, HostKeyPEM: pem, NoColor: true, AuthFailures: 3,
	}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(f.stop)
	return f
}

// stop shuts the server down (as SIGTERM does) and waits for it.
func (f *fixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	<-f.done
}

// screen is one SSH session with a PTY at 80x24.
type screen struct {
	t    testing.TB
	conn *gossh.Client
	sess *gossh.Session
	in   interface{ Write([]byte) (int, error) }
	mu   sync.Mutex
	out  bytes.Buffer
	n    int // how much of out the last wait consumed
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (f *fixture) dial(user string, key gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey), Timeout: 30 * time.Second,
	})
}

func (f *fixture) open(t testing.TB, user string) *screen {
	t.Helper()
	conn, err := f.dial(user, f.keys[user])
	if err != nil {
		t.Fatalf("%s: dial: %v", user, err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	s := &screen{t: t, conn: conn, sess: sess}
	sess.Stdout = s
	sess.Stderr = s
	w, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.in = w
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func (s *screen) close() { s.sess.Close(); s.conn.Close() }

func (s *screen) keys(k string) {
	s.t.Helper()
	if _, err := s.in.Write([]byte(k)); err != nil {
		s.t.Fatalf("keys %q: %v", k, err)
	}
}

// text is everything the session drew since the last wait, without
// escape sequences: the renderer rewrites whole changed lines, so a line
// on screen appears whole in it.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.out.String()[s.n:])
}

// waitFor waits until the session has drawn every string in want, then
// moves past it.
func (s *screen) waitFor(want ...string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		txt := s.text()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(txt, w)
		}
		if ok {
			s.mu.Lock()
			s.n = s.out.Len()
			s.mu.Unlock()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("never drew %q; drew:\n%s", want, s.text())
}

// openIncident picks the open incident on the home screen (third entry).
func (s *screen) openIncident(id string) {
	s.t.Helper()
	s.waitFor("Resume " + id)
	s.keys("\x1b[B")
	s.keys("\x1b[B")
	s.keys("\r")
	s.waitFor("Run the gated thing")
}

func events(t testing.TB, store *incident.Store, id string) []incident.Event {
	t.Helper()
	evs, err := store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestTwoOperatorsShareAnIncident(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "alice")
	b := f.open(t, "bob")
	a.openIncident(f.id)
	b.openIncident(f.id)

	a.keys("\r") // run the gated step
	// B sees who runs it and its streamed output while it runs.
	b.waitFor("RUNNING ELSEWHERE by alice SHA256:")
	b.waitFor("gated step started")
	// B cannot start it a second time: one action at a time per step.
	b.keys("\r")
	b.waitFor("already running")

	if err := os.WriteFile(f.gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Both screens show the step done (the cursor moves on to the next).
	b.waitFor("[x] Run the gated thing")
	a.waitFor("[x] Run the gated thing")

	aliceFP := gossh.FingerprintSHA256(f.keys["alice"].PublicKey())
	var started, finished bool
	for _, e := range events(t, f.store, f.id) {
		switch e.Kind {
		case incident.KindActionStarted:
			started = true
			if !strings.HasPrefix(e.Actor, "alice "+aliceFP+" (127.0.0.1") {
				t.Errorf("action_started actor %q: want alice, her key and address", e.Actor)
			}
		case incident.KindActionFinished:
			finished = true
		}
	}
	if !started || !finished {
		t.Fatalf("action started %v, finished %v: want both recorded", started, finished)
	}

	// A note from B shows on A's screen.
	b.keys("n")
	b.waitFor("Note for the timeline")
	b.keys("bob was here\r")
	waitEvent(t, f.store, f.id, func(e incident.Event) bool {
		return e.Kind == incident.KindNote && e.Data.Text == "bob was here" && strings.HasPrefix(e.Actor, "bob SHA256:")
	})
	a.keys("t")
	a.waitFor("bob was here")
}

func TestObserverIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.open(t, "carol")
	c.openIncident(f.id)
	before := len(events(t, f.store, f.id))
	c.keys("\r")
	c.waitFor("refused: carol signs in with an observer key")
	c.keys("n")
	c.waitFor("Note for the timeline")
	c.keys("not allowed\r")
	c.waitFor("refused: carol")
	// Reading works.
	c.keys("t")
	c.waitFor("declared")
	if after := len(events(t, f.store, f.id)); after != before {
		t.Fatalf("an observer's keys recorded %d events", after-before)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	f := newFixture(t)
	stranger, _ := newSigner(t)
	for i := 0; i < 3; i++ {
		if _, err := f.dial("mallory", stranger); err == nil {
			t.Fatal("an unknown key was let in")
		}
	}
	// Three refusals from 127.0.0.1 within the minute: even a good key
	// from that address is refused now.
	if _, err := f.dial("alice", f.keys["alice"]); err == nil {
		t.Fatal("a listed key got in from an address past its refusals")
	}
}

func TestDisconnectLeavesActionRunning(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "alice")
	a.openIncident(f.id)
	a.keys("\r")
	a.waitFor("gated step started")
	a.close() // the link drops while the action runs
	if err := os.WriteFile(f.gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st, err := f.store.Load(context.Background(), f.id)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(st.Runs); n > 0 && st.Runs[n-1].Status != "" {
			if st.Runs[n-1].Status != "ok" {
				t.Fatalf("the action ended %s after the session dropped; want ok", st.Runs[n-1].Status)
			}
			f.stop()
			log, err := os.ReadFile(filepath.Join(f.stateDir, "serve.log"))
			if err != nil || !strings.Contains(string(log), "connected: nobody") {
				t.Fatalf("serve.log: %q, %v", log, err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the action never finished after its session dropped")
}

func TestShutdownRecordsWhoWasConnected(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "alice")
	a.openIncident(f.id)
	a.keys("\r")
	a.waitFor("gated step started")
	f.stop() // as SIGTERM: the action still running is interrupted
	st, err := f.store.Load(context.Background(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.Runs); n != 1 || st.Runs[0].Status != "interrupted" {
		t.Fatalf("runs after shutdown: %+v; want the one run recorded as interrupted", st.Runs)
	}
	var note string
	for _, e := range events(t, f.store, f.id) {
		if e.Kind == incident.KindNote {
			note = e.Data.Text
		}
	}
	if !strings.Contains(note, "alice SHA256:") || !strings.Contains(note, "operator") {
		t.Fatalf("shutdown note %q: want alice and her role", note)
	}
}

func TestKeysFile(t *testing.T) {
	_, line := newSigner(t)
	for _, tc := range []struct {
		text string
		role serve.Role
		err  string
	}{
		{line + " plain", serve.Observer, ""},
		{`environment="DRBOOK_ROLE=operator" ` + line, serve.Operator, ""},
		{`no-pty,environment="DRBOOK_ROLE=observer",from="10.0.0.0/8" ` + line, serve.Observer, ""},
		{`from="10.0.*,!10.0.0.9" ` + line, serve.Observer, ""},
		{`from="jump.quantai.example" ` + line, "", "host name"},
		{`from="10.0.0.0/33" ` + line, "", "CIDR"},
		{`environment="DRBOOK_ROLE=admin" ` + line, "", "operator or observer"},
		{"ssh-ed25519 notbase64", "", "line 1"},
		{"# only a comment\n", "", "no keys"},
	} {
		keys, err := serve.ParseKeys([]byte(tc.text), "keys")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		for _, k := range keys {
			if k.Role != tc.role {
				t.Errorf("%q: role %s, want %s", tc.text, k.Role, tc.role)
			}
		}
	}
}

func TestHostKeyMadeOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hk")
	_, fp1, created, err := serve.HostKey(path)
	if err != nil || !created {
		t.Fatalf("first: created %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	_, fp2, created, err := serve.HostKey(path)
	if err != nil || created || fp1 != fp2 {
		t.Fatalf("second: created %v, fingerprint %s vs %s, %v", created, fp2, fp1, err)
	}
	os.Chmod(path, 0o644)
	if _, _, _, err := serve.HostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key: %v", err)
	}
}

// waitEvent waits until the timeline holds an event ok accepts.
func waitEvent(t testing.TB, store *incident.Store, id string, ok func(incident.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range events(t, store, id) {
			if ok(e) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the event never reached the timeline")
}

func TestMaxSessions(t *testing.T) {
	f := newFixtureCfg(t, gatedRunbook, func(c *serve.Config) { c.MaxSessions = 1 })
	a := f.open(t, "alice")
	a.waitFor("Resume " + f.id) // alice holds the one place
	b := f.open(t, "bob")
	b.waitFor("1 sessions already open (--max-sessions)")
	if err := b.sess.Wait(); err == nil {
		t.Fatal("the session over the limit exited 0")
	}
}

func TestIdleSessionClosed(t *testing.T) {
	f := newFixtureCfg(t, gatedRunbook, func(c *serve.Config) { c.IdleTimeout = 300 * time.Millisecond })
	a := f.open(t, "alice")
	a.waitFor("Resume " + f.id)
	done := make(chan error, 1)
	go func() { done <- a.sess.Wait() }()
	select {
	case <-done: // closed by the server: no keystroke came
	case <-time.After(60 * time.Second):
		t.Fatal("an idle session was never closed")
	}
}

// TestOtherProcessNoticed writes through a second store handle on the same
// database, as another drbook process on the host does (drbook step from
// a script): the screens notice it through the database.
func TestOtherProcessNoticed(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "alice")
	a.openIncident(f.id)
	other, err := incident.OpenStore(f.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	in, err := incident.Open(context.Background(), other, f.id, nil, nil,
		incident.OpenOptions{Operator: incident.Operator{Name: "script"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.SkipStep("only-phase/gated", "done from a script"); err != nil {
		t.Fatal(err)
	}
	a.waitFor("[-] Run the gated thing")
}

func TestObserverCannotStart(t *testing.T) {
	f := newFixture(t)
	c := f.open(t, "carol")
	c.waitFor("Resume " + f.id)
	before := len(events(t, f.store, f.id))
	c.keys("\x1b[B") // Start a drill
	c.keys("\r")
	c.waitFor("refused: carol signs in with an observer key")
	if after := len(events(t, f.store, f.id)); after != before {
		t.Fatalf("an observer's keys recorded %d events", after-before)
	}
	sums, err := f.store.Incidents(context.Background())
	if err != nil || len(sums) != 1 {
		t.Fatalf("incidents after an observer's start: %d, %v", len(sums), err)
	}
}

// TestKeyFrom: a key's from= option limits the addresses it may be used
// from as sshd's does (wildcards, CIDR blocks, ! to exclude).
func TestKeyFrom(t *testing.T) {
	_, line := newSigner(t)
	for _, tc := range []struct {
		from string
		yes  []string
		no   []string
	}{
		{"", []string{"10.0.0.1", "::1"}, nil},
		{"10.0.4.17", []string{"10.0.4.17"}, []string{"10.0.4.170", "10.0.4.1"}},
		{"10.0.4.*", []string{"10.0.4.17", "10.0.4.200"}, []string{"10.0.5.1"}},
		{"10.0.0.0/8,!10.9.0.0/16", []string{"10.1.2.3"}, []string{"10.9.1.1", "192.168.1.1"}},
		{"!10.0.0.1,*", []string{"127.0.0.1"}, []string{"10.0.0.1"}},
		{"fd00::/8", []string{"fd00::1"}, []string{"::1", "10.0.0.1"}},
		{"127.0.0.?", []string{"127.0.0.1"}, []string{"127.0.0.10"}},
	} {
		text := line
		if tc.from != "" {
			text = `from="` + tc.from + `" ` + line
		}
		keys, err := serve.ParseKeys([]byte(text), "keys")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		for _, k := range keys {
			for _, a := range tc.yes {
				if !k.AllowsFrom(a) {
					t.Errorf("from=%q refused %s", tc.from, a)
				}
			}
			for _, a := range tc.no {
				if k.AllowsFrom(a) {
					t.Errorf("from=%q allowed %s", tc.from, a)
				}
			}
		}
	}
}

// TestKeyOptionsEnforced: over SSH, a key whose from= leaves out the
// client's address is refused at authentication, and one with no-pty is
// told why it gets no screen; a key allowed from the address gets in.
func TestKeyOptionsEnforced(t *testing.T) {
	far, farLine := newSigner(t)
	near, nearLine := newSigner(t)
	nopty, noptyLine := newSigner(t)
	f := newFixtureCfg(t, gatedRunbook, func(c *serve.Config) {
		keys, err := serve.ParseKeys([]byte(`environment="DRBOOK_ROLE=operator",from="10.0.0.0/8" `+farLine+" far\n"+
			`environment="DRBOOK_ROLE=operator",from="127.0.0.0/8,!127.0.0.2" `+nearLine+" near\n"+
			`no-pty,environment="DRBOOK_ROLE=operator" `+noptyLine+" nopty\n"), "keys")
		if err != nil {
			t.Fatal(err)
		}
		c.Keys = keys
	})
	if _, err := f.dial("far", far); err == nil {
		t.Fatal("a key limited to 10.0.0.0/8 got in from 127.0.0.1")
	}
	f.keys["near"], f.keys["nopty"] = near, nopty
	s := f.open(t, "near")
	s.waitFor("Serve Test")
	conn, err := f.dial("nopty", nopty)
	if err != nil {
		t.Fatalf("no-pty key: %v", err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{})
	out, _ := sess.CombinedOutput("")
	if !strings.Contains(string(out), "no-pty") {
		t.Errorf("no-pty key's session said %q", out)
	}
}

// TestKeysFileReadAgain: a change to the authorized keys file takes effect
// without a restart: a removed key's session is ended with the reason and
// it cannot log in again, a new key can; a version that does not parse
// leaves the keys in force and the log says why.
func TestKeysFileReadAgain(t *testing.T) {
	alice, aliceLine := newSigner(t)
	dave, daveLine := newSigner(t)
	path := filepath.Join(t.TempDir(), "team_keys")
	write := func(text string) {
		t.Helper()
		// A new modification time even on a coarse clock: the size
		// changes too, which is enough.
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`environment="DRBOOK_ROLE=operator" ` + aliceLine + " alice\n")
	var logMu sync.Mutex
	var logBuf bytes.Buffer
	f := newFixtureCfg(t, gatedRunbook, func(c *serve.Config) {
		keys, err := serve.LoadKeys(path)
		if err != nil {
			t.Fatal(err)
		}
		c.Keys, c.KeysFile = keys, path
		c.Log = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logBuf.Write(p) })
	})
	logText := func() string { logMu.Lock(); defer logMu.Unlock(); return logBuf.String() }
	f.keys["alice"], f.keys["dave"] = alice, dave
	if _, err := f.dial("dave", dave); err == nil {
		t.Fatal("dave got in before his key was added")
	}
	a := f.open(t, "alice")
	a.waitFor("Serve Test")

	write(`environment="DRBOOK_ROLE=observer" ` + daveLine + " dave\n# alice left the team\n")
	a.waitFor("session ended: its key was removed from the authorized keys")
	if _, err := f.dial("alice", alice); err == nil {
		t.Error("alice got in after her key was removed")
	}
	d := f.open(t, "dave")
	d.waitFor("Serve Test")

	write("this is not a key\n")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logText(), "line 1: not an authorized key") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logText(), "keys read before stay in force") {
		t.Fatalf("a bad keys file was not reported:\n%s", logText())
	}
	if c, err := f.dial("dave", dave); err != nil {
		t.Errorf("dave refused after a bad edit of the keys file: %v", err)
	} else {
		c.Close()
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
