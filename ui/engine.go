package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// EngineConfig wires the TUI to drbook's incident engine.
type EngineConfig struct {
	Store       *incident.Store
	StateDir    string
	RunbookDirs []string
	Live        bool   // --live: live incidents allowed
	Root        string // --root: the live system
	Operator    incident.Operator
	Clock       incident.Clock // nil: the system clock
	Trades      int            // drill sandbox size; 0: the sandbox default
	// NewID, when set, names new incidents (tests pin it for golden files).
	NewID func() string
	// Contacts, when set, is the Emergency Contacts section from the site
	// configuration: it replaces every runbook's own (often placeholder)
	// section in the contacts view.
	Contacts string
	// Notices are lines for the home screen about the site (placeholder or
	// stale contacts...).
	Notices []string
	// Sender delivers the notify steps' messages through the site's
	// channels; SenderSecrets are its webhook URLs and passwords, never to
	// be recorded. A nil Sender records messages as not sent.
	Sender        incident.Sender
	SenderSecrets []string
}

// Wire gives an incident the site's notification channels.
func (c EngineConfig) Wire(in *incident.Incident) {
	in.AddSecrets(c.SenderSecrets...)
	in.SetSender(c.Sender)
}

// loadRunbook loads a runbook with the site's contacts in place of its own.
func (c EngineConfig) loadRunbook(ref string) (*runbook.Runbook, error) {
	rb, err := runbook.Load(ref, c.RunbookDirs)
	if err == nil && c.Contacts != "" {
		rb.Contacts = c.Contacts
	}
	return rb, err
}

func (c EngineConfig) clock() incident.Clock {
	if c.Clock == nil {
		return incident.SystemClock{}
	}
	return c.Clock
}

// ReportDir is where reports are written: STATE_DIR/reports.
func ReportDir(stateDir string) string { return filepath.Join(stateDir, "reports") }

// NewBackend returns the Backend over the incident engine.
func NewBackend(cfg EngineConfig) Backend { return engineBackend{cfg} }

type engineBackend struct{ cfg EngineConfig }

func (b engineBackend) Home(ctx context.Context) (HomeData, error) {
	var d HomeData
	d.Problems = append(d.Problems, b.cfg.Notices...)
	rbs, err := runbook.List(b.cfg.RunbookDirs)
	if err != nil {
		d.Problems = append(d.Problems, "runbooks: "+err.Error())
	}
	for _, rb := range rbs {
		item := RunbookItem{ID: rb.ID, Title: rb.Title, Source: rb.Source}
		for _, v := range rb.Vars {
			item.Vars = append(item.Vars, VarItem{Name: v.Name, Prompt: v.Prompt, Default: v.Default, Secret: v.Secret})
		}
		d.Runbooks = append(d.Runbooks, item)
	}
	for _, f := range sandbox.Faults() {
		d.Faults = append(d.Faults, FaultItem{Name: f.Name, Description: f.Description})
	}
	sums, err := b.cfg.Store.Incidents(ctx)
	if err != nil {
		d.Problems = append(d.Problems, "incidents: "+err.Error())
	}
	now := b.cfg.clock().Now()
	for _, s := range sums {
		if s.Status == incident.StatusOpen {
			d.Open = append(d.Open, IncidentItem{ID: s.ID, Title: s.Title, Runbook: s.Runbook,
				Drill: s.Mode == incident.Drill, Elapsed: now.Sub(s.DetectedAt)})
		}
	}
	// Recent closed drills with their measured recovery time.
	for _, s := range sums {
		if s.Mode != incident.Drill || s.Status == incident.StatusOpen || len(d.Drills) >= 5 {
			continue
		}
		di := DrillItem{ID: s.ID, Runbook: s.Runbook, When: s.DeclaredAt, Status: string(s.Status)}
		if st, err := b.cfg.Store.Load(ctx, s.ID); err == nil {
			ck := st.Clocks(st.ClosedAt)
			di.Scenario = st.Declaration.Scenario
			di.Recovered = s.Status == incident.StatusResolved && ck.RTO.Verdict != incident.Unknown
			di.Recovery = ck.RTO.Took
			di.RTOMet = ck.RTO.Verdict == incident.Met
		}
		d.Drills = append(d.Drills, di)
	}
	if ds, err := b.cfg.Store.Drills(ctx, time.Now()); err == nil {
		for _, t := range ds {
			d.Schedule = append(d.Schedule, ScheduleItem{Name: t.Name, Interval: t.Frequency,
				Last: t.LastRun, Due: t.Due, Overdue: t.Overdue, Never: t.LastRun.IsZero()})
		}
	} else {
		d.Problems = append(d.Problems, "drill schedule: "+err.Error())
	}
	return d, nil
}

func (b engineBackend) newID() string {
	if b.cfg.NewID == nil {
		return ""
	}
	return b.cfg.NewID()
}

func (b engineBackend) Start(ctx context.Context, spec StartSpec, progress func(string)) (Session, error) {
	rb, err := b.cfg.loadRunbook(spec.Runbook)
	if err != nil {
		return nil, err
	}
	if spec.Drill {
		d, err := drill.Start(ctx, drill.Options{
			Runbook: rb, Scenario: spec.Scenario, Speed: spec.Speed, StateDir: b.cfg.StateDir,
			Store: b.cfg.Store, Operator: b.cfg.Operator, Severity: spec.Severity, Title: spec.Title,
			DetectedAgo: spec.DetectedAgo, Clock: b.cfg.clock(), Trades: b.cfg.Trades, Progress: progress,
			ID: b.newID(), Vars: spec.Vars,
		})
		if err != nil {
			return nil, err
		}
		b.cfg.Wire(d.Incident)
		return NewSession(d.Incident, b.cfg.Store, rb, d.Env, b.cfg.StateDir), nil
	}
	if !b.cfg.Live || b.cfg.Root == "" {
		return nil, errors.New("live incidents need drbook --live --root DIR")
	}
	var detected time.Time
	if spec.DetectedAgo > 0 {
		detected = b.cfg.clock().Now().Add(-spec.DetectedAgo)
	}
	in, err := incident.Declare(ctx, b.cfg.Store, rb, incident.DeclareOptions{
		Severity: spec.Severity, Mode: incident.Live, Title: spec.Title, Operator: b.cfg.Operator,
		DetectedAt: detected, Root: b.cfg.Root, ID: b.newID(), Vars: spec.Vars,
	}, b.cfg.clock())
	if err != nil {
		return nil, err
	}
	env := steps.Env{Root: b.cfg.Root, IncidentID: in.ID(), Operator: b.cfg.Operator.Name, Now: in.Now, Vars: spec.Vars}
	b.cfg.Wire(in)
	return NewSession(in, b.cfg.Store, rb, env, b.cfg.StateDir), nil
}

func (b engineBackend) Open(ctx context.Context, id string) (Session, error) {
	return OpenSession(ctx, b.cfg, id)
}

// OpenSession resumes an open incident by id (or unique prefix, or "" for
// the most recent open one), with the runbook and environment it was
// declared with.
func OpenSession(ctx context.Context, cfg EngineConfig, ref string) (Session, error) {
	id, err := cfg.Store.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rb, mode, err := openRunbook(ctx, cfg, id)
	if err != nil {
		return nil, err
	}
	// Refuse before Open: opening records a resumed event.
	if mode == incident.Live && !cfg.Live {
		return nil, fmt.Errorf("%s is a LIVE incident: resume it with --live --root DIR", id)
	}
	in, err := incident.Open(ctx, cfg.Store, id, rb, cfg.clock(), incident.OpenOptions{Operator: cfg.Operator, Resume: true})
	if err != nil {
		return nil, err
	}
	decl := in.State().Declaration
	var env steps.Env
	if decl.Mode == incident.Drill {
		if dir := drill.DirOf(decl.Root); dir != "" {
			env = drill.EnvFor(dir, in, cfg.Operator.Name)
		} else {
			env = steps.Env{Root: decl.Root, Drill: true, IncidentID: id, Operator: cfg.Operator.Name, Now: in.Now}
		}
	} else {
		env = steps.Env{Root: decl.Root, IncidentID: id, Operator: cfg.Operator.Name, Now: in.Now}
	}
	cfg.Wire(in)
	return NewSession(in, cfg.Store, rb, env, cfg.StateDir), nil
}

// openRunbook finds the runbook an incident runs: by its id (embedded or
// in the runbook dirs), else from the file it was declared from. The full
// timeline is replayed only in that last case, so a long incident is read
// once, not twice. nil means it cannot be found any more: the snapshot in
// the timeline still drives the incident, but steps cannot run.
func openRunbook(ctx context.Context, cfg EngineConfig, id string) (*runbook.Runbook, incident.Mode, error) {
	sums, err := cfg.Store.Incidents(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, s := range sums {
		if s.ID == id {
			if rb, err := cfg.loadRunbook(s.Runbook); err == nil {
				return rb, s.Mode, nil
			}
		}
	}
	st, err := cfg.Store.Load(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if rb, err := cfg.loadRunbook(st.Declaration.Runbook.Source); err == nil {
		return rb, st.Declaration.Mode, nil
	}
	return nil, st.Declaration.Mode, nil
}

// NewSession adapts a running incident to the TUI.
func NewSession(in *incident.Incident, store *incident.Store, rb *runbook.Runbook, env steps.Env, stateDir string) Session {
	if env.StateDir == "" {
		env.StateDir = stateDir // compliance-check reads the incidents and evidence there
	}
	return &engineSession{in: in, store: store, rb: rb, env: env, stateDir: stateDir}
}

type engineSession struct {
	in       *incident.Incident
	store    *incident.Store
	rb       *runbook.Runbook
	env      steps.Env
	stateDir string
}

func (s *engineSession) State() (*incident.State, error)     { return s.in.State(), nil }
func (s *engineSession) Now() time.Time                      { return s.in.Now() }
func (s *engineSession) Runbook() *runbook.Runbook           { return s.rb }
func (s *engineSession) ReadOnly() bool                      { return false }
func (s *engineSession) Ack(id string) error                 { return s.in.DoneStep(id, "acknowledged") }
func (s *engineSession) Done(id, note string) error          { return s.in.DoneStep(id, note) }
func (s *engineSession) Skip(id, reason string) error        { return s.in.SkipStep(id, reason) }
func (s *engineSession) Fail(id, reason string) error        { return s.in.FailStep(id, reason) }
func (s *engineSession) Note(text string) error              { return s.in.Note(text) }
func (s *engineSession) SetSeverity(n int, why string) error { return s.in.SetSeverity(n, why) }
func (s *engineSession) Release() error                      { return nil }

func (s *engineSession) RunStep(ctx context.Context, id string, confirmed bool, emit steps.Emit) (steps.Result, error) {
	if s.rb == nil {
		return steps.Result{}, errors.New("the incident's runbook cannot be found any more: do this step by hand and mark it (d/s/f)")
	}
	return s.in.RunStep(ctx, id, s.env, confirmed, emit)
}

func (s *engineSession) Close(outcome incident.Outcome, summary string) error {
	if s.env.Drill && s.env.Root != "" {
		// A drill can tell whether the fault is really gone: record the
		// system check with the drill, for the report.
		var out strings.Builder
		failed, err := drill.SystemCheck(context.Background(), s.env.Root, &out)
		if err != nil {
			return err
		}
		if err := s.in.Note(strings.TrimSpace(out.String())); err != nil {
			return err
		}
		if len(failed) > 0 && summary == "" {
			summary = "closed with system checks still failing: " + strings.Join(failed, "; ")
		}
	}
	if summary == "" {
		summary = stepTally(s.in.State())
	}
	if err := s.in.Close(outcome, summary); err != nil {
		return err
	}
	_, _, err := drill.WriteReport(context.Background(), s.store, s.in.State(), s.in.Now(), ReportDir(s.stateDir))
	return err
}

// stepTally is the closing summary when the operator gave none, so the
// report never says "No summary given" about an incident it can describe:
// "closed in the TUI: 24 of 27 steps done, 2 skipped, 1 failed".
func stepTally(st *incident.State) string {
	var total, done, skipped, failed int
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			total++
			switch s.Status {
			case incident.StepDone:
				done++
			case incident.StepSkipped:
				skipped++
			case incident.StepFailed, incident.StepInterrupted:
				failed++
			}
		}
	}
	return fmt.Sprintf("closed in the TUI: %d of %d steps done, %d skipped, %d failed", done, total, skipped, failed)
}

func (s *engineSession) Timeline() (string, error) {
	return timelineText(context.Background(), s.store, s.in.ID(), s.in.State().LastSeq)
}

// timelineWindow is how many of the latest events the timeline pager
// shows; the whole timeline is a command away, and a screen over SSH does
// not need 10,000 lines in memory.
const timelineWindow = 2000

func timelineText(ctx context.Context, store *incident.Store, id string, last int64) (string, error) {
	after := max(0, last-timelineWindow)
	evs, err := store.EventsAfter(ctx, id, after)
	if err != nil {
		return "", err
	}
	head := ""
	if after > 0 {
		head = fmt.Sprintf("(the latest %d events; all %d: drbook timeline %s)\n", len(evs), last, id)
	}
	return head + formatTimeline(evs), nil
}

func (s *engineSession) Report() (string, error) {
	return reportText(s.store, s.in.State(), s.in.Now(), s.stateDir)
}

func (s *engineSession) Comms() (string, error) { return commsText(s.in.State(), s.in.Now()) }

func (s *engineSession) Contacts() string { return contactsText(s.rb) }

func reportText(store *incident.Store, st *incident.State, now time.Time, stateDir string) (string, error) {
	evs, err := store.Events(context.Background(), st.ID)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := incident.BuildReport(st, evs, now).Markdown(&buf); err != nil {
		return "", err
	}
	head := ""
	if st.Status != incident.StatusOpen {
		head = "Written to " + filepath.Join(ReportDir(stateDir), st.ID+".md") + "\n\n"
	}
	return head + buf.String(), nil
}

func commsText(st *incident.State, now time.Time) (string, error) {
	var parts []string
	for _, t := range incident.Templates {
		m, err := incident.Comms(st, t, now)
		if err != nil {
			return "", err
		}
		parts = append(parts, "==== "+t+" ====\n\n"+m.Body)
	}
	return "(Preview only: nothing is sent or recorded; a notify step records them.)\n\n" + strings.Join(parts, "\n\n"), nil
}

func contactsText(rb *runbook.Runbook) string {
	if rb != nil && strings.TrimSpace(rb.Contacts) != "" {
		return rb.Contacts
	}
	if rb != nil {
		keys := make([]string, 0, len(rb.Sections))
		for k := range rb.Sections {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.Contains(strings.ToLower(k), "contact") {
				return rb.Sections[k]
			}
		}
	}
	return "This runbook has no Emergency Contacts section (plan section 7).\n\n" +
		"External contacts from the plan:\n- IBKR Support: +1-877-442-2757\n- Alpaca Support: support@alpaca.markets"
}

// formatTimeline prints events one per line for the timeline pager.
func formatTimeline(evs []incident.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%4d %s %-18s", e.Seq, e.At.Format("15:04:05"), e.Kind)
		if e.Step != "" {
			b.WriteString(" " + e.Step)
		} else if e.Phase != "" {
			b.WriteString(" " + e.Phase)
		}
		d := e.Data
		for _, s := range []string{d.Text, d.Reason, d.Status, d.Summary, d.Error} {
			if s != "" {
				b.WriteString(" | " + oneLine(s))
			}
		}
		if e.Kind == incident.KindActionOutput {
			b.WriteString(fmt.Sprintf(" (%d bytes)", len(d.Output)))
		}
		if e.Actor != "" {
			b.WriteString("  - " + e.Actor)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// SetVars gives the session runbook variables the timeline does not keep
// (secret ones, asked again after a resume). Call it before the TUI runs.
func (s *engineSession) SetVars(vars map[string]string) {
	if len(vars) == 0 {
		return
	}
	merged := map[string]string{}
	for k, v := range s.env.Vars {
		merged[k] = v
	}
	secrets := make([]string, 0, len(vars))
	for k, v := range vars {
		merged[k] = v
		secrets = append(secrets, v)
	}
	s.env.Vars = merged
	s.in.AddSecrets(secrets...)
}
