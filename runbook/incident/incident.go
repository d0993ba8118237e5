package incident

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// DeclareOptions describe a new incident.
type DeclareOptions struct {
	ID         string // "" generates INC-YYYYMMDD-HHMM-xxxx (DRILL-... for drills)
	Severity   int    // 1, 2 or 3; 0 takes the runbook's default, else 2
	Mode       Mode   // Live or Drill; "" is Live
	Title      string // "" takes the runbook's title
	Operator   Operator
	DetectedAt time.Time // zero: now; earlier than now backdates the clocks
	Root       string    // the system root (a sandbox in drills); its .env values are secrets
	Scenario   string    // drill: the injected fault
	DrillTest  string    // drill: the scheduled test it counts as (Tests); "" guesses from the runbook
	Speed      float64   // drill speed factor: 60 makes one real minute one hour
	Impact     string    // business impact, for the notification template
	// Vars are the runbook variables' values; secret ones are recorded as
	// [REDACTED] and redacted from everything recorded later.
	Vars map[string]string
	// Secrets are further values never to record (passphrases...).
	Secrets []string
}

// OpenOptions say who opens an incident and why.
type OpenOptions struct {
	Operator Operator
	// Resume records a resumed event and marks an action that was running
	// when its process died as interrupted (it is never run again on its
	// own). Leave it false to attach for one scripted change (drbook step,
	// note, close) while a TUI may be running the incident elsewhere.
	Resume bool
	// Secrets are values never to record (passphrases, secret variables).
	Secrets []string
	// Review opens a closed incident too, for what follows the close
	// (findings, sign-offs); every change that needs an open incident is
	// still refused by its own check.
	Review bool
}

// Incident is an open incident. Every mutation appends its event(s) to the
// store durably before returning; the in-memory state is only ever changed
// by applying those events. It is safe for concurrent use.
type Incident struct {
	mu     sync.Mutex
	store  *Store
	rb     *runbook.Runbook
	base   Clock // real (or test) clock
	clock  Clock // incident clock: base, scaled in drills
	actor  Operator
	state  *State
	redact *redactor
	sender Sender // the site's notification channels; nil: none
}

// Declare records a new incident running rb and returns it.
func Declare(ctx context.Context, store *Store, rb *runbook.Runbook, opts DeclareOptions, clock Clock) (*Incident, error) {
	if rb == nil {
		return nil, fmt.Errorf("declare: %w", ErrNoRunbook)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	now := clock.Now().UTC()
	mode := opts.Mode
	if mode == "" {
		mode = Live
	}
	if mode != Live && mode != Drill {
		return nil, fmt.Errorf("declare: mode %q: want live or drill", mode)
	}
	sev := opts.Severity
	if sev == 0 {
		sev = rb.Severity
	}
	if sev == 0 {
		sev = 2
	}
	if sev < 1 || sev > 3 {
		return nil, fmt.Errorf("declare: severity %d: want 1, 2 or 3", sev)
	}
	if opts.Speed < 0 || opts.Speed != 0 && opts.Speed != 1 && mode != Drill {
		return nil, fmt.Errorf("declare: a speed factor is only for drills (got %g)", opts.Speed)
	}
	detected := opts.DetectedAt.UTC()
	if detected.IsZero() {
		detected = now
	}
	if detected.After(now) {
		return nil, fmt.Errorf("declare: detected-at %s is in the future", detected.Format(time.RFC3339))
	}
	test := opts.DrillTest
	if mode == Drill && test == "" {
		test = TestFor(rb.ID)
	}
	if test != "" {
		if _, ok := lookupTest(test); !ok {
			return nil, fmt.Errorf("declare: unknown scheduled test %q (see 'drbook drills')", test)
		}
		if mode != Drill {
			return nil, fmt.Errorf("declare: a scheduled test is recorded only for drills")
		}
	}
	id := opts.ID
	if id == "" {
		id = newID(mode, now)
	}
	title := opts.Title
	if title == "" {
		title = rb.Title
	}
	rd := &redactor{}
	rd.add(opts.Secrets...)
	rd.add(EnvSecrets(opts.Root)...)
	rd.add(PassphraseSecrets(opts.Vars, os.Getenv)...)
	var vars map[string]string
	if len(opts.Vars) > 0 {
		vars = make(map[string]string, len(opts.Vars))
		secret := map[string]bool{}
		for _, v := range rb.Vars {
			secret[v.Name] = v.Secret
		}
		for k, v := range opts.Vars {
			if secret[k] {
				rd.add(v)
				v = Redacted
			}
			vars[k] = v
		}
	}
	decl := &Declaration{
		Title: title, Severity: sev, Mode: mode, Operator: opts.Operator,
		DeclaredAt: now, DetectedAt: detected, Root: opts.Root, Scenario: opts.Scenario,
		DrillTest: test, Impact: opts.Impact, Vars: vars, Runbook: Snapshot(rb),
	}
	if mode == Drill && opts.Speed != 0 && opts.Speed != 1 {
		decl.Speed = opts.Speed
	}
	in := &Incident{store: store, rb: rb, base: clock, clock: Scaled(clock, now, decl.Speed),
		actor: opts.Operator, redact: rd, state: &State{}}
	ev := Event{Kind: KindDeclared, At: now, Actor: opts.Operator.String(), Data: EventData{Declared: decl}}
	rd.data(&ev.Data)
	evs, err := store.append(context.WithoutCancel(ctx), id, 0, func([]Event) error {
		return fmt.Errorf("an incident with id %s exists", id)
	}, func() ([]Event, error) { return []Event{ev}, nil })
	if err != nil {
		return nil, fmt.Errorf("declare: %w", err)
	}
	in.state.apply(&evs[0])
	return in, nil
}

func newID(mode Mode, now time.Time) string {
	b := make([]byte, 2)
	rand.Read(b)
	prefix := "INC"
	if mode == Drill {
		prefix = "DRILL"
	}
	return fmt.Sprintf("%s-%s-%s", prefix, now.UTC().Format("20060102-1504"), hex.EncodeToString(b))
}

// Snapshot records the structure of rb an incident needs: objectives,
// response times (plan defaults unless overridden), the RTO phase, phases
// with windows and steps with their kinds and actions.
func Snapshot(rb *runbook.Runbook) RunbookSnapshot {
	s := RunbookSnapshot{ID: rb.ID, Title: rb.Title, Source: rb.Source, SHA256: rb.SHA256,
		RTO: rb.Objectives.RTO, RPO: rb.Objectives.RPO, MTD: rb.Objectives.MTD,
		Response: map[int]time.Duration{}}
	for k, v := range DefaultResponse {
		s.Response[k] = v
	}
	for k, v := range rb.Response {
		s.Response[k] = v
	}
	for _, p := range rb.Phases {
		ps := PhaseSnapshot{ID: p.ID, Title: p.Title, Start: p.Window.Start, End: p.Window.End, HasWindow: p.Window.Set}
		for _, st := range p.Steps {
			ss := StepSnapshot{ID: st.ID, Title: st.Title, Kind: string(st.Kind), Destructive: st.Destructive()}
			ss.Action = actionName(st)
			if a, ok := steps.Lookup(ss.Action); ok && a.Spec().Destructive && ss.Action != "" {
				ss.Destructive = true
			}
			ps.Steps = append(ps.Steps, ss)
		}
		s.Phases = append(s.Phases, ps)
	}
	s.RTOPhase = ""
	if p := rb.RTOStop(); p != nil {
		s.RTOPhase = p.ID
	}
	return s
}

// actionName is the action a step runs: shell, sql, or its drbook block's.
func actionName(st *runbook.Step) string {
	switch st.Kind {
	case runbook.KindShell:
		return steps.ShellAction
	case runbook.KindSQL:
		return steps.SQLAction
	case runbook.KindAction:
		if st.Block != nil {
			return st.Block.Action
		}
	}
	return ""
}

// Open reopens an open incident from its timeline. rb is the runbook it
// runs, needed only by RunStep; it may be nil. A closed incident is refused
// with ErrClosed (use Store.Load to read it).
func Open(ctx context.Context, store *Store, id string, rb *runbook.Runbook, clock Clock, opts OpenOptions) (*Incident, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	st, err := store.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Status != StatusOpen && (!opts.Review || opts.Resume) {
		return nil, &Error{Err: ErrClosed, Detail: fmt.Sprintf("%s was %s at %s", id, st.Status, st.ClosedAt.Format(time.RFC3339)),
			Advice: "read it with 'drbook report " + id + "' or 'drbook timeline " + id + "'"}
	}
	if rb != nil && rb.ID != st.Declaration.Runbook.ID {
		return nil, fmt.Errorf("open %s: it runs runbook %q, not %q", id, st.Declaration.Runbook.ID, rb.ID)
	}
	d := st.Declaration
	rd := &redactor{}
	rd.add(opts.Secrets...)
	rd.add(EnvSecrets(d.Root)...)
	rd.add(PassphraseSecrets(nil, os.Getenv)...)
	in := &Incident{store: store, rb: rb, base: clock, clock: Scaled(clock, d.DeclaredAt, d.Speed),
		actor: opts.Operator, redact: rd, state: st}
	in.syncClock()
	if !opts.Resume {
		return in, nil
	}
	host, _ := os.Hostname()
	err = in.record(ctx, func(st *State) ([]Event, error) {
		now := in.clock.Now()
		ev := Event{Kind: KindResumed, At: now, Data: EventData{Host: host, PID: os.Getpid()}}
		// A sped-up drill's clock runs only while someone attends it: it
		// restarts from the last event, and the time away is recorded,
		// not counted (9 real minutes away at 60x are not 9 drill hours).
		if c, ok := in.clock.(*anchoredClock); ok && !st.LastEvent.IsZero() && now.After(st.LastEvent) {
			real := in.base.Now()
			away := now.Sub(st.LastEvent)
			now = st.LastEvent
			c.anchor(real, now)
			ev.At, ev.Data.ClockReal = now, &real
			ev.Data.Reason = fmt.Sprintf("drill clock (%gx) stopped while nobody attended: %s real away, %s of drill time not counted",
				d.Speed, FormatDuration(time.Duration(float64(away)/d.Speed)), FormatDuration(away))
		}
		evs := []Event{ev}
		for _, r := range st.Runs {
			if r.FinishedAt.IsZero() && r.Status == "" && !stillRunning(st, r.Step, host) {
				evs = append(evs, Event{Kind: KindActionInterrupted, At: now, Step: r.Step, Data: EventData{Action: r.Action,
					Reason: "drbook stopped while " + r.Action + " ran; it was not run again: check its effect, then run, skip or fail the step"}})
			}
		}
		return evs, nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// ID returns the incident's id.
func (in *Incident) ID() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state.ID
}

// Now returns the incident's time: the clock, sped up in a drill.
func (in *Incident) Now() time.Time { return in.clock.Now() }

// Runbook returns the runbook the incident was opened with (may be nil).
func (in *Incident) Runbook() *runbook.Runbook { return in.rb }

// State returns a snapshot of the incident's state.
func (in *Incident) State() *State {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state.clone()
}

// Clocks returns the clocks now.
func (in *Incident) Clocks() Clocks {
	st := in.State()
	return st.Clocks(in.Now())
}

// AddSecrets adds values to redact from everything recorded from now on,
// such as a passphrase the operator just typed.
func (in *Incident) AddSecrets(values ...string) { in.redact.add(values...) }

// Redact returns s with the incident's known secrets replaced by [REDACTED].
func (in *Incident) Redact(s string) string { return in.redact.string(s) }

// Refresh applies events appended by other processes (drbook note from a
// script, another terminal) and reports whether there were any. The TUI
// polls it for resume --follow.
func (in *Incident) Refresh(ctx context.Context) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if stale, err := in.store.stale(ctx, in.state.ID, in.state.LastSeq, in.state.LastHash); err != nil {
		return false, err
	} else if stale {
		return true, in.reloadLocked(ctx)
	}
	evs, err := in.store.EventsAfter(ctx, in.state.ID, in.state.LastSeq)
	if err != nil {
		return false, err
	}
	for i := range evs {
		in.state.apply(&evs[i])
	}
	in.syncClockLocked()
	return len(evs) > 0, nil
}

// syncClock anchors a sped-up drill's clock where the timeline's last
// resume put it, so every process that opens the drill tells the same time.
func (in *Incident) syncClock() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.syncClockLocked()
}

func (in *Incident) syncClockLocked() {
	if c, ok := in.clock.(*anchoredClock); ok && !in.state.ClockReal.IsZero() {
		c.anchor(in.state.ClockReal, in.state.ClockAt)
	}
}

// record appends the events build returns (plus the phase and RTO events
// they imply), durably, then applies them. build sees the state caught up
// with every event already stored.
func (in *Incident) record(ctx context.Context, build func(st *State) ([]Event, error)) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.recordLocked(ctx, build, false)
}

func (in *Incident) recordLocked(ctx context.Context, build func(st *State) ([]Event, error), retried bool) error {
	evs, err := in.store.appendAfter(context.WithoutCancel(ctx), in.state.ID, in.state.LastSeq, in.state.LastHash,
		func(newer []Event) error {
			for i := range newer {
				in.state.apply(&newer[i])
			}
			in.syncClockLocked()
			return nil
		},
		func() ([]Event, error) {
			evs, err := build(in.state)
			if err != nil {
				return nil, err
			}
			evs = implied(in.state, evs)
			actor := in.actor.String()
			for i := range evs {
				if evs[i].Actor == "" {
					evs[i].Actor = actor
				}
				in.redact.data(&evs[i].Data)
			}
			return evs, nil
		})
	if errors.Is(err, errStale) && !retried {
		// A replication rebase re-sequenced the timeline under us: start
		// again from the stored timeline.
		if err := in.reloadLocked(ctx); err != nil {
			return err
		}
		return in.recordLocked(ctx, build, true)
	}
	if err != nil {
		return err
	}
	for i := range evs {
		in.state.apply(&evs[i])
	}
	return nil
}

// implied adds the events that evs imply: a phase starts with its first
// step, completes when its last open step closes, and the RTO clock stops
// when the RTO phase completes.
func implied(st *State, evs []Event) []Event {
	tmp := st.clone()
	var out []Event
	add := func(ev Event) {
		out = append(out, ev)
		tmp.apply(&ev)
	}
	rtoCheck := func(phase string, at time.Time) {
		d := tmp.Declaration.Runbook
		if phase == d.RTOPhase && tmp.RTOStopped.IsZero() {
			add(Event{Kind: KindRTOStopped, At: at, Phase: phase, Data: EventData{Met: metWithin(d.RTO, at.Sub(tmp.Start()))}})
		}
	}
	for _, ev := range evs {
		var p *PhaseState
		if ev.Step != "" {
			if s := tmp.Step(ev.Step); s != nil {
				p = tmp.Phase(s.Phase)
			}
		}
		if p != nil && p.StartedAt.IsZero() && ev.Kind != KindActionInterrupted {
			add(Event{Kind: KindPhaseStarted, At: ev.At, Phase: p.ID})
		}
		add(ev)
		switch ev.Kind {
		case KindStepDone, KindStepSkipped:
			if p != nil && p.CompletedAt.IsZero() {
				all := true
				for _, s := range p.Steps {
					all = all && s.Status.Closed()
				}
				if all {
					add(Event{Kind: KindPhaseCompleted, At: ev.At, Phase: p.ID})
					rtoCheck(p.ID, ev.At)
				}
			}
		case KindPhaseCompleted:
			rtoCheck(ev.Phase, ev.At)
		}
	}
	return out
}

func metWithin(objective, took time.Duration) *bool {
	if objective <= 0 {
		return nil
	}
	b := took <= objective
	return &b
}

func (in *Incident) findStep(st *State, id string) (*StepState, error) {
	s := st.Step(id)
	if s == nil {
		return nil, &Error{Err: ErrUnknownStep, Detail: id, Advice: "step ids are listed by 'drbook show " + st.Declaration.Runbook.ID + "'"}
	}
	return s, nil
}

func checkOpen(st *State) error {
	if st.Status != StatusOpen {
		return &Error{Err: ErrClosed, Detail: st.ID + " is " + string(st.Status)}
	}
	return nil
}

// StartStep marks a step running. A failed or interrupted step may be
// started again; a done or skipped one may not.
func (in *Incident) StartStep(stepID string) error {
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		s, err := in.findStep(st, stepID)
		if err != nil {
			return nil, err
		}
		switch s.Status {
		case StepRunning:
			return nil, nil // already running: nothing to record
		case StepDone, StepSkipped:
			return nil, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s is %s", stepID, s.Status)}
		}
		return []Event{{Kind: KindStepStarted, At: in.clock.Now(), Step: stepID}}, nil
	})
}

func (in *Incident) closeStep(kind Kind, stepID, text string, needReason bool) error {
	text = strings.TrimSpace(text)
	if needReason && text == "" {
		return &Error{Err: ErrReasonRequired, Detail: "step " + stepID, Advice: "say why with --reason"}
	}
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		s, err := in.findStep(st, stepID)
		if err != nil {
			return nil, err
		}
		if s.Status.Closed() {
			return nil, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s is already %s", stepID, s.Status)}
		}
		if s.Status == StepRunning && st.openRun(stepID) != nil {
			return nil, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s: its action is running", stepID), Advice: "wait for it or cancel it"}
		}
		ev := Event{Kind: kind, At: in.clock.Now(), Step: stepID}
		if kind == KindStepDone {
			ev.Data.Text = byHand(st, s, text)
		} else {
			ev.Data.Reason = text
		}
		return []Event{ev}, nil
	})
}

// byHand is the text of a step_done the operator records. A step with an
// action that drbook did not run successfully says so, so that the
// timeline and the report never show a kill switch or a restore as done
// when nothing ran: "marked done by hand; its kill-switch action was not
// run: <note>".
func byHand(st *State, s *StepState, note string) string {
	if s.Action == "" {
		return note
	}
	last := ""
	for _, i := range s.Runs {
		if i < len(st.Runs) {
			switch r := st.Runs[i]; r.Status {
			case "ok", "simulated":
				return note
			default:
				last = r.Status
			}
		}
	}
	text := "marked done by hand; its " + s.Action + " action was not run"
	if last != "" {
		text = "marked done by hand after its " + s.Action + " action " + last
	}
	if note != "" {
		text += ": " + note
	}
	return text
}

// DoneStep marks a step done, with an optional note. On a step whose
// action has not run successfully, the recorded text says it was marked
// done by hand.
func (in *Incident) DoneStep(stepID, note string) error {
	return in.closeStep(KindStepDone, stepID, note, false)
}

// SkipStep marks a step skipped; reason is required.
func (in *Incident) SkipStep(stepID, reason string) error {
	return in.closeStep(KindStepSkipped, stepID, reason, true)
}

// FailStep marks a step failed; reason is required.
func (in *Incident) FailStep(stepID, reason string) error {
	return in.closeStep(KindStepFailed, stepID, reason, true)
}

// Note adds an operator's note.
func (in *Incident) Note(text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("note: empty text")
	}
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		return []Event{{Kind: KindNote, At: in.clock.Now(), Data: EventData{Text: text}}}, nil
	})
}

// SetSeverity changes the severity (1..3).
func (in *Incident) SetSeverity(sev int, reason string) error {
	if sev < 1 || sev > 3 {
		return fmt.Errorf("severity %d: want 1, 2 or 3", sev)
	}
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		if st.Severity == sev {
			return nil, nil
		}
		return []Event{{Kind: KindSeverity, At: in.clock.Now(), Data: EventData{Severity: sev, Reason: strings.TrimSpace(reason)}}}, nil
	})
}

func (in *Incident) phaseEvent(kind Kind, phaseID string) error {
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		p := st.Phase(phaseID)
		if p == nil {
			return nil, &Error{Err: ErrUnknownPhase, Detail: phaseID}
		}
		if kind == KindPhaseStarted && !p.StartedAt.IsZero() || kind == KindPhaseCompleted && !p.CompletedAt.IsZero() {
			return nil, nil
		}
		return []Event{{Kind: kind, At: in.clock.Now(), Phase: phaseID}}, nil
	})
}

// StartPhase marks a phase started. Starting any of its steps does too.
func (in *Incident) StartPhase(phaseID string) error { return in.phaseEvent(KindPhaseStarted, phaseID) }

// CompletePhase marks a phase completed, even with steps left open.
// Closing its last open step does so on its own. Completing the RTO phase
// stops the RTO clock.
func (in *Incident) CompletePhase(phaseID string) error {
	return in.phaseEvent(KindPhaseCompleted, phaseID)
}

// Close closes the incident as StatusResolved or StatusAbandoned. Resolving
// stops the RTO clock if its phase has not already.
func (in *Incident) Close(outcome Outcome, summary string) error {
	if outcome != StatusResolved && outcome != StatusAbandoned {
		return fmt.Errorf("close: outcome %q: want resolved or abandoned", outcome)
	}
	return in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		if outcome == StatusResolved {
			for _, p := range st.Phases {
				for _, s := range p.Steps {
					if st.openRun(s.ID) != nil {
						return nil, &Error{Err: ErrTransition, Detail: "step " + s.ID + ": its action is still running",
							Advice: "wait for it, or close as abandoned"}
					}
				}
			}
		}
		now := in.clock.Now()
		var evs []Event
		if outcome == StatusResolved && st.RTOStopped.IsZero() {
			d := st.Declaration.Runbook
			evs = append(evs, Event{Kind: KindRTOStopped, At: now, Data: EventData{Met: metWithin(d.RTO, now.Sub(st.Start())),
				Reason: "resolved before the RTO phase completed"}})
		}
		evs = append(evs, Event{Kind: KindClosed, At: now, Data: EventData{Outcome: outcome, Text: strings.TrimSpace(summary)}})
		return evs, nil
	})
}

// Notify fills a communication template ("notification" or "update") from
// the incident, records it and returns it. to says who is told.
func (in *Incident) Notify(template, to string) (Message, error) {
	var msg Message
	err := in.record(context.Background(), func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		m, err := Comms(st, template, in.clock.Now())
		if err != nil {
			return nil, err
		}
		m.To = to
		msg = m
		return []Event{{Kind: KindComms, At: m.At, Data: EventData{Comms: &m}}}, nil
	})
	if err != nil {
		return Message{}, err
	}
	msg.To, msg.Subject, msg.Body = in.redact.string(msg.To), in.redact.string(msg.Subject), in.redact.string(msg.Body)
	return msg, nil
}

// stillRunning reports whether the process that started a step's action is
// alive on this host and is drbook (the same executable): then the action
// is not interrupted, another drbook is running it, and its end will be
// recorded by that process.
func stillRunning(st *State, step, host string) bool {
	s := st.Step(step)
	if s == nil || len(s.Runs) == 0 {
		return false
	}
	pid, h := st.runProc[s.Runs[len(s.Runs)-1]], st.runHost[s.Runs[len(s.Runs)-1]]
	if pid <= 0 || pid == os.Getpid() || h != host {
		return false
	}
	self, err1 := os.Executable()
	other, err2 := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err1 == nil && err2 == nil && self == other
}
