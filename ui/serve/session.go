package serve

import (
	"context"
	"fmt"
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/ui"
)

// hub tells every screen on an incident that it changed. Each screen has
// a one-slot mailbox: a burst of events costs a screen one reread, and a
// slow screen never holds up the session that wrote.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[*client]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[*client]struct{}{}} }

func (h *hub) subscribe(id string, c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for other, set := range h.subs { // a screen follows one incident
		delete(set, c)
		if len(set) == 0 {
			delete(h.subs, other)
		}
	}
	if h.subs[id] == nil {
		h.subs[id] = map[*client]struct{}{}
	}
	h.subs[id][c] = struct{}{}
}

func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, set := range h.subs {
		delete(set, c)
		if len(set) == 0 {
			delete(h.subs, id)
		}
	}
}

// publish wakes every screen on incident id.
func (h *hub) publish(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs[id] {
		c.wake()
	}
}

// watched returns the incidents some screen shows.
func (h *hub) watched() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	return ids
}

// client is one SSH session: who it is and its screen.
type client struct {
	op    incident.Operator
	key   Key
	user  string
	addr  string
	since string

	mu   sync.Mutex
	runs *ui.Runs // the actions this session started; they outlive it
	inc  string   // the incident on screen, "" on the home screen
	mail chan struct{}
	done chan struct{}
	// end closes the SSH session with a message; endWhy is why (under
	// the server's mu).
	end    func(msg string)
	endWhy string
}

// wake asks the client's screen to reread its incident.
func (c *client) wake() {
	select {
	case c.mail <- struct{}{}:
	default: // a reread is already due
	}
}

// deliver forwards wake-ups to the program until the session ends.
func (c *client) deliver(p *tea.Program) {
	for {
		select {
		case <-c.done:
			return
		case <-c.mail:
			p.Send(ui.RefreshMsg{})
		}
	}
}

// backend is the home screen's Backend for one SSH session: the engine's,
// with the session's operator as the actor, sessions attached rather
// than resumed while this process already runs the incident, and every
// change announced to the other screens.
type backend struct {
	s     *Server
	c     *client
	cfg   ui.EngineConfig
	inner ui.Backend
}

func (b *backend) Home(ctx context.Context) (ui.HomeData, error) { return b.inner.Home(ctx) }

func (b *backend) Start(ctx context.Context, spec ui.StartSpec, progress func(string)) (ui.Session, error) {
	if b.c.key.Role != Operator {
		return nil, b.s.refusal(b.c)
	}
	sess, err := b.inner.Start(ctx, spec, progress)
	if err != nil {
		return nil, err
	}
	return b.share(sess), nil
}

func (b *backend) Open(ctx context.Context, id string) (ui.Session, error) {
	if b.c.key.Role != Operator {
		sess, err := ui.NewFollowSession(ctx, b.cfg, id)
		if err != nil {
			return nil, err
		}
		st, err := sess.State()
		if err != nil {
			return nil, err
		}
		b.s.attach(b.c, st.ID, st.LastSeq)
		return &observerSession{Session: sess, err: b.s.refusal(b.c)}, nil
	}
	full, err := b.cfg.Store.Resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	sess, err := ui.AttachSession(ctx, b.cfg, full, b.s.firstOpen(full))
	if err != nil {
		return nil, err
	}
	return b.share(sess), nil
}

// share wraps an operator's session so that its writes are announced.
func (b *backend) share(sess ui.Session) ui.Session {
	r, ok := sess.(ui.Refresher)
	if !ok {
		return sess
	}
	id := r.IncidentID()
	var seq int64
	if st, err := sess.State(); err == nil {
		seq = st.LastSeq
	}
	b.s.attach(b.c, id, seq)
	return &sharedSession{Session: sess, r: r, id: id, hub: b.s.hub, ctx: b.s.ctx}
}

// sharedSession is an operator's session: it catches up with the other
// writers before every read and announces its own writes.
type sharedSession struct {
	ui.Session
	r   ui.Refresher
	id  string
	hub *hub
	ctx context.Context
}

func (s *sharedSession) State() (*incident.State, error) {
	if _, err := s.r.Refresh(s.ctx); err != nil {
		return nil, err
	}
	return s.Session.State()
}

func (s *sharedSession) wrote(err error) error {
	s.hub.publish(s.id)
	return err
}

func (s *sharedSession) RunStep(ctx context.Context, stepID string, confirmed bool, emit steps.Emit) (incident.StepOutcome, error) {
	// The action_started event is written before the action's first
	// output: announce it then; a silent action is caught by the watcher.
	var once sync.Once
	res, err := s.Session.RunStep(ctx, stepID, confirmed, func(e steps.Event) {
		once.Do(func() { s.hub.publish(s.id) })
		if emit != nil {
			emit(e)
		}
	})
	return res, s.wrote(err)
}
func (s *sharedSession) Ack(id string) error          { return s.wrote(s.Session.Ack(id)) }
func (s *sharedSession) Done(id, note string) error   { return s.wrote(s.Session.Done(id, note)) }
func (s *sharedSession) Skip(id, reason string) error { return s.wrote(s.Session.Skip(id, reason)) }
func (s *sharedSession) Fail(id, reason string) error { return s.wrote(s.Session.Fail(id, reason)) }
func (s *sharedSession) Note(text string) error       { return s.wrote(s.Session.Note(text)) }
func (s *sharedSession) SetSeverity(n int, why string) error {
	return s.wrote(s.Session.SetSeverity(n, why))
}
func (s *sharedSession) Close(o incident.Outcome, summary string) error {
	return s.wrote(s.Session.Close(o, summary))
}

// SetVars passes secret variables on to the engine's session.
func (s *sharedSession) SetVars(vars map[string]string) {
	if v, ok := s.Session.(interface{ SetVars(map[string]string) }); ok {
		v.SetVars(vars)
	}
}

// observerSession reads the incident from the store and refuses every
// change with the server's reason: the screen shows the refusal, and
// nothing reaches the timeline. It does not call itself read-only, so the
// screen passes every key on and the refusal is the server's.
type observerSession struct {
	ui.Session
	err error
}

func (o *observerSession) ReadOnly() bool { return false }
func (o *observerSession) RunStep(context.Context, string, bool, steps.Emit) (incident.StepOutcome, error) {
	return incident.StepOutcome{}, o.err
}
func (o *observerSession) Ack(string) error                     { return o.err }
func (o *observerSession) Done(string, string) error            { return o.err }
func (o *observerSession) Skip(string, string) error            { return o.err }
func (o *observerSession) Fail(string, string) error            { return o.err }
func (o *observerSession) Note(string) error                    { return o.err }
func (o *observerSession) SetSeverity(int, string) error        { return o.err }
func (o *observerSession) Close(incident.Outcome, string) error { return o.err }
func (o *observerSession) Runbook() *runbook.Runbook            { return o.Session.Runbook() }

// refusal is the error an observer's change gets.
func (s *Server) refusal(c *client) error {
	return fmt.Errorf("refused: %s signs in with an observer key (%s): observers read, operators act", c.user, c.key.Fingerprint)
}
