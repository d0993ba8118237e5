package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/notify"
	"github.com/drbook/drbook/steps/sandbox"
)

// stateOptions are the flags every incident command shares.
type stateOptions struct {
	stateDir string
	operator string
	s3       string
	rep      *incident.Replicator // set by replicator when --state-s3 names one
}

func (o *stateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

// addS3 adds --state-s3 to the commands that replicate or read S3.
func (o *stateOptions) addS3(fs *pflag.FlagSet) {
	fs.StringVar(&o.s3, "state-s3", "", "replicate timelines to s3://bucket/prefix (default $DRBOOK_STATE_S3)")
}

// replicator sets o.rep from --state-s3 or $DRBOOK_STATE_S3 (nil if unset).
func (o *stateOptions) replicator(ctx context.Context, iox *IO, s *incident.Store) error {
	rep, err := stateReplicator(ctx, iox, o.s3, s)
	o.rep = rep
	return err
}

func (o *stateOptions) addOperator(fs *pflag.FlagSet) {
	fs.StringVar(&o.operator, "operator", "", "who is acting (default $SUDO_USER, else $USER; SSH client address from $SSH_CONNECTION)")
}

// dir is --state-dir, else $DRBOOK_STATE_DIR, else state.dir of the site
// configuration, else the default. A configuration that cannot be read
// leaves the choice to the environment and default: the command that needs
// the configuration itself says what is wrong with it.
func (o *stateOptions) dir(iox *IO) string {
	cfg, err := iox.Site()
	if err != nil {
		cfg = nil
	}
	return stateDirOr(iox, cfg, o.stateDir)
}

// open opens the state database. Commands that only read pass mustExist,
// so a mistyped --state-dir is reported rather than created.
func (o *stateOptions) open(cmd string, iox *IO, mustExist bool) (*incident.Store, error) {
	s, err := incident.OpenStoreWith(o.dir(iox), incident.StoreOptions{MustExist: mustExist})
	if err != nil {
		return nil, incidentErr(cmd, err)
	}
	return s, nil
}

func (o *stateOptions) op(iox *IO) incident.Operator {
	op := incident.OperatorFromEnv(iox.Getenv)
	if o.operator != "" {
		op.Name = o.operator
	}
	return op
}

// incidentErr maps the engine's errors to exit codes: what the operator
// typed or pointed at is wrong (2), or the incident is in a state that
// does not allow it (1).
func incidentErr(cmd string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	for _, e := range []error{incident.ErrNotFound, incident.ErrAmbiguous, incident.ErrUnknownStep, incident.ErrUnknownPhase,
		incident.ErrReasonRequired, incident.ErrNotDatabase, incident.ErrNewerSchema, incident.ErrLocked, incident.ErrReadOnly} {
		if errors.Is(err, e) {
			return usageErr("%s: %w", cmd, err)
		}
	}
	return failed(fmt.Errorf("%s: %w", cmd, err))
}

// resolveID turns an optional ID argument of a command that only reads
// (timeline, report, comms) into an incident id. Without one it takes the
// most recently active open incident, else the most recently written
// closed one, and says which on stderr: right after a drill closes, its
// report is what the operator wants.
func resolveID(ctx context.Context, cmd string, iox *IO, s *incident.Store, args []string) (string, error) {
	ref := ""
	if len(args) > 0 {
		ref = args[0]
	}
	id, err := s.Resolve(ctx, ref)
	if ref == "" && errors.Is(err, incident.ErrNotFound) {
		list, lerr := s.Incidents(ctx) // open ones first, most recently written first
		if lerr != nil {
			return "", incidentErr(cmd, lerr)
		}
		if len(list) == 0 {
			return "", incidentErr(cmd, &incident.Error{Err: incident.ErrNotFound, Detail: "no incidents yet",
				Hint: "declare one with 'drbook declare RUNBOOK' or run 'drbook drill'"})
		}
		fmt.Fprintf(iox.Stderr, "drbook: %s: no open incident; showing the most recent, %s (%s)\n", cmd, list[0].ID, list[0].Status)
		return list[0].ID, nil
	}
	if err != nil {
		return "", incidentErr(cmd, err)
	}
	return id, nil
}

// parseWhen reads a --detected-at time: RFC 3339, "YYYY-MM-DD HH:MM[:SS]"
// or "HH:MM" (UTC, today), or a duration ago ("20m", "1h30m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(s, "ago")), " ")); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			n := now.UTC()
			return time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-03-02T08:55:00Z), \"2026-03-02 08:55\", \"08:55\" (UTC) or a duration ago (20m)", s)
}

// incidentJSON is an incident's record for --json.
type incidentJSON struct {
	incident.Summary
	ElapsedSeconds int64 `json:"elapsed_seconds"`
	OnlyInS3       bool  `json:"only_in_s3,omitempty"` // 'drbook resume ID' rebuilds it here
}

const declareUsage = `
Usage: drbook declare RUNBOOK [--severity N] [--drill [--speed F]] [--title T]
                      [--detected-at TIME] [flags]

Declare an incident (or, with --drill, a drill) running RUNBOOK and print
its id; with --json, its record. For alert hooks and automation: the clocks
(RTO, RPO, MTD, phase windows, the severity's response time) start at
--detected-at, else now. Continue it in the TUI with 'drbook resume ID', or
from scripts with 'drbook step', 'drbook note' and 'drbook close'.

RUNBOOK is an embedded id (complete-system-recovery...), a Markdown file,
or the id of a runbook in a --runbooks folder.

TIME is RFC 3339 (2026-03-02T08:55:00Z), "2026-03-02 08:55", "08:55"
(UTC, today) or a duration ago ("20m").

Exit codes: 0 declared; 1 the state database refused the write;
2 usage error, unknown runbook, bad time, unreadable state database.
`

func runDeclare(ctx context.Context, iox *IO, args []string) error {
	var (
		so                                         stateOptions
		rbDirs                                     []string
		sev                                        int
		drill, asJSON                              bool
		speed                                      float64
		title, detected, root, test, scenario, imp string
	)
	fs := newFlagSet("declare", declareUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.StringArrayVar(&rbDirs, "runbooks", nil, "folder of extra runbooks, searched before the embedded ones (repeatable)")
	fs.IntVar(&sev, "severity", 0, "severity 1 (critical), 2 (high) or 3 (medium); default: the runbook's, else 2")
	fs.BoolVar(&drill, "drill", false, "a drill, not a live incident")
	fs.StringVar(&title, "title", "", "short description (default: the runbook's title)")
	fs.StringVar(&detected, "detected-at", "", "when the problem was detected, if earlier than now")
	fs.StringVar(&root, "root", "", "the system's root directory (default: the current directory for live incidents; for --drill, a drbook sandbox)")
	fs.StringVar(&test, "test", "", "drill: the scheduled test it counts as (see 'drbook drills'; default from the runbook)")
	fs.StringVar(&scenario, "scenario", "", "drill: the fault being exercised")
	fs.StringVar(&imp, "impact", "", "business impact, for the notification template")
	fs.Float64Var(&speed, "speed", 0, "drill: clock speed factor (60: one real minute counts as one hour)")
	fs.BoolVar(&asJSON, "json", false, "print the incident's record as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("declare: want one RUNBOOK, got %d arguments (run 'drbook declare --help')", fs.NArg())
	}
	// An empty argument ("$RUNBOOK" unset) must not silently mean the
	// default runbook.
	if strings.TrimSpace(fs.Arg(0)) == "" {
		return usageErr("declare: RUNBOOK is an empty argument (an unset variable?)")
	}
	if sev != 0 && (sev < 1 || sev > 3) {
		return usageErr("declare: --severity %d: want 1, 2 or 3", sev)
	}
	rb, err := runbook.Load(fs.Arg(0), rbDirs)
	if err != nil {
		return loadErr("declare", err)
	}
	now := time.Now()
	var det time.Time
	if detected != "" {
		if det, err = parseWhen(detected, now); err != nil {
			return usageErr("declare: --detected-at: %v", err)
		}
		if det.After(now) {
			return usageErr("declare: --detected-at %s is in the future", det.Format(time.RFC3339))
		}
	}
	mode := incident.Live
	if drill {
		mode = incident.Drill
	} else if test != "" || scenario != "" || speed != 0 {
		return usageErr("declare: --test, --scenario and --speed are for drills (add --drill)")
	}
	if speed < 0 || speed > 3600 {
		return usageErr("declare: --speed %g: want a factor between 1 and 3600", speed)
	}
	if test != "" {
		known := false
		var ids []string
		for _, t := range incident.Tests {
			known = known || t.ID == test
			ids = append(ids, t.ID)
		}
		if !known {
			return usageErr("declare: --test %q: want one of %s", test, strings.Join(ids, ", "))
		}
	}
	if root == "" && !drill {
		if root, err = os.Getwd(); err != nil {
			return usageErr("declare: %v", err)
		}
	}
	if root != "" {
		if root, err = filepath.Abs(root); err != nil {
			return usageErr("declare: --root: %v", err)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return usageErr("declare: --root %s: not a directory", root)
		}
		if drill && !sandbox.IsSandbox(root) {
			return usageErr("declare: --drill --root %s: not a drbook sandbox, and a drill never acts on a real system "+
				"(make one with 'drbook demo --root DIR', or run 'drbook drill')", root)
		}
	}
	s, err := so.open("declare", iox, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{Severity: sev, Mode: mode, Title: title, Operator: so.op(iox),
		DetectedAt: det, Root: root, Scenario: scenario, DrillTest: test, Impact: imp, Speed: speed}, incident.SystemClock{})
	if err != nil {
		return incidentErr("declare", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	if !asJSON {
		fmt.Fprintln(iox.Stdout, in.ID())
		return nil
	}
	return printIncident(ctx, iox.Stdout, s, in.ID())
}

func printIncident(ctx context.Context, w io.Writer, s *incident.Store, id string) error {
	list, err := s.Incidents(ctx)
	if err != nil {
		return incidentErr("incidents", err)
	}
	for _, sm := range list {
		if sm.ID == id {
			return writeJSON(w, incidentJSON{Summary: sm, ElapsedSeconds: int64(sm.Elapsed(time.Now()).Seconds())})
		}
	}
	return incidentErr("incidents", &incident.Error{Err: incident.ErrNotFound, Detail: id})
}

// attach opens an incident for one scripted change.
func attach(ctx context.Context, cmd string, iox *IO, so *stateOptions, ref string) (*incident.Store, *incident.Incident, error) {
	return attachWith(ctx, cmd, iox, so, ref, false)
}

// attachWith is attach; review opens a closed incident too, for what
// follows the close (findings, sign-offs).
func attachWith(ctx context.Context, cmd string, iox *IO, so *stateOptions, ref string, review bool) (*incident.Store, *incident.Incident, error) {
	s, err := so.open(cmd, iox, !so.hasS3(iox))
	if err != nil {
		return nil, nil, err
	}
	err = so.replicator(ctx, iox, s)
	if err == nil {
		err = fetchMissing(ctx, iox, so.rep, s, ref)
	}
	var id string
	if err == nil {
		id, err = s.Resolve(ctx, ref)
	}
	if err == nil {
		var in *incident.Incident
		in, err = incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox), Review: review})
		if err == nil {
			return s, in, nil
		}
	}
	s.Close()
	return nil, nil, incidentErr(cmd, err)
}

const stepUsage = `
Usage: drbook step ID STEP start|done|skip|fail [--reason R]

Record a step's progress in incident ID: started, done (--reason is an
optional note), skipped or failed (--reason required). STEP is the step's
id as 'drbook show RUNBOOK' lists it, the part after the phase
("kill-switch" for "immediate-actions/kill-switch"), or a unique beginning
of either ("activate-backup"). Completing a phase's last step completes
the phase; completing the RTO phase stops the RTO clock. This records what
the operator did; it runs nothing: a step whose action drbook did not run
is recorded as "marked done by hand".

Exit codes: 0 recorded; 1 the step or incident cannot do that now (already
done, closed incident); 2 usage error, unknown incident or step, missing
reason, unreadable state database.
`

func runStep(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var reason string
	fs := newFlagSet("step", stepUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.StringVar(&reason, "reason", "", "why it was skipped or failed; a note when done")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return usageErr("step: want ID STEP start|done|skip|fail, got %d arguments (run 'drbook step --help')", fs.NArg())
	}
	verb := fs.Arg(2)
	switch verb {
	case "start", "done", "skip", "fail":
	default:
		return usageErr("step: %q: want start, done, skip or fail", verb)
	}
	if (verb == "skip" || verb == "fail") && strings.TrimSpace(reason) == "" {
		return usageErr("step: %s needs --reason", verb)
	}
	s, in, err := attach(ctx, "step", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	stepID, err := resolveStep(in.State(), fs.Arg(1))
	if err != nil {
		return incidentErr("step", err)
	}
	switch verb {
	case "start":
		err = in.StartStep(stepID)
	case "done":
		err = in.DoneStep(stepID, reason)
	case "skip":
		err = in.SkipStep(stepID, reason)
	case "fail":
		err = in.FailStep(stepID, reason)
	}
	if err != nil {
		return incidentErr("step", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	st := in.State()
	fmt.Fprintf(iox.Stdout, "%s: %s %s\n", in.ID(), stepID, st.Step(stepID).Status)
	return nil
}

// resolveStep accepts a step id, the unique part of one after its phase,
// or a unique prefix of either: derived ids run to 40 characters
// ("activate-backup" for "immediate-actions/activate-backup-systems-if-available").
func resolveStep(st *incident.State, ref string) (string, error) {
	if st.Step(ref) != nil {
		return ref, nil
	}
	match := func(ok func(id, tail string) bool) []string {
		var found []string
		for _, p := range st.Phases {
			for _, s := range p.Steps {
				if ok(s.ID, s.ID[strings.LastIndex(s.ID, "/")+1:]) {
					found = append(found, s.ID)
				}
			}
		}
		return found
	}
	found := match(func(id, tail string) bool { return tail == ref })
	if len(found) == 0 && ref != "" {
		found = match(func(id, tail string) bool { return strings.HasPrefix(tail, ref) || strings.HasPrefix(id, ref) })
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", &incident.Error{Err: incident.ErrUnknownStep, Detail: ref, Hint: "list them with 'drbook show " + st.Declaration.Runbook.ID + "'"}
	}
	return "", &incident.Error{Err: incident.ErrUnknownStep, Detail: ref, Hint: "ambiguous: " + strings.Join(found, ", ")}
}

const noteUsage = `
Usage: drbook note ID TEXT... [--severity N]

Add a note to incident ID's timeline (the words of TEXT are joined). With
--severity, change the incident's severity (1 critical, 2 high, 3 medium)
and record TEXT as the reason: the response time and the update interval
of the communications follow the new severity.

Exit codes: 0 recorded; 1 the incident is closed; 2 usage error, unknown
incident, unreadable state database.
`

func runNote(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	fs := newFlagSet("note", noteUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	var sev int
	fs.IntVar(&sev, "severity", 0, "change the severity to N (1, 2 or 3); TEXT is the reason")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usageErr("note: want ID TEXT (run 'drbook note --help')")
	}
	text := strings.TrimSpace(strings.Join(fs.Args()[1:], " "))
	if text == "" {
		return usageErr("note: empty TEXT")
	}
	if fs.Changed("severity") && (sev < 1 || sev > 3) {
		return usageErr("note: --severity %d: want 1, 2 or 3", sev)
	}
	s, in, err := attach(ctx, "note", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	if fs.Changed("severity") && in.State().Severity != sev {
		if err := in.SetSeverity(sev, text); err != nil {
			return incidentErr("note", err)
		}
		pushNow(ctx, iox, so.rep, in.ID())
		return nil
	}
	if err := in.Note(text); err != nil {
		return incidentErr("note", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	return nil
}

const closeUsage = `
Usage: drbook close ID --resolved|--abandoned [--summary S]

Close incident ID. Resolving it stops the RTO clock if its phase has not
completed yet. A drill's sandbox gets drbook's system checks first,
recorded in the timeline (is the fault really gone?). Without --summary
the summary is a tally of the steps. The post-incident report is written
to STATE_DIR/reports/ID.md, as the TUI and 'drbook drill --auto' write it,
and the command says where.

Exit codes: 0 closed; 1 already closed, or an action is still running;
2 usage error, unknown incident, unreadable state database.
`

func runClose(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var resolved, abandoned bool
	var summary string
	fs := newFlagSet("close", closeUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.BoolVar(&resolved, "resolved", false, "the system is recovered")
	fs.BoolVar(&abandoned, "abandoned", false, "the incident was given up (false alarm, handed over)")
	fs.StringVar(&summary, "summary", "", "one or two sentences for the report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("close: want one ID (run 'drbook close --help')")
	}
	if resolved == abandoned {
		return usageErr("close: say --resolved or --abandoned")
	}
	s, in, err := attach(ctx, "close", iox, &so, fs.Arg(0))
	if err != nil {
		return err
	}
	defer s.Close()
	outcome := incident.StatusResolved
	if abandoned {
		outcome = incident.StatusAbandoned
	}
	cl, err := drill.Close(ctx, in, s, drill.CloseOptions{Outcome: outcome, Summary: summary,
		Via: "with drbook close", ReportDir: drill.ReportDir(so.dir(iox))})
	if err != nil {
		if in.State().Status != incident.StatusOpen { // closed, but the report could not be written
			return failed(fmt.Errorf("close: %s is %s, but its report: %w", in.ID(), in.State().Status, err))
		}
		return incidentErr("close", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	c := in.Clocks()
	fmt.Fprintf(iox.Stdout, "%s: %s after %s; RTO %s\n", in.ID(), outcome, incident.FormatDuration(c.Elapsed), c.RTO.Verdict)
	for _, f := range cl.CheckFailures {
		fmt.Fprintf(iox.Stdout, "system check still failing: %s\n", f)
	}
	fmt.Fprintf(iox.Stdout, "Report written to %s\n", cl.Report)
	return nil
}

const incidentsUsage = `
Usage: drbook incidents [--json] [--state-s3 s3://bucket/prefix]

List incidents and drills, open ones first, with runbook, mode, severity,
elapsed time (drill time for sped-up drills) and status. With --state-s3
(or $DRBOOK_STATE_S3) incidents only S3 holds, written by another site,
are listed too; 'drbook resume ID' rebuilds one here.

Exit codes: 0 listed; 2 usage error or unreadable state database.
`

func runIncidents(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON bool
	fs := newFlagSet("incidents", incidentsUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("incidents: unexpected argument %q", fs.Arg(0))
	}
	var list, remote []incident.Summary
	s, err := so.open("incidents", iox, !so.hasS3(iox))
	switch {
	case errors.Is(err, incident.ErrNotFound): // no state database yet: no incidents
	case err != nil:
		return err
	default:
		defer s.Close()
		if list, err = s.Incidents(ctx); err != nil {
			return incidentErr("incidents", err)
		}
		if err := so.replicator(ctx, iox, s); err != nil {
			return err
		}
		remote = remoteOnly(ctx, iox, so.rep)
	}
	now := time.Now()
	if asJSON {
		out := make([]incidentJSON, 0, len(list)+len(remote))
		for i, sm := range append(list, remote...) {
			out = append(out, incidentJSON{sm, int64(sm.Elapsed(now).Seconds()), i >= len(list)})
		}
		return writeJSON(iox.Stdout, out)
	}
	onlyS3 := map[string]bool{}
	for _, sm := range remote {
		onlyS3[sm.ID] = true
	}
	list = append(list, remote...)
	if len(list) == 0 {
		fmt.Fprintln(iox.Stdout, "No incidents. Declare one with 'drbook declare RUNBOOK' or start a drill with 'drbook drill'.")
		return nil
	}
	// The id says the mode (DRILL-... or INC-...). A title that is not
	// just the runbook's name goes on a line of its own under the runbook,
	// so that both fit 80 columns; --json has everything.
	rows := [][]string{{"ID", "SEV", "STATUS", "ELAPSED", "RUNBOOK"}}
	for _, sm := range list {
		rows = append(rows, []string{sm.ID, strconv.Itoa(sm.Severity), string(sm.Status),
			incident.FormatDuration(sm.Elapsed(now)), sm.Runbook})
		if t := strings.TrimSpace(sm.Title); t != "" && !strings.EqualFold(strings.ReplaceAll(t, " ", "-"), sm.Runbook) {
			rows = append(rows, []string{"", "", "", "", strconv.Quote(t)})
		}
		if onlyS3[sm.ID] {
			rows = append(rows, []string{"", "", "", "", "in S3 only: drbook resume ID"})
		}
	}
	return writeTable(iox.Stdout, termWidth, rows)
}

// termWidth is the width human tables are fitted to: an SSH session at
// 80x24 must read them without wrapping.
const termWidth = 80

// writeTable writes rows as columns two spaces apart. Every column but the
// last is as wide as its widest cell and never cut; the last is cut with
// "…" so that each line fits width.
func writeTable(w io.Writer, width int, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		used := 0
		for i, c := range r[:len(r)-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			used += widths[i] + 2
		}
		last := []rune(r[len(r)-1])
		if room := width - used; len(last) > room {
			last = append(last[:max(room-1, 0)], '…')
		}
		b.WriteString(strings.TrimRight(string(last), " "))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const timelineUsage = `
Usage: drbook timeline [ID] [--json|--csv]
       drbook timeline verify [ID|--all] [--json]

Print incident ID's timeline (default: the most recently active open
incident, else the most recent one), as text, JSON or CSV. Secrets were
never recorded: they show as [REDACTED].

'timeline verify' recomputes the SHA-256 hash chain and names the first
event that was edited, deleted or reordered since it was recorded. With
--state-s3 (or $DRBOOK_STATE_S3) it also compares every event, hash by
hash, with the copy replicated to S3: a local edit is caught even when
every hash after it was recomputed.

Exit codes: 0 printed, or the chain verifies; 1 the chain is broken, or
differs from S3; 2 usage error, unknown incident, unreadable state
database or S3.
`

func runTimeline(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON, asCSV, all bool
	fs := newFlagSet("timeline", timelineUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	fs.BoolVar(&asCSV, "csv", false, "print CSV: seq, at, kind, phase, step, actor, text, data, hash")
	fs.BoolVar(&all, "all", false, "verify: every incident")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	verify := len(rest) > 0 && rest[0] == "verify"
	if verify {
		rest = rest[1:]
	}
	if len(rest) > 1 || asJSON && asCSV || all && (!verify || len(rest) > 0) || verify && asCSV {
		return usageErr("timeline: bad arguments (run 'drbook timeline --help')")
	}
	s, err := so.open("timeline", iox, !so.hasS3(iox))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	if len(rest) == 1 && !verify {
		if err := fetchMissing(ctx, iox, so.rep, s, rest[0]); err != nil {
			return incidentErr("timeline", err)
		}
	}
	if verify && so.rep != nil {
		return verifyReplicated(ctx, iox, s, so.rep, rest, all, asJSON)
	}
	if verify {
		return verifyTimelines(ctx, iox, s, rest, all, asJSON)
	}
	id, err := resolveID(ctx, "timeline", iox, s, rest)
	if err != nil {
		return err
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		return incidentErr("timeline", err)
	}
	switch {
	case asJSON:
		return incident.WriteTimelineJSON(iox.Stdout, evs)
	case asCSV:
		return incident.WriteTimelineCSV(iox.Stdout, evs)
	}
	return incident.WriteTimelineText(iox.Stdout, evs)
}

func verifyTimelines(ctx context.Context, iox *IO, s *incident.Store, rest []string, all, asJSON bool) error {
	var ids []string
	if all {
		list, err := s.Incidents(ctx)
		if err != nil {
			return incidentErr("timeline verify", err)
		}
		for _, sm := range list {
			ids = append(ids, sm.ID)
		}
	} else {
		id, err := resolveID(ctx, "timeline verify", iox, s, rest)
		if err != nil {
			return err
		}
		ids = []string{id}
	}
	results := make([]incident.VerifyResult, 0, len(ids))
	bad := 0
	for _, id := range ids {
		res, err := s.Verify(ctx, id)
		if err != nil {
			return incidentErr("timeline verify", err)
		}
		if !res.OK {
			bad++
		}
		results = append(results, res)
	}
	if asJSON {
		var err error
		if all {
			err = writeJSON(iox.Stdout, results)
		} else {
			err = writeJSON(iox.Stdout, results[0])
		}
		if err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(iox.Stdout, "%s: ok, %d events, hash chain intact\n", r.Incident, r.Events)
			} else {
				fmt.Fprintf(iox.Stdout, "%s: BROKEN at event %d: %s\n", r.Incident, r.BadSeq, r.Problem)
			}
		}
	}
	if bad > 0 {
		return failed(fmt.Errorf("timeline verify: %d of %d timelines do not verify", bad, len(results)))
	}
	return nil
}

const reportUsage = `
Usage: drbook report [ID] [--format md|json] [-o FILE]

Write the post-incident report of the plan's section 6 for incident ID
(default: the most recently active open incident, else the most recent
one): summary, severity, mode, times, RTO/RPO/MTD and the response time
against their objectives, each phase's planned window against its actual
time, skipped and failed steps with reasons, actions with durations and
results, communications, notes, the full timeline, its hash-chain check,
and empty sections for root cause, lessons learned and action items.

-o writes FILE (refusing to replace an existing one unless --force).

Exit codes: 0 written; 1 written, but the timeline's hash chain is broken;
2 usage error, unknown incident, unreadable state database, FILE exists.
`

func runReport(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var format, out string
	var force bool
	fs := newFlagSet("report", reportUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	fs.StringVar(&format, "format", "md", "md or json")
	fs.StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	fs.BoolVar(&force, "force", false, "with -o: replace an existing FILE")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || format != "md" && format != "json" {
		return usageErr("report: want [ID] and --format md or json (run 'drbook report --help')")
	}
	if out != "" && !force {
		if _, err := os.Lstat(out); err == nil {
			return usageErr("report: %s exists; choose another -o or add --force", out)
		}
	}
	s, err := so.open("report", iox, !so.hasS3(iox))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	if fs.NArg() == 1 {
		if err := fetchMissing(ctx, iox, so.rep, s, fs.Arg(0)); err != nil {
			return incidentErr("report", err)
		}
	}
	id, err := resolveID(ctx, "report", iox, s, fs.Args())
	if err != nil {
		return err
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		return incidentErr("report", err)
	}
	st, err := incident.Rebuild(evs)
	if err != nil {
		return incidentErr("report", err)
	}
	chain, err := s.Verify(ctx, id)
	if err != nil {
		return incidentErr("report", err)
	}
	now := incident.Scaled(incident.SystemClock{}, st.Declaration.DeclaredAt, st.Declaration.Speed).Now()
	r := incident.BuildReport(st, evs, now)
	r.Chain = &chain
	write := func(w io.Writer) error {
		if format == "json" {
			return r.JSON(w)
		}
		return r.Markdown(w)
	}
	if out == "" {
		err = write(iox.Stdout)
	} else {
		err = writeFileAtomic(out, write)
	}
	if err != nil {
		return failed(fmt.Errorf("report: %w", err))
	}
	if !chain.OK {
		return failed(fmt.Errorf("report: the timeline of %s does not verify: %s", id, chain.Problem))
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in its directory,
// so a failure never leaves half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const commsUsage = `
Usage: drbook comms [ID] --template notification|update [--record] [--to WHO]
                    [--json]
       drbook comms [ID] --template notification|update --send [--to WHO]
       drbook comms [ID] --retry

Fill one of the plan's communication templates (section 5.2) from incident
ID (default: the most recently active open incident, else the most recent
one): the incident notification, or the recovery status update with
progress (steps done or skipped of all steps), completed and remaining
actions, the estimated completion and the next update time (severity 1: 30
minutes, 2: 1 hour, 3: 4 hours).

Without --send or --record it only prints the message. --record adds it to
the timeline as sent by hand. --send records it and delivers it through
the site configuration's channels (notify.webhooks: Slack-compatible
webhooks; notify.smtp: mail over STARTTLS), recording every attempt (sent,
failed or not sent, and why). Delivery never blocks the incident: a
channel that is down is reported with whom to phone instead. --retry sends
the latest message again through the channels that did not deliver it.

Exit codes: 0 printed, recorded or sent everywhere; 1 a channel did not
deliver (the reminder says whom to phone), or the incident is closed;
2 usage error, unknown incident, unreadable state database.
`

func runComms(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var tmpl, to string
	var record, send, retry, asJSON bool
	fs := newFlagSet("comms", commsUsage, iox)
	so.AddFlags(fs)
	so.addOperator(fs)
	fs.StringVar(&tmpl, "template", "", "notification or update")
	fs.BoolVar(&record, "record", false, "record the message in the timeline as sent by hand")
	fs.BoolVar(&send, "send", false, "record and deliver through the site's channels")
	fs.BoolVar(&retry, "retry", false, "send the latest message again where it did not arrive")
	fs.StringVar(&to, "to", "", "with --record or --send: who it is for")
	fs.BoolVar(&asJSON, "json", false, "print JSON: template, subject, body (and deliveries)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("comms: want at most one ID (run 'drbook comms --help')")
	}
	if (record && send) || (retry && (record || send)) {
		return usageErr("comms: --record, --send and --retry exclude each other")
	}
	if !retry && tmpl != "notification" && tmpl != "update" {
		return usageErr("comms: --template notification or --template update")
	}
	s, err := so.open("comms", iox, true)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := resolveID(ctx, "comms", iox, s, fs.Args())
	if err != nil {
		return err
	}
	var msg incident.Message
	switch {
	case send || retry:
		return sendComms(ctx, iox, s, &so, id, tmpl, to, retry, asJSON)
	case record:
		in, err := incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox)})
		if err != nil {
			return incidentErr("comms", err)
		}
		if msg, err = in.Notify(tmpl, to); err != nil {
			return incidentErr("comms", err)
		}
	default:
		st, err := s.Load(ctx, id)
		if err != nil {
			return incidentErr("comms", err)
		}
		now := incident.Scaled(incident.SystemClock{}, st.Declaration.DeclaredAt, st.Declaration.Speed).Now()
		if msg, err = incident.Comms(st, tmpl, now); err != nil {
			return usageErr("%v", err)
		}
	}
	if asJSON {
		return writeJSON(iox.Stdout, msg)
	}
	_, err = io.WriteString(iox.Stdout, msg.Body)
	return err
}

// sendComms is comms --send and --retry: record, deliver, record each
// attempt, and exit 1 when a channel did not deliver.
func sendComms(ctx context.Context, iox *IO, s *incident.Store, so *stateOptions, id, tmpl, to string, retry, asJSON bool) error {
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	in, err := incident.Open(ctx, s, id, nil, incident.SystemClock{}, incident.OpenOptions{Operator: so.op(iox)})
	if err != nil {
		return incidentErr("comms", err)
	}
	root := cfg.Resolve(cfg.System.Root)
	if root == "" {
		root = in.State().Declaration.Root
	}
	sender, secrets := siteSender(iox, cfg, root)
	in.AddSecrets(secrets...)
	in.SetSender(sender)
	var msg incident.Message
	var ds []notify.Delivery
	if retry {
		msg, ds, err = in.Retry(ctx)
	} else {
		msg, ds, err = in.Send(ctx, tmpl, to)
	}
	if err != nil {
		return incidentErr("comms", err)
	}
	missed := len(notify.Outstanding(ds))
	if asJSON {
		if err := writeJSON(iox.Stdout, struct {
			Message    incident.Message  `json:"message"`
			Deliveries []notify.Delivery `json:"deliveries"`
		}{msg, ds}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(iox.Stdout, "%s: %s\n%s", msg.Template, msg.Subject, deliveryLines(ds))
	}
	if missed > 0 {
		return failed(fmt.Errorf("comms: %d of %d channel(s) did not deliver; 'drbook comms %s --retry' sends it again", missed, len(ds), id))
	}
	return nil
}

const drillsUsage = `
Usage: drbook drills [--json] [--fail-overdue]
       drbook drills --year YYYY [--json]

Show the plan's recovery testing schedule (section 4.1: monthly, quarterly
and annual tests) with, for each test, when a drill of it last ran, its
measured recovery time (until the RTO clock stopped) against the RTO,
when the next one is due, and whether it is overdue. A test never drilled
is overdue. A drill counts as the test given by 'declare --test' or
'drill', else the one its runbook exercises; abandoned drills do not count.

--year lists every drill declared that year with its signed evidence file
('drbook evidence ID') and whether the file still verifies.

Exit codes: 0 shown; 1 with --fail-overdue, some test is overdue; 2 usage
error or unreadable state database.
`

func runDrills(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var asJSON, failOverdue bool
	fs := newFlagSet("drills", drillsUsage, iox)
	so.AddFlags(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts (durations in seconds)")
	fs.BoolVar(&failOverdue, "fail-overdue", false, "exit 1 when a test is overdue (for cron and monitoring)")
	var year int
	fs.IntVar(&year, "year", 0, "list that year's drills with their evidence")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("drills: unexpected argument %q", fs.Arg(0))
	}
	if fs.Changed("year") {
		return drillsYear(ctx, iox, &so, year, asJSON)
	}
	now := time.Now()
	var list []incident.DrillStatus
	s, err := so.open("drills", iox, true)
	switch {
	case errors.Is(err, incident.ErrNotFound):
		for _, t := range incident.Tests {
			list = append(list, incident.DrillStatus{Test: t, Overdue: true})
		}
	case err != nil:
		return err
	default:
		defer s.Close()
		if list, err = s.Drills(ctx, now); err != nil {
			return incidentErr("drills", err)
		}
	}
	overdue := 0
	for _, d := range list {
		if d.Overdue {
			overdue++
		}
	}
	if asJSON {
		if err := writeJSON(iox.Stdout, list); err != nil {
			return err
		}
	} else {
		// Fits 80 columns: the last drill's id and the RTO itself are in
		// --json; the RTO column says whether the recovery met it.
		rows := [][]string{{"TEST", "EVERY", "LAST RUN", "RECOVERY", "RTO", "NEXT DUE"}}
		for _, d := range list {
			last, rec, res, due := "never", "-", "-", "now"
			if d.LastIncident != "" {
				last = d.LastRun.UTC().Format("2006-01-02")
				if d.RTOVerdict == incident.Met || d.RTOVerdict == incident.Missed {
					rec, res = incident.FormatDuration(d.Recovery), string(d.RTOVerdict)
				}
				due = d.Due.UTC().Format("2006-01-02")
			}
			if d.Overdue {
				due = "OVERDUE"
			}
			rows = append(rows, []string{d.ID, d.Frequency, last, rec, res, due})
		}
		if err := writeTable(iox.Stdout, termWidth, rows); err != nil {
			return err
		}
	}
	if failOverdue && overdue > 0 {
		return failed(fmt.Errorf("drills: %d of %d scheduled tests are overdue", overdue, len(list)))
	}
	return nil
}
