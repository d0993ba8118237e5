package incident

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Dur is a duration that marshals to JSON as Go's duration string ("1h5m0s").
type Dur time.Duration

// MarshalJSON implements json.Marshaler.
func (d Dur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads Go's duration string back (evidence files are read).
func (d *Dur) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Dur(v)
	return nil
}

// Report is the post-incident report of plan section 6, as data; it
// marshals to the report's JSON form and Markdown renders it.
type Report struct {
	ID                    string            `json:"id"`
	Title                 string            `json:"title"`
	Runbook               string            `json:"runbook"`
	RunbookTitle          string            `json:"runbook_title"`
	Mode                  Mode              `json:"mode"`
	DrillTest             string            `json:"drill_test,omitempty"`
	Scenario              string            `json:"scenario,omitempty"`
	Speed                 float64           `json:"speed,omitempty"`
	Severity              int               `json:"severity"`
	SeverityAtDeclaration int               `json:"severity_at_declaration"`
	Status                Status            `json:"status"`
	Summary               string            `json:"summary"`
	Operator              string            `json:"operator"`
	GeneratedAt           time.Time         `json:"generated_at"`
	Times                 ReportTimes       `json:"times"`
	Objectives            []ReportObjective `json:"objectives"`
	Phases                []PhaseClock      `json:"phases"`
	Skipped               []ReportStep      `json:"skipped_steps"`
	Failed                []ReportStep      `json:"failed_steps"`
	// WithFindings are steps done with findings: the action did its job
	// and left something to look at (a check that found damage, a kill
	// switch that halted with the flag file alone).
	WithFindings []ReportStep   `json:"steps_with_findings"`
	ByHand       []ReportStep   `json:"done_by_hand,omitempty"` // action steps marked done that drbook did not run
	Actions      []ReportAction `json:"actions"`
	Notes        []Note         `json:"notes"`
	Comms        []Message      `json:"communications"`
	Timeline     []ReportEvent  `json:"timeline"`
	// The review's sections, left empty for the post-incident review.
	RootCause      string   `json:"root_cause"`
	LessonsLearned string   `json:"lessons_learned"`
	ActionItems    []string `json:"action_items"`
	// Chain is the timeline's verification, when the caller checked it.
	Chain *VerifyResult `json:"chain,omitempty"`
}

// ReportTimes are the incident's key moments.
type ReportTimes struct {
	Detected     time.Time `json:"detected"`
	Declared     time.Time `json:"declared"`
	FirstAck     time.Time `json:"first_acknowledged,omitzero"`
	RTOPhase     string    `json:"rto_phase"`
	RTOPhaseDone time.Time `json:"rto_phase_done,omitzero"`
	Closed       time.Time `json:"closed,omitzero"`
	Elapsed      Dur       `json:"elapsed"`
}

// ReportObjective is one objective against what was achieved.
type ReportObjective struct {
	Name      string  `json:"name"`
	Objective Dur     `json:"objective"`
	Achieved  *Dur    `json:"achieved,omitempty"` // nil when not (yet) known
	Verdict   Verdict `json:"verdict"`
}

// ReportStep is a skipped or failed step.
type ReportStep struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Phase  string    `json:"phase"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// Findings, for a step done with findings, one per line.
	Findings []string `json:"findings,omitempty"`
}

// ReportAction is one action run.
type ReportAction struct {
	Step       string    `json:"step"`
	Action     string    `json:"action"`
	Mode       string    `json:"mode"`
	StartedAt  time.Time `json:"started_at"`
	Duration   Dur       `json:"duration"`
	Status     string    `json:"status"`
	Summary    string    `json:"summary,omitempty"`
	ExitCode   int       `json:"exit_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	Findings   []string  `json:"findings,omitempty"`
	Truncated  int64     `json:"output_bytes_not_kept,omitempty"`
	BackupTime time.Time `json:"backup_time,omitzero"`
}

// ReportEvent is a timeline row.
type ReportEvent struct {
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Kind  Kind      `json:"kind"`
	Actor string    `json:"actor,omitempty"`
	Text  string    `json:"text"`
}

// BuildReport assembles the report of st, with its timeline, at incident
// time now (for an open incident; a closed one is reported as closed).
func BuildReport(st *State, events []Event, now time.Time) *Report {
	if red := redactExport(events); len(events) > 0 && &red[0] != &events[0] {
		// Something recorded is secret now: report from the redacted
		// timeline alone.
		if rst, err := Rebuild(red); err == nil {
			st = rst
		}
		events = red
	}
	d := st.Declaration
	c := st.Clocks(now)
	r := &Report{
		ID: st.ID, Title: d.Title, Runbook: d.Runbook.ID, RunbookTitle: d.Runbook.Title, Mode: d.Mode,
		DrillTest: d.DrillTest, Scenario: d.Scenario, Speed: d.Speed, Severity: st.Severity, SeverityAtDeclaration: d.Severity,
		Status: st.Status, Summary: st.Summary, Operator: d.Operator.String(), GeneratedAt: now,
		Times: ReportTimes{Detected: d.DetectedAt, Declared: d.DeclaredAt, FirstAck: st.FirstAck, RTOPhase: d.Runbook.RTOPhase,
			Closed: st.ClosedAt, Elapsed: Dur(c.Elapsed)},
		Phases: c.Phases, Notes: st.Notes, Comms: st.Comms,
		Skipped: []ReportStep{}, Failed: []ReportStep{}, WithFindings: []ReportStep{}, Actions: []ReportAction{}, ActionItems: []string{},
	}
	if p := st.Phase(d.Runbook.RTOPhase); p != nil {
		r.Times.RTOPhaseDone = p.CompletedAt
	}
	obj := func(name string, o time.Duration, achieved *time.Duration, v Verdict) {
		ro := ReportObjective{Name: name, Objective: Dur(o), Verdict: v}
		if achieved != nil {
			a := Dur(*achieved)
			ro.Achieved = &a
		}
		r.Objectives = append(r.Objectives, ro)
	}
	var resp *time.Duration
	if !c.Response.Acked.IsZero() {
		x := c.Response.Acked.Sub(c.Start)
		resp = &x
	}
	obj(fmt.Sprintf("Response (severity %d)", c.Response.Severity), c.Response.Objective, resp, c.Response.Verdict)
	var rto, mtd, rpo *time.Duration
	if !c.RTO.Stopped.IsZero() {
		rto = &c.RTO.Took
	}
	obj("RTO", c.RTO.Objective, rto, c.RTO.Verdict)
	if !c.RPO.BackupTime.IsZero() {
		rpo = &c.RPO.Achieved
	}
	obj("RPO", c.RPO.Objective, rpo, c.RPO.Verdict)
	if !c.MTD.Stopped.IsZero() {
		mtd = &c.MTD.Took
	}
	obj("MTD", c.MTD.Objective, mtd, c.MTD.Verdict)
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			rs := ReportStep{ID: s.ID, Title: s.Title, Phase: p.ID, Reason: s.Reason, At: s.EndedAt}
			switch s.Status {
			case StepDone:
				if strings.HasPrefix(s.Reason, "marked done by hand") {
					r.ByHand = append(r.ByHand, rs)
				}
				if len(s.Findings) > 0 {
					rs.Findings = s.Findings
					r.WithFindings = append(r.WithFindings, rs)
				}
			case StepSkipped:
				r.Skipped = append(r.Skipped, rs)
			case StepFailed, StepInterrupted:
				if s.Status == StepInterrupted {
					rs.Reason = "interrupted: " + rs.Reason
				}
				r.Failed = append(r.Failed, rs)
			}
		}
	}
	for _, a := range st.Runs {
		status := a.Status
		if status == "" {
			status = "running"
		}
		r.Actions = append(r.Actions, ReportAction{Step: a.Step, Action: a.Action, Mode: a.Mode, StartedAt: a.StartedAt,
			Duration: Dur(a.Duration), Status: status, Summary: a.Summary, ExitCode: a.ExitCode, Error: a.Error, Findings: a.Findings,
			Truncated: a.Truncated, BackupTime: a.BackupTime})
	}
	for _, f := range st.Findings {
		r.ActionItems = append(r.ActionItems, fmt.Sprintf("%s (owner %s, due %s)", f.Text, f.Owner, f.Due))
	}
	r.Timeline = make([]ReportEvent, 0, len(events))
	for _, ev := range events {
		r.Timeline = append(r.Timeline, ReportEvent{Seq: ev.Seq, At: ev.At, Kind: ev.Kind, Actor: ev.Actor, Text: Describe(ev)})
	}
	if r.Notes == nil {
		r.Notes = []Note{}
	}
	if r.Comms == nil {
		r.Comms = []Message{}
	}
	return r
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes the report as Markdown.
func (r *Report) Markdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	since := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return FormatDuration(t.Sub(r.Times.Detected))
	}
	p("# Post-incident report: %s\n\n", r.ID)
	p("%s\n\n", r.Title)
	p("| Incident | %s |\n|---|---|\n", r.ID)
	p("| Runbook | %s (%s) |\n", oneLine(r.Runbook), oneLine(r.RunbookTitle))
	mode := string(r.Mode)
	if r.Mode == Drill {
		var extra []string
		if r.DrillTest != "" {
			extra = append(extra, "scheduled test: "+r.DrillTest)
		}
		if r.Scenario != "" {
			extra = append(extra, "scenario: "+r.Scenario)
		}
		if r.Speed != 0 {
			extra = append(extra, fmt.Sprintf("speed %gx", r.Speed))
		}
		if len(extra) > 0 {
			mode += " (" + strings.Join(extra, "; ") + ")"
		}
	}
	p("| Mode | %s |\n", oneLine(mode))
	sev := fmt.Sprint(r.Severity)
	if r.Severity != r.SeverityAtDeclaration {
		sev += fmt.Sprintf(" (declared %d)", r.SeverityAtDeclaration)
	}
	p("| Severity | %s |\n| Status | %s |\n| Operator | %s |\n\n", sev, r.Status, oneLine(r.Operator))

	p("## Summary\n\n")
	if r.Summary != "" {
		p("%s\n\n", r.Summary)
	} else {
		p("_No summary given._\n\n")
	}

	p("## Times\n\n")
	if r.Speed > 1 {
		p("_Drill clock at %gx: these times, the timeline's and the objectives' durations are drill time, which runs %g times faster than the wall clock while the drill is attended (it stops between sessions; see the resumed events)._\n\n", r.Speed, r.Speed)
	}
	p("| Moment | Time | Since detection |\n|---|---|---|\n")
	p("| Detected | %s | 0s |\n", FormatTime(r.Times.Detected))
	p("| Declared | %s | %s |\n", FormatTime(r.Times.Declared), since(r.Times.Declared))
	p("| First step acknowledged | %s | %s |\n", FormatTime(r.Times.FirstAck), since(r.Times.FirstAck))
	p("| RTO phase done (%s) | %s | %s |\n", oneLine(r.Times.RTOPhase), FormatTime(r.Times.RTOPhaseDone), since(r.Times.RTOPhaseDone))
	p("| Closed | %s | %s |\n\n", FormatTime(r.Times.Closed), since(r.Times.Closed))

	p("## Objectives\n\n| Objective | Target | Achieved | Result |\n|---|---|---|---|\n")
	for _, o := range r.Objectives {
		target, ach := "-", "-"
		if o.Objective > 0 {
			target = FormatDuration(time.Duration(o.Objective))
		}
		if o.Achieved != nil {
			ach = FormatDuration(time.Duration(*o.Achieved))
		}
		p("| %s | %s | %s | %s |\n", o.Name, target, ach, o.Verdict)
	}
	p("\n## Phases\n\n| Phase | Planned window | Started | Completed | Took | Result |\n|---|---|---|---|---|---|\n")
	for _, ph := range r.Phases {
		took := "-"
		if !ph.CompletedAt.IsZero() {
			took = FormatDuration(ph.Took)
		}
		p("| %s | %s | %s | %s | %s | %s |\n", oneLine(ph.Title), formatWindow(ph.Window), since(ph.StartedAt), since(ph.CompletedAt), took, ph.Status)
	}
	stepList := func(title string, steps []ReportStep) {
		p("\n## %s\n\n", title)
		if len(steps) == 0 {
			p("None.\n")
			return
		}
		for _, s := range steps {
			p("- **%s** (`%s`, phase `%s`, at %s): %s\n", oneLine(s.Title), s.ID, s.Phase, since(s.At), oneLine(s.Reason))
		}
	}
	stepList("Skipped steps", r.Skipped)
	stepList("Failed steps", r.Failed)
	p("\n## Steps done with findings\n\n")
	if len(r.WithFindings) == 0 {
		p("None.\n")
	}
	for _, s := range r.WithFindings {
		p("- **%s** (`%s`, phase `%s`, at %s):\n", oneLine(s.Title), s.ID, s.Phase, since(s.At))
		for _, f := range s.Findings {
			p("  - %s\n", oneLine(f))
		}
	}
	if len(r.ByHand) > 0 { // only when it happened: most reports have none
		stepList("Done by hand (drbook did not run their action)", r.ByHand)
	}

	p("\n## Actions\n\n")
	if len(r.Actions) == 0 {
		p("None.\n")
	} else {
		p("| Step | Action | Mode | Started | Duration | Result | Summary |\n|---|---|---|---|---|---|---|\n")
		for _, a := range r.Actions {
			sum := a.Summary
			if a.Error != "" {
				sum = strings.TrimSpace(sum + " (error: " + a.Error + ")")
			}
			if a.Truncated > 0 {
				sum += fmt.Sprintf(" (output capped: %d bytes not kept)", a.Truncated)
			}
			step := "`" + a.Step + "`"
			if a.Step == "" {
				step = "(command line)"
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", step, a.Action, a.Mode, since(a.StartedAt),
				FormatDuration(time.Duration(a.Duration)), RunStatus(a.Status, a.Findings), oneLine(sum))
		}
	}
	p("\n## Communications\n\n")
	if len(r.Comms) == 0 {
		p("None recorded.\n")
	}
	for _, m := range r.Comms {
		to := ""
		if m.To != "" {
			to = " to " + m.To
		}
		p("- %s: %s%s: %s\n", since(m.At), m.Template, oneLine(to), oneLine(m.Subject))
	}
	p("\n## Notes\n\n")
	if len(r.Notes) == 0 {
		p("None.\n")
	}
	for _, n := range r.Notes {
		p("- %s (%s, %s): %s\n", since(n.At), FormatTime(n.At), oneLine(n.Actor), oneLine(n.Text))
	}
	p("\n## Timeline\n\n| # | Time | Since detection | Actor | Event |\n|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		p("| %d | %s | %s | %s | %s |\n", e.Seq, FormatTime(e.At), since(e.At), oneLine(e.Actor), oneLine(e.Text))
	}
	if r.Chain != nil {
		p("\n## Timeline integrity\n\n")
		if r.Chain.OK {
			p("The hash chain of all %d events verifies.\n", r.Chain.Events)
		} else {
			p("**The hash chain does not verify**: %s.\n", r.Chain.Problem)
		}
	}
	p("\n## Root cause analysis\n\n_To be completed at the post-incident review (within 48 hours)._\n")
	p("\n## Lessons learned\n\n_To be completed at the post-incident review._\n")
	if len(r.ActionItems) == 0 {
		p("\n## Action items\n\n_To be completed at the post-incident review._\n")
	} else {
		p("\n## Action items\n\n")
		for _, a := range r.ActionItems {
			p("- %s\n", oneLine(a))
		}
	}
	return b.Flush()
}
