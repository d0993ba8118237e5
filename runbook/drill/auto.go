package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// AutoNote is the note recorded on a manual step acknowledged by Auto.
const AutoNote = "acknowledged by drbook drill --auto (unattended drill)"

// Result is how an unattended drill went.
type Result struct {
	ID string
	// Recovered: every step done or skipped, none failed from the RTO phase
	// on, and the system checks pass on the sandbox afterwards.
	Recovered  bool
	RTOVerdict incident.Verdict
	Failed     []string // titles of steps that failed
	// CheckFailures are the system checks that still fail after the drill
	// ("db-integrity: ..."): the fault is not gone.
	CheckFailures []string
	Report        string // path of the written report
}

// OK reports whether the drill passed: recovered within the RTO.
func (r Result) OK() bool { return r.Recovered && r.RTOVerdict != incident.Missed }

// Auto runs every automatable step of the drill unattended, acknowledges
// manual steps, prints progress to out, closes the drill (resolved when it
// recovered, abandoned otherwise) and writes the report to reportDir.
// A cancelled ctx stops it; the step running is recorded as interrupted
// and the drill stays open to be resumed.
func Auto(ctx context.Context, d *Drill, store *incident.Store, reportDir string, out io.Writer) (Result, error) {
	in := d.Incident
	// Everything printed goes through the incident's redactor, which
	// learns the sandbox's .env and the secret variables as steps run.
	out = redactWriter{in: in, w: out}
	res := Result{ID: in.ID()}
	st := in.State()
	fmt.Fprintf(out, "DRILL %s: %s (scenario %s)\n", in.ID(), st.Declaration.Runbook.Title, orNone(st.Declaration.Scenario))
	fmt.Fprintf(out, "sandbox: %s\n", d.Env.Root)
	// Before the RTO phase, a failing check is a finding (the integrity
	// check of a corrupted database fails: that is why we restore); from
	// the RTO phase on, a failure means recovery failed.
	recovering := st.Declaration.Runbook.RTOPhase == ""
	for _, p := range st.Phases {
		if p.ID == st.Declaration.Runbook.RTOPhase {
			recovering = true
		}
		fmt.Fprintf(out, "\n== %s\n", p.Title)
		for _, s := range p.Steps {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			cur := in.State().Step(s.ID)
			if cur != nil && cur.Status.Closed() {
				fmt.Fprintf(out, "  [%s] %s\n", cur.Status, s.Title)
				continue
			}
			// Once recovery has failed, do not rehearse releasing the kill
			// switch on a broken system.
			if recovering && len(res.Failed) > 0 && s.Action == "kill-switch" {
				reason := "recovery failed at " + res.Failed[0]
				if err := in.SkipStep(s.ID, reason); err != nil {
					return res, fmt.Errorf("step %s: %w", s.ID, err)
				}
				fmt.Fprintf(out, "  [skip] %s (%s)\n", s.Title, reason)
				continue
			}
			switch runbook.Kind(s.Kind) {
			case runbook.KindManual, runbook.KindReference:
				if err := in.DoneStep(s.ID, AutoNote); err != nil {
					return res, fmt.Errorf("step %s: %w", s.ID, err)
				}
				fmt.Fprintf(out, "  [ack] %s\n", s.Title)
				continue
			}
			fmt.Fprintf(out, "  [run] %s (%s)\n", s.Title, s.Action)
			failed := func(why string) {
				if recovering {
					res.Failed = append(res.Failed, s.Title)
					return
				}
				// The engine closes a check step with its findings; a
				// step left failed is closed here, its failure a finding.
				if cur := in.State().Step(s.ID); cur != nil && !cur.Status.Closed() {
					note := "finding: " + why
					if err := in.DoneStep(s.ID, note); err != nil {
						_ = in.SkipStep(s.ID, note)
					}
				}
				fmt.Fprintf(out, "        (a finding before recovery: recorded, the drill goes on)\n")
			}
			r, err := in.RunStep(ctx, s.ID, d.Env, true, func(e steps.Event) {
				if e.Line != "" {
					fmt.Fprintf(out, "        | %s\n", e.Line)
				}
			})
			switch {
			case ctx.Err() != nil:
				return res, ctx.Err()
			case errors.Is(err, steps.ErrNotImplemented):
				fmt.Fprintf(out, "        NOT IMPLEMENTED in this build: %s did not run\n", s.Action)
				res.Failed = append(res.Failed, s.Title)
			case err != nil:
				fmt.Fprintf(out, "        ERROR: %v\n", err)
				failed(err.Error())
			case r.Status == steps.StatusFailed:
				fmt.Fprintf(out, "        FAILED: %s\n", r.Summary)
				failed(r.Summary)
			default:
				fmt.Fprintf(out, "        %s: %s\n", strings.ToUpper(string(r.Status)), r.Summary)
			}
		}
	}
	st = in.State()
	closed, total := st.Progress()
	if len(res.Failed) == 0 && closed < total {
		res.Failed = append(res.Failed, fmt.Sprintf("%d step(s) left open", total-closed))
	}
	// A drill is the one place we can tell whether the fault is gone:
	// Close checks the whole system, not only what the runbook looked at,
	// and the outcome follows from the steps and the checks.
	cl, err := Close(ctx, in, store, CloseOptions{ReportDir: reportDir, Out: out,
		Decide: func(checkFailures []string) (incident.Outcome, string) {
			res.CheckFailures = checkFailures
			res.Recovered = len(res.Failed) == 0 && len(res.CheckFailures) == 0
			if res.Recovered {
				return incident.StatusResolved, "unattended drill: every step done; the system checks pass"
			}
			var why []string
			if len(res.Failed) > 0 {
				why = append(why, fmt.Sprintf("%d step(s) failed: %s", len(res.Failed), strings.Join(res.Failed, "; ")))
			}
			if len(res.CheckFailures) > 0 {
				why = append(why, "system checks still fail: "+strings.Join(res.CheckFailures, "; "))
			}
			return incident.StatusAbandoned, "unattended drill: recovery failed (" + strings.Join(why, "; ") + ")"
		}})
	if err != nil {
		return res, fmt.Errorf("close drill: %w", err)
	}
	st = in.State()
	ck := st.Clocks(in.Now())
	res.RTOVerdict = ck.RTO.Verdict
	path, md := cl.Report, cl.Markdown
	res.Report = path
	fmt.Fprintf(out, "\n%s\n", md)
	verdict := "PASSED"
	if !res.OK() {
		verdict = "FAILED"
	}
	rto := "no RTO"
	if ck.RTO.Objective > 0 {
		rto = fmt.Sprintf("RTO %s (took %s of %s)", ck.RTO.Verdict, incident.FormatDuration(ck.RTO.Took), incident.FormatDuration(ck.RTO.Objective))
	}
	fmt.Fprintf(out, "drill %s %s: recovered=%v, %s; report: %s\n", res.ID, verdict, res.Recovered, rto, path)
	return res, nil
}

// redactWriter redacts each write with the incident's known secrets.
// Auto writes whole lines (or the whole report) at a time, so no secret
// is split across two writes.
type redactWriter struct {
	in *incident.Incident
	w  io.Writer
}

func (r redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.in.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SystemCheck runs drbook's checks (all but backup freshness, which a
// fresh sandbox cannot meet) on a drill's sandbox, prints a summary to out
// and returns what fails: whether the injected fault is really gone.
func SystemCheck(ctx context.Context, root string, out io.Writer) ([]string, error) {
	var only []string
	for _, n := range checks.Names() {
		if n != checks.BackupFreshness {
			only = append(only, n)
		}
	}
	var failed []string
	pass, warn := 0, 0
	// No memory-mapped reads: mapped pages count in the drill process's
	// RSS, up to the whole database per connection (560 MB at 1,000,000
	// trades with three checks side by side), and save no time on a full
	// integrity_check.
	_, err := checks.Run(ctx, checks.Options{Root: root, Only: only, Full: true, MmapSize: -1}, func(f checks.Finding) {
		switch f.Status {
		case checks.Fail:
			failed = append(failed, f.Check+": "+f.Message)
		case checks.Warn:
			warn++
		default:
			pass++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("system check: %w", err)
	}
	fmt.Fprintf(out, "\nsystem check after the drill: %d pass, %d warn, %d fail\n", pass, warn, len(failed))
	for _, f := range failed {
		fmt.Fprintf(out, "  FAIL %s\n", f)
	}
	return failed, nil
}

// ReportDir is where reports are written under a state directory:
// STATE_DIR/reports.
func ReportDir(stateDir string) string { return filepath.Join(stateDir, "reports") }

// WriteReport renders the incident's post-incident report as Markdown and
// writes it to dir/ID.md (replacing an earlier report of the same
// incident through a temporary file). It returns the path and the text.
func WriteReport(ctx context.Context, store *incident.Store, st *incident.State, now time.Time, dir string) (string, string, error) {
	events, err := store.Events(ctx, st.ID)
	if err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	var buf bytes.Buffer
	if err := incident.BuildReport(st, events, now).Markdown(&buf); err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, st.ID+".md")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return "", "", fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("report: %w", err)
	}
	return path, buf.String(), nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
