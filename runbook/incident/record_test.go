package incident_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// cannedAction is an action for testing the recorder: it streams its lines
// and reports what it was given.
type cannedAction struct {
	name  string
	lines []string
	res   steps.Result
	err   error
}

func (a cannedAction) Spec() steps.Spec { return steps.Spec{Name: a.name} }

func (a cannedAction) Run(_ context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	for _, l := range a.lines {
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: l})
	}
	return a.res, a.err
}

// TestRunActionRecords records actions run from the command line with
// --incident through RunAction: they acknowledge the incident, show in
// the report, a restore's backup time gives the RPO achieved, secrets of
// the root's .env never reach the timeline (output, parameters, summary,
// error), a long output is capped and says so, and the chain verifies.
func TestRunActionRecords(t *testing.T) {
	root := t.TempDir()
	const secret = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
	must(t, os.WriteFile(filepath.Join(root, ".env"), []byte("OPENAI_API_KEY="+secret+"\nTRADING_MODE=paper\n"), 0o600))

	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{DetectedAt: t0.Add(-5 * time.Minute)}) // the command names the root

	clock.Set(t0.Add(3 * time.Minute))
	ks, err := in.RunAction(ctx, cannedAction{name: "kill-switch", lines: []string{"read " + secret + " from .env", "TRADING_MODE=paper"},
		res: steps.Result{Status: steps.StatusOK, Summary: "trading HALTED"}},
		steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"mode": "on", "reason": "key " + secret + " leaked"}}, nil)
	must(t, err)
	if ks.Status != steps.StatusOK || ks.Err != nil {
		t.Errorf("kill switch: %+v", ks)
	}

	taken := t0.Add(-25 * time.Minute) // 20 minutes before detection: RPO (15m) missed
	clock.Set(t0.Add(40 * time.Minute))
	_, err = in.RunAction(ctx, cannedAction{name: "restore", res: steps.Result{Status: steps.StatusOK, Summary: "restored db", BackupTime: taken}},
		steps.Request{Env: steps.Env{Root: root}}, nil)
	must(t, err)
	rc, err := in.RunAction(ctx, cannedAction{name: "reconcile", err: errors.New("broker file unreadable near " + secret)},
		steps.Request{Env: steps.Env{Root: root}}, nil)
	must(t, err)
	if rc.Status != steps.StatusFailed || rc.Err == nil || strings.Contains(rc.Err.Error(), secret) {
		t.Errorf("failed reconcile, as returned: %+v", rc)
	}
	long := make([]string, 0, 3000)
	for i := range 3000 {
		long = append(long, fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 40)))
	}
	_, err = in.RunAction(ctx, cannedAction{name: "shell", lines: long, res: steps.Result{Status: steps.StatusOK}},
		steps.Request{Env: steps.Env{Root: root}, DryRun: true}, nil)
	must(t, err)

	st, err := s.Load(ctx, in.ID())
	must(t, err)
	if len(st.Runs) != 4 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	k := st.Runs[0]
	if k.Action != "kill-switch" || k.Status != "ok" || k.Mode != incident.ModeCommand || k.StartedAt.After(t0.Add(3*time.Minute)) ||
		!strings.Contains(k.Output, "TRADING_MODE=paper") || k.Params["mode"] != "on" || k.Params["reason"] != "key [REDACTED] leaked" {
		t.Errorf("kill switch run: %+v", k)
	}
	if !st.FirstAck.Equal(k.StartedAt) {
		t.Errorf("first acknowledgement %v, want the kill switch's start %v", st.FirstAck, k.StartedAt)
	}
	if r := st.Runs[2]; r.Status != "failed" || !strings.HasPrefix(r.Error, "broker file unreadable") {
		t.Errorf("failed reconcile: %+v", r)
	}
	if r := st.Runs[3]; r.Truncated == 0 || len(r.Output) > incident.OutputCap+200 || !strings.Contains(r.Output, "line 0000") ||
		!strings.Contains(r.Output, "line 2999") || !strings.Contains(r.Output, "bytes of output not kept") || r.Params["dry-run"] != "true" {
		t.Errorf("long output: %d bytes kept, %d dropped, params %v", len(r.Output), r.Truncated, r.Params)
	}
	rpo := st.Clocks(t0.Add(time.Hour)).RPO
	if rpo.Verdict != incident.Missed || rpo.Achieved != 20*time.Minute {
		t.Errorf("RPO %s achieved %s, want missed 20m", rpo.Verdict, rpo.Achieved)
	}

	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	var md, js, tl bytes.Buffer
	rep := incident.BuildReport(st, evs, t0.Add(time.Hour))
	must(t, rep.Markdown(&md))
	must(t, rep.JSON(&js))
	must(t, incident.WriteTimelineJSON(&tl, evs))
	for name, out := range map[string]string{"report": md.String(), "json": js.String(), "timeline": tl.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaks the .env secret", name)
		}
	}
	if !strings.Contains(md.String(), "| (command line) | restore | command |") {
		t.Errorf("report actions do not list the command-line restore:\n%s", md.String())
	}
	v, err := s.Verify(ctx, in.ID())
	must(t, err)
	if !v.OK {
		t.Errorf("verify: %+v", v)
	}

	must(t, in.Close(incident.StatusResolved, "done"))
	ran := false
	_, err = in.RunAction(ctx, actionFunc(func() { ran = true }), steps.Request{Env: steps.Env{Root: root}}, nil)
	if !errors.Is(err, incident.ErrClosed) || ran {
		t.Errorf("run on a closed incident: %v (ran: %v), want ErrClosed and nothing run", err, ran)
	}
}

// actionFunc is an action that calls itself when run.
type actionFunc func()

func (actionFunc) Spec() steps.Spec { return steps.Spec{Name: "backup"} }

func (f actionFunc) Run(context.Context, steps.Request, steps.Emit) (steps.Result, error) {
	f()
	return steps.Result{Status: steps.StatusOK}, nil
}

// TestDoneByHand: an action step marked done without drbook running its
// action says so in the timeline and the report, so that a kill switch or
// a restore never reads as done when nothing ran; a manual step, or an
// action that ran, reads as before.
func TestDoneByHand(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	clock.Set(t0.Add(time.Minute))
	must(t, in.DoneStep("immediate/halt", "engaged at the gateway")) // manual
	must(t, in.DoneStep("immediate/notify", ""))                     // notify never ran
	must(t, in.DoneStep("assessment/scope", "looked at the logs by hand"))
	if _, err := in.RunStep(ctx, "recovery/wipe", steps.Env{Root: t.TempDir()}, true, nil); err != nil {
		t.Fatal(err)
	}

	st := in.State()
	for _, tt := range []struct{ step, want string }{
		{"immediate/halt", "engaged at the gateway"},
		{"immediate/notify", "marked done by hand; its notify action was not run"},
		{"assessment/scope", "marked done by hand; its shell action was not run: looked at the logs by hand"},
		{"recovery/wipe", "shell: exit status 0 as expected, 1 line of output"},
	} {
		if s := st.Step(tt.step); s == nil || s.Status != incident.StepDone || s.Reason != tt.want {
			t.Errorf("%s: %+v, want done %q", tt.step, s, tt.want)
		}
	}
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	rep := incident.BuildReport(st, evs, clock.Now())
	if len(rep.ByHand) != 2 || rep.ByHand[0].ID != "immediate/notify" || rep.ByHand[1].ID != "assessment/scope" {
		t.Errorf("report done by hand: %+v", rep.ByHand)
	}
	var md bytes.Buffer
	must(t, rep.Markdown(&md))
	if !strings.Contains(md.String(), "## Done by hand (drbook did not run their action)") {
		t.Errorf("report lacks the done-by-hand section:\n%s", md.String())
	}
}

// TestResolveNoOpen: with nothing open, Resolve("") says so once, with a
// way forward, and is still ErrNotFound.
func TestResolveNoOpen(t *testing.T) {
	s := MustStore(t)
	_, err := s.Resolve(ctx, "")
	if !errors.Is(err, incident.ErrNoOpen) || !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("Resolve with nothing open: %v", err)
	}
	if msg := err.Error(); msg != "no open incident" || !strings.Contains(hint.Of(err), "drbook drill") || !hint.IsInput(err) {
		t.Errorf("message %q, hint %q", msg, hint.Of(err))
	}
}

// TestDrillClockSaid: the times of a sped-up drill run ahead of the wall
// clock, so its text timeline and its report say they are drill time; a
// real-time incident's do not.
func TestDrillClockSaid(t *testing.T) {
	for _, speed := range []float64{0, 60} {
		s := MustStore(t)
		in := MustDeclare(t, s, incident.NewManualClock(t0), incident.DeclareOptions{Mode: incident.Drill, Speed: speed})
		must(t, in.Note("tabletop"))
		evs, err := s.Events(ctx, in.ID())
		must(t, err)
		var tl, md bytes.Buffer
		must(t, incident.WriteTimelineText(&tl, evs))
		must(t, incident.BuildReport(in.State(), evs, t0).Markdown(&md))
		for name, out := range map[string]string{"timeline": tl.String(), "report": md.String()} {
			said := strings.Contains(strings.ToLower(out), "drill clock at 60x")
			if said != (speed == 60) {
				t.Errorf("speed %g: %s says drill clock: %v\n%s", speed, name, said, out)
			}
		}
	}
}
