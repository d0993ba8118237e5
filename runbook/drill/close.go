package drill

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/steps/standby"
)

// CloseOptions say how to close an incident.
type CloseOptions struct {
	Outcome incident.Outcome
	// Summary is the closing summary; "" gives a tally of the steps
	// ("closed VIA: 24 of 27 steps done, 2 skipped, 1 failed"), or, in a
	// drill whose system checks still fail, says so.
	Summary string
	// Via names where it was closed, for the tally: "in the TUI",
	// "with drbook close".
	Via string
	// Decide, when set, chooses the outcome and summary from the system
	// check's failures (drbook drill --auto); it overrides Outcome and
	// Summary.
	Decide func(checkFailures []string) (incident.Outcome, string)
	// ReportDir is where the report is written (ReportDir(stateDir)).
	ReportDir string
	// Out, when set, receives the system check's summary as it is printed.
	Out io.Writer
}

// Closed is how a close went.
type Closed struct {
	Outcome incident.Outcome
	Summary string
	// CheckFailures are a drill's system checks that still fail ("db-
	// integrity: ..."): the fault is not gone.
	CheckFailures []string
	Checked       bool   // the system checks ran (a drill on its sandbox)
	Report        string // path of the written report
	Markdown      string // the report's text
}

// Close closes an incident the one way every front end does: a drill on
// its sandbox gets drbook's system checks first, recorded as a note (a
// drill is the one place drbook can tell whether the fault is gone); a
// missing summary becomes a tally of the steps; then the incident is
// closed and its post-incident report written to o.ReportDir.
//
// A close refused by the incident (already closed, an action running)
// returns its error and writes nothing. The report is written even when
// ctx is cancelled after the close.
func Close(ctx context.Context, in *incident.Incident, store *incident.Store, o CloseOptions) (Closed, error) {
	st := in.State()
	c := Closed{Outcome: o.Outcome, Summary: o.Summary}
	if root := checkedRoot(st); st.Declaration.Mode == incident.Drill && root != "" && sandbox.IsSandbox(root) {
		var out strings.Builder
		w := io.Writer(&out)
		if o.Out != nil {
			w = io.MultiWriter(&out, o.Out)
		}
		failed, err := SystemCheck(ctx, root, w)
		if err != nil {
			return c, err
		}
		c.CheckFailures, c.Checked = failed, true
		if err := in.Note(strings.TrimSpace(out.String())); err != nil {
			return c, fmt.Errorf("close: %w", err)
		}
		if len(failed) > 0 && c.Summary == "" {
			c.Summary = "closed with system checks still failing: " + strings.Join(failed, "; ")
		}
	}
	if o.Decide != nil {
		c.Outcome, c.Summary = o.Decide(c.CheckFailures)
	}
	if c.Summary == "" {
		c.Summary = StepTally(in.State(), o.Via)
	}
	if err := in.Close(c.Outcome, c.Summary); err != nil {
		return c, err
	}
	path, md, err := WriteReport(context.WithoutCancel(ctx), store, in.State(), in.Now(), o.ReportDir)
	if err != nil {
		return c, err
	}
	c.Report, c.Markdown = path, md
	return c, nil
}

// StepTally is the closing summary when the operator gave none, so the
// report never says "No summary given" about an incident it can describe:
// "closed in the TUI: 24 of 27 steps done, 2 skipped, 1 failed".
func StepTally(st *incident.State, via string) string {
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
	head := "closed"
	if via != "" {
		head += " " + via
	}
	return fmt.Sprintf("%s: %d of %d steps done, %d skipped, %d failed", head, done, total, skipped, failed)
}

// checkedRoot is the system a drill is judged on: its sandbox, or, when
// the drill failed over to a secondary site (a standby-promote that
// succeeded), that secondary: a site failover leaves the primary dead on
// purpose.
func checkedRoot(st *incident.State) string {
	root := st.Declaration.Root
	for i := len(st.Runs) - 1; i >= 0; i-- {
		r := st.Runs[i]
		if r.Action != "standby-promote" || r.Status != string(steps.StatusOK) {
			continue
		}
		sec, err := standby.SecondaryRoot(steps.Env{Root: root, Drill: true}, r.Params["secondary"])
		if err == nil && sandbox.IsSandbox(sec) {
			return sec
		}
	}
	return root
}
