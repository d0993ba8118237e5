package ui

import (
	"bytes"
	"cmp"
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
	"github.com/drbook/drbook/runbook/session"
	"github.com/drbook/drbook/steps"
)

// EngineConfig wires the TUI to drbook's incident engine: the domain's
// session configuration (runbook/session), which assembles the home
// screen, starts drills and incidents and reopens them.
type EngineConfig = session.Config

// ReportDir is where reports are written: STATE_DIR/reports.
func ReportDir(stateDir string) string { return drill.ReportDir(stateDir) }

// NewBackend returns the Backend over the incident engine.
func NewBackend(cfg EngineConfig) Backend { return engineBackend{cfg} }

type engineBackend struct{ cfg EngineConfig }

// Home maps the domain's overview onto the home screen's items.
func (b engineBackend) Home(ctx context.Context) (HomeData, error) {
	h := b.cfg.Home(ctx)
	d := HomeData{Problems: h.Problems}
	for _, rb := range h.Runbooks {
		item := RunbookItem{ID: rb.ID, Title: rb.Title, Source: rb.Source}
		for _, v := range rb.Vars {
			item.Vars = append(item.Vars, VarItem{Name: v.Name, Prompt: v.Prompt, Default: v.Default, Site: b.cfg.SiteVars[v.Name], Secret: v.Secret})
		}
		d.Runbooks = append(d.Runbooks, item)
	}
	for _, f := range h.Faults {
		d.Faults = append(d.Faults, FaultItem{Name: f.Name, Description: f.Description})
	}
	now := b.cfg.Clocks().Now()
	for _, s := range h.Open {
		d.Open = append(d.Open, IncidentItem{ID: s.ID, Title: s.Title, Runbook: s.Runbook,
			Drill: s.Mode == incident.Drill, Elapsed: now.Sub(s.DetectedAt)})
	}
	for _, s := range h.Drills {
		d.Drills = append(d.Drills, DrillItem{ID: s.ID, Runbook: s.Runbook, When: s.DeclaredAt, Status: string(s.Status),
			Scenario: s.Scenario, Recovered: s.Recovered, Recovery: s.Recovery, RTOMet: s.RTOMet})
	}
	for _, t := range h.Schedule {
		d.Schedule = append(d.Schedule, ScheduleItem{Name: t.Name, Interval: t.Frequency,
			Last: t.LastRun, Due: t.Due, Overdue: t.Overdue, Never: t.LastRun.IsZero()})
	}
	return d, nil
}

func (b engineBackend) Start(ctx context.Context, spec StartSpec, progress func(string)) (Session, error) {
	s, err := b.cfg.Start(ctx, session.Spec{Runbook: spec.Runbook, Drill: spec.Drill, Scenario: spec.Scenario,
		Speed: spec.Speed, Severity: spec.Severity, Title: spec.Title, DetectedAgo: spec.DetectedAgo, Vars: spec.Vars}, progress)
	if err != nil {
		return nil, err
	}
	return NewSession(s.Incident, b.cfg.Store, s.Runbook, s.Env, b.cfg.StateDir), nil
}

func (b engineBackend) Open(ctx context.Context, id string) (Session, error) {
	return OpenSession(ctx, b.cfg, id)
}

// OpenSession resumes an open incident by id (or unique prefix, or "" for
// the most recent open one), with the runbook and environment it was
// declared with.
func OpenSession(ctx context.Context, cfg EngineConfig, ref string) (Session, error) {
	defer openingGC()()
	s, err := cfg.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	return NewSession(s.Incident, cfg.Store, s.Runbook, s.Env, cfg.StateDir), nil
}

// NewSession adapts a running incident to the TUI.
func NewSession(in *incident.Incident, store *incident.Store, rb *runbook.Runbook, env steps.Env, stateDir string) Session {
	env.StateDir = cmp.Or(env.StateDir, stateDir)
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

func (s *engineSession) RunStep(ctx context.Context, id string, confirmed bool, emit steps.Emit) (incident.StepOutcome, error) {
	if s.rb == nil {
		return incident.StepOutcome{}, errors.New("the incident's runbook cannot be found any more: do this step by hand and mark it (d/s/f)")
	}
	return s.in.RunStep(ctx, id, s.env, confirmed, emit)
}

// Close closes the incident the one way every front end does
// (drill.Close): a drill's system checks, a tally when no summary is
// given, the report written.
func (s *engineSession) Close(outcome incident.Outcome, summary string) error {
	_, err := drill.Close(context.Background(), s.in, s.store, drill.CloseOptions{Outcome: outcome, Summary: summary,
		Via: "in the TUI", ReportDir: ReportDir(s.stateDir)})
	return err
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

// WithReplication adds the header's replication word to a session: status
// says, for an incident id, whether its timeline has reached the replica
// ("replicated" or "N events not yet replicated"). It is asked from a
// command, never from Update: it reads the state database.
func WithReplication(s Session, status func(id string) string) Session {
	r := replicated{Session: s, status: status}
	if _, ok := s.(interface{ SetVars(map[string]string) }); ok {
		return replicatedVars{r}
	}
	return r
}

type replicated struct {
	Session
	status func(id string) string
}

func (r replicated) Replication() string {
	st, err := r.Session.State()
	if err != nil || st == nil {
		return ""
	}
	return r.status(st.ID)
}

// replicatedVars keeps SetVars for the sessions that have it.
type replicatedVars struct{ replicated }

func (r replicatedVars) SetVars(v map[string]string) {
	r.Session.(interface{ SetVars(map[string]string) }).SetVars(v)
}

// ReplicatedBackend makes every session b starts or opens say in its
// header whether its timeline has reached the replica (see
// WithReplication).
func ReplicatedBackend(b Backend, status func(id string) string) Backend {
	return replicatedBackend{Backend: b, status: status}
}

type replicatedBackend struct {
	Backend
	status func(id string) string
}

func (r replicatedBackend) Start(ctx context.Context, spec StartSpec, progress func(string)) (Session, error) {
	s, err := r.Backend.Start(ctx, spec, progress)
	if err != nil {
		return nil, err
	}
	return WithReplication(s, r.status), nil
}

func (r replicatedBackend) Open(ctx context.Context, id string) (Session, error) {
	s, err := r.Backend.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	return WithReplication(s, r.status), nil
}
