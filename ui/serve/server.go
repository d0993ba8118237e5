package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/ui"
)

// Config configures a server.
type Config struct {
	// Engine is the shared state: one store, the runbooks, --live and
	// --root. Its Operator is replaced by each session's.
	Engine ui.EngineConfig
	Keys   Keys
	// KeysFile, when set, is the file Keys were read from: a change to it
	// is read again (see keyring), and a connected session whose key it
	// no longer lists, or lists with another role or without the
	// session's address, is ended.
	KeysFile string
	// HostKeyPEM is the server's private host key.
	HostKeyPEM  []byte
	MaxSessions int // 0: 16
	// IdleTimeout ends a session when no keystroke came for this long
	// (screen redraws and SSH keep-alives do not count); 0: never.
	IdleTimeout time.Duration
	// AuthFailures refused keys from one address within AuthWindow make
	// the server refuse that address until the window has passed.
	AuthFailures int           // 0: 20
	AuthWindow   time.Duration // 0: one minute
	// Watch is how often the incidents on screen are checked for events
	// written by other drbook processes; 0: 250ms.
	Watch   time.Duration
	NoColor bool
	// Log receives one line per connection, refusal and shutdown.
	Log io.Writer
	Now func() time.Time
}

// Server is drbook serve.
type Server struct {
	cfg  Config
	ctx  context.Context
	srv  *ssh.Server
	hub  *hub
	lim  *authLimiter
	keys *keyring
	logm sync.Mutex

	mu      sync.Mutex
	clients map[*client]struct{}
	resumed map[string]bool
	seen    map[string]int64 // last seq seen per watched incident
	gone    []*client        // sessions that ended, whose runs may go on
}

// New returns a server for cfg; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Engine.Store == nil {
		return nil, errors.New("serve: no state store")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("serve: no authorized keys")
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 16
	}
	if cfg.AuthFailures <= 0 {
		cfg.AuthFailures = 20
	}
	if cfg.AuthWindow <= 0 {
		cfg.AuthWindow = time.Minute
	}
	if cfg.Watch <= 0 {
		cfg.Watch = 250 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pinRenderer(cfg.NoColor)
	s := &Server{cfg: cfg, hub: newHub(), lim: newAuthLimiter(cfg.AuthFailures, cfg.AuthWindow, cfg.Now), keys: newKeyring(cfg.Keys, cfg.KeysFile),
		clients: map[*client]struct{}{}, resumed: map[string]bool{}, seen: map[string]int64{}}
	srv, err := wish.NewServer(
		wish.WithHostKeyPEM(cfg.HostKeyPEM),
		wish.WithPublicKeyAuth(s.auth),
		ssh.EmulatePty(),
		wish.WithMiddleware(
			bm.MiddlewareWithProgramHandler(s.program, termenv.Ascii),
			s.admit,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	srv.ConnCallback = func(_ ssh.Context, conn net.Conn) net.Conn {
		if s.lim.blocked(hostOf(conn.RemoteAddr())) {
			s.logf("refused %s: too many refused keys", conn.RemoteAddr())
			conn.Close()
			return nil
		}
		return conn
	}
	s.srv = srv
	return s, nil
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func (s *Server) logf(format string, args ...any) {
	s.logm.Lock()
	defer s.logm.Unlock()
	fmt.Fprintf(s.cfg.Log, "drbook serve: "+format+"\n", args...)
}

// auth accepts a listed key unless its address has used up its refusals.
func (s *Server) auth(ctx ssh.Context, key ssh.PublicKey) bool {
	host := hostOf(ctx.RemoteAddr())
	if s.lim.blocked(host) {
		return false
	}
	if k, ok := s.currentKeys().Lookup(key); ok {
		if k.AllowsFrom(host) {
			return true
		}
		s.lim.fail(host)
		s.logf("refused key %s for %s from %s: its from=%q does not allow this address", k.Fingerprint, ctx.User(), host, strings.Join(k.From, ","))
		return false
	}
	s.lim.fail(host)
	s.logf("refused key %s for %s from %s: not in the authorized keys", gossh.FingerprintSHA256(key), ctx.User(), host)
	return false
}

// Serve accepts sessions on ln until ctx is cancelled, then shuts down:
// it records who was connected (a note on every incident a session had
// open, and a line in STATE_DIR/serve.log), closes every session and
// waits for the actions they started to be cancelled and recorded.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.ctx = ctx
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	go s.watch(ctx)
	select {
	case err := <-errc:
		s.stop("the listener failed")
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	err := s.stop("drbook serve stopped")
	<-errc
	return err
}

// currentKeys returns the authorized keys in force. When the keys file
// changed, the sessions it no longer admits as they are are ended.
func (s *Server) currentKeys() Keys {
	keys, changed := s.keys.current(s.logf)
	if !changed {
		return keys
	}
	s.mu.Lock()
	var ended []*client
	for c := range s.clients {
		k, ok := keys[c.key.Fingerprint]
		var why string
		switch {
		case !ok:
			why = "its key was removed from the authorized keys"
		case k.Role != c.key.Role:
			why = "its key's role is now " + string(k.Role) + "; connect again"
		case !k.AllowsFrom(c.addr):
			why = "its key's from= no longer allows " + c.addr
		}
		if why != "" && c.end != nil {
			ended = append(ended, c)
			c.endWhy = why
		}
	}
	s.mu.Unlock()
	for _, c := range ended {
		s.logf("ended %s: %s", c.op, c.endWhy)
		c.end("drbook serve: session ended: " + c.endWhy)
	}
	return keys
}

// watch notices events written by other drbook processes on the host (a
// script's drbook note, a local TUI): one small query per incident on
// screen per tick, and the screens on it reread when it grew.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.Watch)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.currentKeys()
		for _, id := range s.hub.watched() {
			s.mu.Lock()
			last := s.seen[id]
			s.mu.Unlock()
			evs, err := s.cfg.Engine.Store.EventsAfter(ctx, id, last)
			if err != nil || len(evs) == 0 {
				continue
			}
			s.mu.Lock()
			s.seen[id] = evs[len(evs)-1].Seq
			s.mu.Unlock()
			s.hub.publish(id)
		}
	}
}

// firstOpen reports whether id is opened for the first time by this
// process: that open resumes it (recording the resume and marking an
// action a dead process left running as interrupted); later ones attach.
func (s *Server) firstOpen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.resumed[id]
	s.resumed[id] = true
	return first
}

// attach puts c's screen on incident id, whose timeline it has read up to
// seq: the watcher looks for events after that.
func (s *Server) attach(c *client, id string, seq int64) {
	c.mu.Lock()
	c.inc = id
	c.mu.Unlock()
	s.mu.Lock()
	if s.seen[id] == 0 {
		s.seen[id] = seq
	}
	s.mu.Unlock()
	s.hub.subscribe(id, c)
	s.logf("%s opened %s", c.op, id)
}

// admit runs before the screen: it needs a terminal, a free place under
// --max-sessions and a listed key; it registers the session and, when
// the screen has gone, lets its actions go on without it.
func (s *Server) admit(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		key, ok := s.currentKeys().Lookup(sess.PublicKey())
		if !ok { // auth let it in: cannot happen, refuse anyway
			wish.Fatalln(sess, "drbook serve: unknown key")
			return
		}
		if key.NoPTY {
			s.logf("refused %s for %s: the key has no-pty, and drbook serve is a terminal program", key.Fingerprint, sess.User())
			wish.Fatalln(sess, "drbook serve: this key has no-pty in the authorized keys, and drbook serve needs a terminal")
			return
		}
		if _, _, ok := sess.Pty(); !ok {
			wish.Fatalln(sess, "drbook serve needs a terminal: ssh -t")
			return
		}
		addr := hostOf(sess.RemoteAddr())
		c := &client{key: key, user: sess.User(), addr: addr, since: s.cfg.Now().UTC().Format("15:04:05Z"),
			op:   incident.Operator{Name: sess.User() + " " + key.Fingerprint, Addr: addr},
			runs: &ui.Runs{}, mail: make(chan struct{}, 1), done: make(chan struct{})}
		c.end = func(msg string) {
			fmt.Fprintln(sess.Stderr(), "\r\n"+msg+"\r")
			sess.Exit(1)
			sess.Close()
		}
		s.mu.Lock()
		full := len(s.clients) >= s.cfg.MaxSessions
		if !full {
			s.clients[c] = struct{}{}
		}
		s.mu.Unlock()
		if full {
			s.logf("refused %s: %d sessions open (--max-sessions)", c.op, s.cfg.MaxSessions)
			wish.Fatalf(sess, "drbook serve: %d sessions already open (--max-sessions); try again later\n", s.cfg.MaxSessions)
			return
		}
		sess.Context().SetValue(clientKey{}, c)
		s.logf("%s connected as %s", c.op, key.Role)
		defer func() {
			close(c.done)
			s.hub.unsubscribe(c)
			// The screen is gone; an action it started goes on and is
			// recorded, without waiting for anyone to read its output.
			c.runs.Detach()
			s.mu.Lock()
			delete(s.clients, c)
			s.gone = append(s.gone, c)
			s.mu.Unlock()
			s.logf("%s disconnected", c.op)
		}()
		next(sess)
	}
}

type clientKey struct{}

// program builds one session's screen.
func (s *Server) program(sess ssh.Session) *tea.Program {
	c, _ := sess.Context().Value(clientKey{}).(*client)
	if c == nil {
		return nil
	}
	pty, _, _ := sess.Pty()
	env := map[string]string{}
	for _, kv := range sess.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	env["TERM"] = pty.Term
	cfg := s.cfg.Engine
	cfg.Operator = c.op
	b := &backend{s: s, c: c, cfg: cfg, inner: ui.NewBackend(cfg)}
	m := ui.New(ui.Options{Backend: b, Live: cfg.Live, Runs: c.runs, Ctx: s.ctx, NoColor: s.cfg.NoColor,
		Getenv: func(k string) string { return env[k] }})
	var in io.Reader = sess
	if d := s.cfg.IdleTimeout; d > 0 {
		t := time.AfterFunc(d, func() {
			s.logf("%s: no keystroke for %s: closed", c.op, d)
			sess.Close()
		})
		go func() { <-c.done; t.Stop() }()
		in = &idleReader{r: sess, t: t, d: d}
	}
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(sess), tea.WithAltScreen())
	go c.deliver(p)
	return p
}

var pinOnce sync.Once

// pinRenderer pins the global renderer (bubbles' default styles use it) so
// nothing asks a terminal for its colours: there is no terminal, only
// sessions.
func pinRenderer(noColor bool) {
	pinOnce.Do(func() {
		p := termenv.ANSI
		if noColor {
			p = termenv.Ascii
		}
		lipgloss.SetColorProfile(p)
		lipgloss.SetHasDarkBackground(true)
	})
}

// stop records who was connected, closes every session and waits for
// their actions.
func (s *Server) stop(why string) error {
	s.mu.Lock()
	var who []*client
	for c := range s.clients {
		who = append(who, c)
	}
	s.mu.Unlock()
	sort.Slice(who, func(i, j int) bool { return who[i].op.String() < who[j].op.String() })
	byInc := map[string][]string{}
	var all []string
	for _, c := range who {
		line := fmt.Sprintf("%s (%s, since %s)", c.op, c.key.Role, c.since)
		all = append(all, line)
		c.mu.Lock()
		id := c.inc
		c.mu.Unlock()
		if id != "" {
			byInc[id] = append(byInc[id], line)
		}
	}
	var errs []error
	for id, lines := range byInc {
		errs = append(errs, s.note(id, why+"; connected: "+strings.Join(lines, "; ")))
	}
	errs = append(errs, s.logFile(why, all))
	s.logf("%s; %d connected", why, len(who))
	s.srv.Close()
	// The server's context is cancelled: every action is being
	// interrupted; wait until each is recorded.
	s.mu.Lock()
	clients := append([]*client{}, s.gone...)
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.runs.CancelAndWait()
	}
	return errors.Join(errs...)
}

// note records a note on incident id as drbook serve itself.
func (s *Server) note(id, text string) error {
	in, err := incident.Open(context.Background(), s.cfg.Engine.Store, id, nil, s.cfg.Engine.Clock,
		incident.OpenOptions{Operator: incident.Operator{Name: "drbook serve"}})
	if err != nil {
		if errors.Is(err, incident.ErrClosed) {
			return nil
		}
		return fmt.Errorf("note on %s: %w", id, err)
	}
	if err := in.Note(text); err != nil {
		return fmt.Errorf("note on %s: %w", id, err)
	}
	return nil
}

// logFile appends the shutdown line to STATE_DIR/serve.log.
func (s *Server) logFile(why string, who []string) error {
	if s.cfg.Engine.StateDir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.cfg.Engine.StateDir, "serve.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("serve log: %w", err)
	}
	line := s.cfg.Now().UTC().Format(time.RFC3339) + " " + why + "; connected: "
	if len(who) == 0 {
		line += "nobody"
	} else {
		line += strings.Join(who, "; ")
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("serve log: %w", err)
	}
	return nil
}

// idleReader restarts the idle timer on every keystroke.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}
