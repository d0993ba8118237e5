package incident_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// TestRecordAction records actions run from the command line with
// --incident: they acknowledge the incident, show in the report, a
// restore's backup time gives the RPO achieved, secrets of the root's .env
// never reach the timeline, and the chain verifies.
func TestRecordAction(t *testing.T) {
	root := t.TempDir()
	const secret = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
	must(t, os.WriteFile(filepath.Join(root, ".env"), []byte("OPENAI_API_KEY="+secret+"\nTRADING_MODE=paper\n"), 0o600))

	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{DetectedAt: t0.Add(-5 * time.Minute)}) // the command names the root

	clock.Set(t0.Add(3 * time.Minute))
	must(t, in.RecordAction(ctx, incident.ActionRecord{Action: "kill-switch", Params: map[string]string{"mode": "on"},
		Root: root, Duration: 2 * time.Second,
		Result: steps.Result{Status: steps.StatusOK, Summary: "trading HALTED"},
		Output: "read " + secret + " from .env\nTRADING_MODE=paper\n"}))

	taken := t0.Add(-25 * time.Minute) // 20 minutes before detection: RPO (15m) missed
	clock.Set(t0.Add(40 * time.Minute))
	must(t, in.RecordAction(ctx, incident.ActionRecord{Action: "restore", Root: root, Duration: time.Minute,
		Result: steps.Result{Status: steps.StatusOK, Summary: "restored db", BackupTime: taken}}))
	must(t, in.RecordAction(ctx, incident.ActionRecord{Action: "reconcile", Root: root,
		Err: errors.New("broker file unreadable")}))

	st, err := s.Load(ctx, in.ID())
	must(t, err)
	if len(st.Runs) != 3 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	ks := st.Runs[0]
	if ks.Action != "kill-switch" || ks.Status != "ok" || ks.Mode != incident.ModeCommand || ks.Duration != 2*time.Second ||
		!ks.StartedAt.Equal(t0.Add(3*time.Minute-2*time.Second)) || !strings.Contains(ks.Output, "TRADING_MODE=paper") {
		t.Errorf("kill switch run: %+v", ks)
	}
	if !st.FirstAck.Equal(ks.StartedAt) {
		t.Errorf("first acknowledgement %v, want the kill switch's start %v", st.FirstAck, ks.StartedAt)
	}
	if r := st.Runs[2]; r.Status != "failed" || r.Error != "broker file unreadable" {
		t.Errorf("failed reconcile: %+v", r)
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
	if err := in.RecordAction(ctx, incident.ActionRecord{Action: "backup"}); !errors.Is(err, incident.ErrClosed) {
		t.Errorf("record on a closed incident: %v, want ErrClosed", err)
	}
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
