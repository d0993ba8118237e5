// Package sitefailover turns a health detection into an incident: it
// declares a Sev-1 incident with the site-failover runbook and, when the
// site allows automatic failover, runs the runbook's steps unattended
// through the incident engine, so that every step is an event on the
// timeline with its duration (plan 2.3, "Automatic Failover (< 5 minutes)").
package sitefailover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/health"
)

// Runbooks run by a failover: unattended, and walked by a person.
const (
	AutomaticRunbook = "site-failover"
	ManualRunbook    = "site-failover-manual"
)

// AckNote is recorded on a manual step the unattended run passes.
const AckNote = "acknowledged by drbook watch (automatic failover)"

// ErrAlreadyFailingOver is returned by Open when a failover incident is
// still open: the watch must not declare a second one.
var ErrAlreadyFailingOver = errors.New("a site failover incident is already open")

// Options describe the incident to declare and how to run it.
type Options struct {
	Store     *incident.Store
	Runbook   *runbook.Runbook // the automatic or manual runbook
	Primary   string           // the primary's root: the incident's root
	Drill     bool             // declare a drill (the primary must be a sandbox)
	Automatic bool             // run the steps unattended
	// Env is the environment the steps run in (backup folder, variables);
	// Root defaults to Primary.
	Env      steps.Env
	Vars     map[string]string // runbook variables (secondary, DNS record...)
	Operator incident.Operator
	Clock    incident.Clock // nil: the system clock
	Out      io.Writer      // progress, one line per step; nil discards
}

// StepOutcome is how one step of the run ended.
type StepOutcome struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Action   string        `json:"action,omitempty"`
	Status   string        `json:"status"` // ok, failed, simulated, skipped, acknowledged, not run
	Summary  string        `json:"summary,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	At       time.Time     `json:"at"` // when it ended
}

// Result is what a declaration (and run) did.
type Result struct {
	ID         string        `json:"id"`
	Runbook    string        `json:"runbook"`
	DetectedAt time.Time     `json:"detected_at"`
	Automatic  bool          `json:"automatic"`
	Steps      []StepOutcome `json:"steps,omitempty"`
	Failed     []string      `json:"failed,omitempty"` // titles of failed steps
	// Problems are first-phase steps that ran and reported problems
	// without failing outright: a kill switch whose flag file holds but
	// whose dying database could not be updated. The failover goes on.
	Problems []string `json:"problems,omitempty"`
	// DNSAt is when the DNS step ended ok (zero if it did not), and
	// DetectionToDNS the time from detection to it.
	DNSAt          time.Time     `json:"dns_at,omitzero"`
	DNSStatus      string        `json:"dns_status,omitempty"`
	DetectionToDNS time.Duration `json:"detection_to_dns_ns,omitempty"`
	// FirstFailureToDNS counts from the first failed probe round.
	FirstFailureToDNS time.Duration `json:"first_failure_to_dns_ns,omitempty"`
	Took              time.Duration `json:"took_ns"` // detection to the end of the run
}

// OK reports whether the failover ran every step without a failure.
func (r Result) OK() bool { return r.Automatic && len(r.Failed) == 0 }

// Open returns the id of an open site failover incident (a drill when
// drill is true, else a live one), with ErrAlreadyFailingOver, if any. An
// open drill never stops the live watch.
func Open(ctx context.Context, store *incident.Store, drill bool) (string, error) {
	list, err := store.Incidents(ctx)
	if err != nil {
		return "", err
	}
	mode := incident.Live
	if drill {
		mode = incident.Drill
	}
	for _, sm := range list {
		if sm.Status == incident.StatusOpen && sm.Mode == mode && (sm.Runbook == AutomaticRunbook || sm.Runbook == ManualRunbook) {
			return sm.ID, ErrAlreadyFailingOver
		}
	}
	return "", nil
}

// Declare declares the Sev-1 incident for det and, when o.Automatic, runs
// every step of the runbook unattended: action steps through the incident
// engine (confirmed: automatic failover is the site's standing
// confirmation), manual steps acknowledged. A first-phase step that ran
// but reported problems (a kill switch whose flag holds on a primary whose
// database is dying) is recorded in Problems and the failover goes on; a
// first-phase step that could not run at all fails the run but the
// failover still goes on (the primary is dying, the secondary must take
// over); any later failure stops the run, leaving the remaining steps open for
// the operators. The incident stays open for people to review and close.
func Declare(ctx context.Context, det health.Detection, o Options) (Result, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	clock := o.Clock
	if clock == nil {
		clock = incident.SystemClock{}
	}
	mode := incident.Live
	if o.Drill {
		mode = incident.Drill
	}
	op := o.Operator
	if op.Name == "" {
		op.Name = "drbook watch"
	}
	res := Result{Runbook: o.Runbook.ID, DetectedAt: det.First, Automatic: o.Automatic}
	in, err := incident.Declare(ctx, o.Store, o.Runbook, incident.DeclareOptions{
		Severity: 1, Mode: mode, Operator: op, DetectedAt: det.First, Root: o.Primary, Vars: o.Vars,
		Title:  "Primary site down: " + o.Runbook.Title,
		Impact: "trading on the primary site has stopped; the secondary site takes over",
	}, clock)
	if err != nil {
		return res, fmt.Errorf("declare: %w", err)
	}
	res.ID = in.ID()
	fmt.Fprintf(out, "declared %s (Sev-1, %s): %s\n", res.ID, o.Runbook.ID, det.Summary())
	note := "drbook watch: " + det.Summary()
	for _, r := range det.Rounds {
		note += "\n" + r.Line()
	}
	if err := in.Note(note); err != nil {
		return res, fmt.Errorf("note: %w", err)
	}
	if !o.Automatic {
		fmt.Fprintf(out, "automatic failover is off (failover.automatic): follow the runbook: drbook resume %s\n", res.ID)
		return res, nil
	}

	env := o.Env
	if env.Root == "" {
		env.Root = o.Primary
	}
	st := in.State()
	first := ""
	if len(st.Phases) > 0 {
		first = st.Phases[0].ID
	}
	stopped := ""
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			oc := StepOutcome{ID: s.ID, Title: s.Title, Action: s.Action}
			if stopped != "" {
				oc.Status, oc.Summary = "not run", "stopped after "+stopped+" failed"
				res.Steps = append(res.Steps, oc)
				continue
			}
			switch runbook.Kind(s.Kind) {
			case runbook.KindManual, runbook.KindReference:
				if err := in.DoneStep(s.ID, AckNote); err != nil {
					return res, fmt.Errorf("step %s: %w", s.ID, err)
				}
				oc.Status, oc.At = "acknowledged", in.Now()
				fmt.Fprintf(out, "  [ack]  %s\n", s.Title)
				res.Steps = append(res.Steps, oc)
				continue
			}
			start := in.Now()
			r, err := in.RunStep(ctx, s.ID, env, true, nil)
			oc.At = in.Now()
			oc.Duration = oc.At.Sub(start)
			oc.Status, oc.Summary = string(r.Status), r.Summary
			if run := lastRun(in.State(), s.ID); run != nil {
				oc.Duration, oc.At = run.Duration, run.FinishedAt
			}
			if err != nil && oc.Summary == "" {
				oc.Summary = err.Error()
			}
			hardFail := err != nil
			if err != nil || r.Status == steps.StatusFailed {
				oc.Status = string(steps.StatusFailed)
				if errors.Is(ctx.Err(), context.Canceled) {
					return res, ctx.Err()
				}
			}
			fmt.Fprintf(out, "  [%s] %s (%s, %s): %s\n", oc.Status, s.Title, s.Action, oc.Duration.Round(time.Millisecond), oc.Summary)
			res.Steps = append(res.Steps, oc)
			if s.Action == "dns-switch" {
				res.DNSStatus = oc.Status
				if oc.Status == string(steps.StatusOK) {
					res.DNSAt = oc.At
					res.DetectionToDNS = oc.At.Sub(det.At)
					res.FirstFailureToDNS = oc.At.Sub(det.First)
				}
			}
			switch {
			case oc.Status != string(steps.StatusFailed):
			case p.ID == first && !hardFail:
				res.Problems = append(res.Problems, s.Title+": "+oc.Summary)
			case p.ID == first:
				res.Failed = append(res.Failed, s.Title)
			default:
				res.Failed = append(res.Failed, s.Title)
				stopped = s.Title
			}
		}
	}
	res.Took = in.Now().Sub(det.At)
	switch {
	case len(res.Failed) > 0:
		fmt.Fprintf(out, "failover %s: %d step(s) failed (%s); the incident stays open: drbook resume %s\n",
			res.ID, len(res.Failed), strings.Join(res.Failed, "; "), res.ID)
	default:
		if len(res.Problems) > 0 {
			fmt.Fprintf(out, "problems to look at: %s\n", strings.Join(res.Problems, "; "))
		}
		dns := "DNS step " + res.DNSStatus
		if !res.DNSAt.IsZero() {
			dns = "detection to DNS " + res.DetectionToDNS.Round(time.Millisecond).String()
		}
		fmt.Fprintf(out, "failover %s: every step ran in %s (%s); review and close it: drbook close %s\n",
			res.ID, res.Took.Round(time.Millisecond), dns, res.ID)
	}
	return res, nil
}

func lastRun(st *incident.State, step string) *incident.ActionRun {
	for i := len(st.Runs) - 1; i >= 0; i-- {
		if st.Runs[i].Step == step {
			return &st.Runs[i]
		}
	}
	return nil
}
