// Package session assembles what a front end needs to run incidents: the
// home overview (runbooks, open incidents, recent drills, the drill
// schedule, sandbox faults), starting a drill or a live incident, and
// reopening one with the runbook and environment it was declared with.
// The TUI adapts it; it never imports a front end.
package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// Config wires a front end to drbook's incident engine.
type Config struct {
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
	// DrillS3 is where a drill's baseline backup is also uploaded (the
	// host-lost scenario rebuilds from it alone); zero for none.
	DrillS3 drill.S3
	// SiteVars are the values the site configuration gives runbook
	// variables (site.Config.RunbookVars). A live incident takes them for
	// the variables its start leaves unset, over the runbook's defaults;
	// a drill never does.
	SiteVars map[string]string
}

// LiveVars returns vars (a copy; nil when empty) with every variable of rb
// that vars leaves unset taken from site (the site configuration's values,
// site.Config.RunbookVars), for a live incident.
func LiveVars(rb *runbook.Runbook, vars, site map[string]string) map[string]string {
	out := maps.Clone(vars)
	for _, v := range rb.Vars {
		if _, set := vars[v.Name]; set {
			continue
		}
		if s := site[v.Name]; s != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[v.Name] = s
		}
	}
	return out
}

// Wire gives an incident the site's notification channels.
func (c Config) Wire(in *incident.Incident) {
	in.AddSecrets(c.SenderSecrets...)
	in.SetSender(c.Sender)
}

// LoadRunbook loads a runbook with the site's contacts in place of its own.
func (c Config) LoadRunbook(ref string) (*runbook.Runbook, error) {
	rb, err := runbook.Load(ref, c.RunbookDirs)
	if err == nil && c.Contacts != "" {
		rb.Contacts = c.Contacts
	}
	return rb, err
}

// Clocks returns the configured clock, the system clock when none is.
func (c Config) Clocks() incident.Clock {
	if c.Clock == nil {
		return incident.SystemClock{}
	}
	return c.Clock
}

// ReportDir is where reports are written: STATE_DIR/reports.
func (c Config) ReportDir() string { return drill.ReportDir(c.StateDir) }

// Home is the overview a front end opens on.
type Home struct {
	Runbooks []*runbook.Runbook
	Open     []incident.Summary // open incidents and drills
	Drills   []DrillRun         // the latest closed drills, at most five
	Schedule []incident.DrillStatus
	Faults   []sandbox.Fault
	Problems []string // site notices, runbooks or stores that failed to read
}

// DrillRun is a closed drill with its measured recovery.
type DrillRun struct {
	incident.Summary
	Scenario  string
	Recovered bool // resolved, with a measured RTO
	Recovery  time.Duration
	RTOMet    bool
}

// Home lists runbooks, open incidents, recent drills with their recovery
// times, the drill schedule and the sandbox faults. What cannot be read is
// a problem on the list, never an error.
func (c Config) Home(ctx context.Context) Home {
	var h Home
	h.Problems = append(h.Problems, c.Notices...)
	rbs, err := runbook.List(c.RunbookDirs)
	if err != nil {
		h.Problems = append(h.Problems, "runbooks: "+err.Error())
	}
	h.Runbooks = rbs
	h.Faults = sandbox.Faults()
	sums, err := c.Store.Incidents(ctx)
	if err != nil {
		h.Problems = append(h.Problems, "incidents: "+err.Error())
	}
	for _, s := range sums {
		if s.Status == incident.StatusOpen {
			h.Open = append(h.Open, s)
		}
	}
	for _, s := range sums {
		if s.Mode != incident.Drill || s.Status == incident.StatusOpen || len(h.Drills) >= 5 {
			continue
		}
		di := DrillRun{Summary: s}
		if st, err := c.Store.Load(ctx, s.ID); err == nil {
			ck := st.Clocks(st.ClosedAt)
			di.Scenario = st.Declaration.Scenario
			di.Recovered = s.Status == incident.StatusResolved && ck.RTO.Verdict != incident.Unknown
			di.Recovery = ck.RTO.Took
			di.RTOMet = ck.RTO.Verdict == incident.Met
		}
		h.Drills = append(h.Drills, di)
	}
	if ds, err := c.Store.Drills(ctx, time.Now()); err == nil {
		h.Schedule = ds
	} else {
		h.Problems = append(h.Problems, "drill schedule: "+err.Error())
	}
	return h
}

// Spec is what to start.
type Spec struct {
	Runbook  string
	Drill    bool
	Scenario string  // fault to inject in the sandbox; "" for none
	Speed    float64 // drill clock speed factor; 1 is real time
	Severity int     // 0: the runbook's default
	Title    string
	// DetectedAgo backdates the incident's start. 0 means now.
	DetectedAgo time.Duration
	// Vars are the runbook variables' values; nil takes the defaults.
	Vars map[string]string
}

// Started is a declared incident with what its steps run against.
type Started struct {
	Incident *incident.Incident
	Runbook  *runbook.Runbook // nil when it cannot be found any more
	Env      steps.Env
}

func (c Config) newID() string {
	if c.NewID == nil {
		return ""
	}
	return c.NewID()
}

// Start declares a drill (creating and breaking its sandbox first; progress
// may be nil) or, when the configuration allows it, a live incident.
func (c Config) Start(ctx context.Context, spec Spec, progress func(string)) (*Started, error) {
	rb, err := c.LoadRunbook(spec.Runbook)
	if err != nil {
		return nil, err
	}
	if spec.Drill {
		d, err := drill.Start(ctx, drill.Options{
			Runbook: rb, Scenario: spec.Scenario, Speed: spec.Speed, StateDir: c.StateDir,
			Store: c.Store, Operator: c.Operator, Severity: spec.Severity, Title: spec.Title,
			DetectedAgo: spec.DetectedAgo, Clock: c.Clocks(), Trades: c.Trades, Progress: progress,
			ID: c.newID(), Vars: spec.Vars, S3: c.DrillS3,
		})
		if err != nil {
			return nil, err
		}
		c.Wire(d.Incident)
		return &Started{Incident: d.Incident, Runbook: rb, Env: d.Env}, nil
	}
	if !c.Live || c.Root == "" {
		return nil, errors.New("live incidents need drbook --live --root DIR")
	}
	var detected time.Time
	if spec.DetectedAgo > 0 {
		detected = c.Clocks().Now().Add(-spec.DetectedAgo)
	}
	spec.Vars = LiveVars(rb, spec.Vars, c.SiteVars)
	in, err := incident.Declare(ctx, c.Store, rb, incident.DeclareOptions{
		Severity: spec.Severity, Mode: incident.Live, Title: spec.Title, Operator: c.Operator,
		DetectedAt: detected, Root: c.Root, ID: c.newID(), Vars: spec.Vars,
	}, c.Clocks())
	if err != nil {
		return nil, err
	}
	env := steps.Env{Root: c.Root, IncidentID: in.ID(), Operator: c.Operator.Name, Now: in.Now, Vars: spec.Vars}
	c.Wire(in)
	return &Started{Incident: in, Runbook: rb, Env: env}, nil
}

// Open resumes an open incident by id (or unique prefix, or "" for the
// most recent open one), with the runbook and environment it was declared
// with. A live incident is refused unless the configuration allows live
// incidents, before anything is recorded.
func (c Config) Open(ctx context.Context, ref string) (*Started, error) {
	id, err := c.Store.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rb, mode, err := c.OpenRunbook(ctx, id)
	if err != nil {
		return nil, err
	}
	// Refuse before Open: opening records a resumed event.
	if mode == incident.Live && !c.Live {
		return nil, fmt.Errorf("%s is a LIVE incident: resume it with --live --root DIR", id)
	}
	in, err := incident.Open(ctx, c.Store, id, rb, c.Clocks(), incident.OpenOptions{Operator: c.Operator, Resume: true})
	if err != nil {
		return nil, err
	}
	decl := in.State().Declaration
	var env steps.Env
	if decl.Mode == incident.Drill {
		if dir := drill.DirOf(decl.Root); dir != "" {
			env = drill.EnvFor(dir, in, c.Operator.Name)
		} else {
			env = steps.Env{Root: decl.Root, Drill: true, IncidentID: id, Operator: c.Operator.Name, Now: in.Now}
		}
	} else {
		env = steps.Env{Root: decl.Root, IncidentID: id, Operator: c.Operator.Name, Now: in.Now}
	}
	c.Wire(in)
	return &Started{Incident: in, Runbook: rb, Env: env}, nil
}

// OpenRunbook finds the runbook an incident runs: by its id (embedded or
// in the runbook dirs), else from the file it was declared from. The full
// timeline is replayed only in that last case, so a long incident is read
// once, not twice. nil means it cannot be found any more: the snapshot in
// the timeline still drives the incident, but steps cannot run.
func (c Config) OpenRunbook(ctx context.Context, id string) (*runbook.Runbook, incident.Mode, error) {
	sums, err := c.Store.Incidents(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, s := range sums {
		if s.ID == id {
			if rb, err := c.LoadRunbook(s.Runbook); err == nil {
				return rb, s.Mode, nil
			}
		}
	}
	st, err := c.Store.Load(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if rb, err := c.LoadRunbook(st.Declaration.Runbook.Source); err == nil {
		return rb, st.Declaration.Mode, nil
	}
	return nil, st.Declaration.Mode, nil
}
