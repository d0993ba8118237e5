package incident_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

func TestPhaseWindows(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	steps := []struct {
		at         time.Duration
		act        func() error
		wantPhase  string
		wantStatus incident.WindowStatus
		wantLeft   time.Duration
	}{
		{at: time.Minute, wantPhase: "immediate", wantStatus: incident.WindowNotStarted, wantLeft: 14 * time.Minute},
		{at: 2 * time.Minute, act: func() error { return in.StartStep("immediate/halt") },
			wantPhase: "immediate", wantStatus: incident.WindowOnTrack, wantLeft: 13 * time.Minute},
		{at: 11*time.Minute + 59*time.Second, wantPhase: "immediate", wantStatus: incident.WindowOnTrack, wantLeft: 3*time.Minute + time.Second},
		{at: 12 * time.Minute, wantPhase: "immediate", wantStatus: incident.WindowAtRisk, wantLeft: 3 * time.Minute},
		{at: 15 * time.Minute, wantPhase: "immediate", wantStatus: incident.WindowAtRisk, wantLeft: 0},
		{at: 16 * time.Minute, wantPhase: "immediate", wantStatus: incident.WindowOverdue, wantLeft: -time.Minute},
		{at: 17 * time.Minute, act: func() error {
			must(t, in.DoneStep("immediate/halt", ""))
			return in.SkipStep("immediate/notify", "phoned the CTO instead")
		}, wantPhase: "assessment", wantStatus: incident.WindowNotStarted, wantLeft: 13 * time.Minute},
		{at: 20 * time.Minute, act: func() error { return in.StartStep("assessment/estimate") },
			wantPhase: "assessment", wantStatus: incident.WindowOnTrack, wantLeft: 10 * time.Minute},
		{at: 27 * time.Minute, wantPhase: "assessment", wantStatus: incident.WindowAtRisk, wantLeft: 3 * time.Minute},
		{at: 31 * time.Minute, wantPhase: "assessment", wantStatus: incident.WindowOverdue, wantLeft: -time.Minute},
	}
	for _, st := range steps {
		clock.Set(t0.Add(st.at))
		if st.act != nil {
			must(t, st.act())
		}
		c := in.Clocks()
		if c.Phase.ID != st.wantPhase || c.Phase.Status != st.wantStatus || c.Phase.Left != st.wantLeft {
			t.Errorf("at %s: phase %s %s left %s, want %s %s left %s", st.at, c.Phase.ID, c.Phase.Status, c.Phase.Left,
				st.wantPhase, st.wantStatus, st.wantLeft)
		}
		if c.Elapsed != st.at {
			t.Errorf("at %s: elapsed %s", st.at, c.Elapsed)
		}
	}
	c := in.Clocks()
	if got := c.Phases[0]; got.Status != incident.WindowDoneLate || got.Took != 15*time.Minute {
		t.Errorf("immediate phase: %s took %s, want done-late after 15m (started at 2m, done at 17m)", got.Status, got.Took)
	}
	if got := c.Phases[3].Status; got != incident.WindowNotStarted {
		t.Errorf("validation phase at 31m: %s, want not-started", got)
	}
}

// closeUpTo closes every step of the test runbook's first three phases
// (the RTO phase is the third), at the clock's current time.
func closeUpTo(t *testing.T, in *incident.Incident, phases int) {
	t.Helper()
	st := in.State()
	for _, p := range st.Phases[:phases] {
		for _, s := range p.Steps {
			must(t, in.SkipStep(s.ID, "test"))
		}
	}
}

func TestRTO(t *testing.T) {
	tests := []struct {
		name     string
		doneAt   time.Duration
		explicit bool // complete the RTO phase explicitly instead of by its steps
		want     incident.Verdict
	}{
		{"met", 50 * time.Minute, false, incident.Met},
		{"met exactly at the deadline", time.Hour, false, incident.Met},
		{"missed", 70 * time.Minute, false, incident.Missed},
		{"met by explicit completion", 40 * time.Minute, true, incident.Met},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustStore(t)
			clock := incident.NewManualClock(t0)
			in := MustDeclare(t, s, clock, incident.DeclareOptions{})

			clock.Set(t0.Add(tt.doneAt - time.Minute))
			c := in.Clocks()
			wantRunning := incident.Running
			if tt.doneAt-time.Minute > time.Hour {
				wantRunning = incident.Missed // running, but already past the deadline
			}
			if c.RTO.Verdict != wantRunning || c.RTO.Remaining != time.Hour-(tt.doneAt-time.Minute) {
				t.Errorf("before: RTO %s remaining %s", c.RTO.Verdict, c.RTO.Remaining)
			}

			clock.Set(t0.Add(tt.doneAt))
			if tt.explicit {
				must(t, in.CompletePhase("recovery"))
			} else {
				closeUpTo(t, in, 3)
			}
			clock.Set(t0.Add(3 * time.Hour)) // the RTO clock has stopped: later time changes nothing
			c = in.Clocks()
			if c.RTO.Verdict != tt.want || c.RTO.Took != tt.doneAt || c.RTO.Remaining != time.Hour-tt.doneAt {
				t.Errorf("after: RTO %s took %s remaining %s, want %s took %s", c.RTO.Verdict, c.RTO.Took, c.RTO.Remaining, tt.want, tt.doneAt)
			}
			evs, err := s.Events(ctx, in.ID())
			must(t, err)
			var rto *incident.Event
			for i := range evs {
				if evs[i].Kind == incident.KindRTOStopped {
					if rto != nil {
						t.Fatalf("two rto_stopped events")
					}
					rto = &evs[i]
				}
			}
			if rto == nil || rto.Data.Met == nil || *rto.Data.Met != (tt.want == incident.Met) || !rto.At.Equal(t0.Add(tt.doneAt)) {
				t.Fatalf("timeline does not record RTO %s at %s: %+v", tt.want, tt.doneAt, rto)
			}
			// Resolving later does not move the stopped clock.
			must(t, in.Close(incident.StatusResolved, "done"))
			st, err := s.Load(ctx, in.ID())
			must(t, err)
			if got := st.Clocks(t0.Add(5 * time.Hour)).RTO; got.Verdict != tt.want || got.Took != tt.doneAt {
				t.Errorf("after close: RTO %s took %s", got.Verdict, got.Took)
			}
		})
	}
}

func TestRTOStopsWhenResolvedEarly(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	clock.Set(t0.Add(20 * time.Minute))
	must(t, in.Close(incident.StatusResolved, "false alarm"))
	c := in.State().Clocks(t0.Add(10 * time.Hour))
	if c.RTO.Verdict != incident.Met || c.RTO.Took != 20*time.Minute || c.MTD.Verdict != incident.Met || c.Elapsed != 20*time.Minute {
		t.Errorf("RTO %s took %s, MTD %s, elapsed %s", c.RTO.Verdict, c.RTO.Took, c.MTD.Verdict, c.Elapsed)
	}
}

func TestMTDAndAbandon(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	clock.Set(t0.Add(90 * time.Minute))
	if c := in.Clocks(); c.MTD.Verdict != incident.Running || c.MTD.Remaining != 30*time.Minute || c.RTO.Verdict != incident.Missed {
		t.Errorf("at 1h30: MTD %s remaining %s, RTO %s", c.MTD.Verdict, c.MTD.Remaining, c.RTO.Verdict)
	}
	clock.Set(t0.Add(100 * time.Minute))
	must(t, in.Close(incident.StatusAbandoned, "moved to the secondary site"))
	c := in.State().Clocks(t0.Add(10 * time.Hour))
	if c.MTD.Verdict != incident.Unknown || c.Elapsed != 100*time.Minute {
		t.Errorf("abandoned at 1h40: MTD %s, elapsed %s", c.MTD.Verdict, c.Elapsed)
	}
}

func TestSpeedFactor(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{Mode: incident.Drill, Speed: 60})
	clock.Set(t0.Add(time.Minute)) // one real minute...
	c := in.Clocks()
	if c.Elapsed != time.Hour || !in.Now().Equal(t0.Add(time.Hour)) || c.Speed != 60 {
		t.Fatalf("after one real minute at 60x: elapsed %s, now %s", c.Elapsed, in.Now())
	}
	if c.RTO.Remaining != 0 || c.Phase.Status != incident.WindowOverdue {
		t.Errorf("RTO remaining %s, phase %s %s", c.RTO.Remaining, c.Phase.ID, c.Phase.Status)
	}
	must(t, in.Note("an hour in"))

	// Left open, nobody attending: 9 real minutes pass. The drill clock
	// runs only while someone attends, so the list shows it as of its last
	// event, and a resume restarts it there and records the time away.
	later := incident.NewManualClock(t0.Add(10 * time.Minute))
	sums, err := s.Incidents(ctx)
	must(t, err)
	if len(sums) != 1 || sums[0].Elapsed(later.Now()) != time.Hour {
		t.Errorf("listed while away: %+v elapsed %s, want 1h", sums, sums[0].Elapsed(later.Now()))
	}
	in2, err := incident.Open(ctx, s, in.ID(), testRunbook(), later, incident.OpenOptions{Operator: alice, Resume: true})
	must(t, err)
	if got := in2.Clocks().Elapsed; got != time.Hour {
		t.Errorf("after resume 9 real minutes later: elapsed %s, want 1h (the last event)", got)
	}
	st := in2.State()
	if len(st.Notes) != 1 || !st.Notes[0].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("note recorded at %v, want incident time %v", st.Notes, t0.Add(time.Hour))
	}
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	last := evs[len(evs)-1]
	if last.Kind != incident.KindResumed || !last.At.Equal(t0.Add(time.Hour)) ||
		!strings.Contains(incident.Describe(last), "9m00s real away, 9h00m of drill time not counted") {
		t.Errorf("resumed event: %s at %v", incident.Describe(last), last.At)
	}
	// Attended again: 30 real seconds are 30 drill minutes, in this
	// process and in another that opens the drill (drbook note).
	later.Set(t0.Add(10*time.Minute + 30*time.Second))
	if got := in2.Clocks().Elapsed; got != 90*time.Minute {
		t.Errorf("30s real after the resume: elapsed %s, want 1h30m", got)
	}
	other, err := incident.Open(ctx, s, in.ID(), testRunbook(), later, incident.OpenOptions{Operator: alice})
	must(t, err)
	if got := other.Clocks().Elapsed; got != 90*time.Minute {
		t.Errorf("another process: elapsed %s, want 1h30m", got)
	}
	// A process that opened the drill before the resume catches up on
	// Refresh.
	if _, err := in.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(10*time.Minute + 30*time.Second))
	if got := in.Clocks().Elapsed; got != 90*time.Minute {
		t.Errorf("refreshed process: elapsed %s, want 1h30m", got)
	}

	if _, err := incident.Declare(ctx, s, testRunbook(), incident.DeclareOptions{Speed: 60}, clock); err == nil {
		t.Error("a live incident accepted a speed factor")
	}
}

func TestResponseDeadline(t *testing.T) {
	tests := []struct {
		name    string
		sev     int
		ackAt   time.Duration // 0: never
		checkAt time.Duration
		want    incident.Verdict
	}{
		{"sev1 acknowledged in time", 1, 10 * time.Minute, time.Hour, incident.Met},
		{"sev1 acknowledged late", 1, 20 * time.Minute, time.Hour, incident.Missed},
		{"sev1 not yet acknowledged", 1, 0, 14 * time.Minute, incident.Running},
		{"sev1 never acknowledged", 1, 0, 16 * time.Minute, incident.Missed},
		{"sev2 acknowledged at 50m", 2, 50 * time.Minute, 2 * time.Hour, incident.Met},
		{"sev3 not acknowledged at 3h", 3, 0, 3 * time.Hour, incident.Running},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustStore(t)
			clock := incident.NewManualClock(t0)
			in := MustDeclare(t, s, clock, incident.DeclareOptions{Severity: tt.sev})
			if tt.ackAt > 0 {
				clock.Set(t0.Add(tt.ackAt))
				must(t, in.StartStep("immediate/halt"))
			}
			clock.Set(t0.Add(tt.checkAt))
			r := in.Clocks().Response
			if r.Verdict != tt.want || r.Objective != incident.DefaultResponse[tt.sev] {
				t.Errorf("response %s (objective %s), want %s", r.Verdict, r.Objective, tt.want)
			}
		})
	}
}

func TestBackdatedDetection(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{DetectedAt: t0.Add(-20 * time.Minute)})
	c := in.Clocks()
	if c.Elapsed != 20*time.Minute || c.Phase.Status != incident.WindowOverdue || c.Response.Verdict != incident.Missed {
		t.Errorf("backdated 20m: elapsed %s, phase %s, response %s", c.Elapsed, c.Phase.Status, c.Response.Verdict)
	}
	if _, err := incident.Declare(ctx, s, testRunbook(), incident.DeclareOptions{DetectedAt: t0.Add(time.Minute)}, clock); err == nil {
		t.Error("a detection time in the future was accepted")
	}
}

func TestProjectedFinish(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	if c := in.Clocks(); !c.Projected.IsZero() || c.ProjectedVerdict != incident.Unknown {
		t.Errorf("no step closed: projected %v %s", c.Projected, c.ProjectedVerdict)
	}
	clock.Set(t0.Add(10 * time.Minute))
	must(t, in.DoneStep("immediate/halt", ""))
	clock.Set(t0.Add(20 * time.Minute))
	must(t, in.DoneStep("assessment/estimate", ""))
	c := in.Clocks() // 2 of 7 steps in 20 minutes: 70 minutes in all
	if !c.Projected.Equal(t0.Add(70*time.Minute)) || c.ProjectedVerdict != incident.Missed || c.StepsClosed != 2 || c.StepsTotal != 7 {
		t.Errorf("projected %v (%s), %d/%d", c.Projected, c.ProjectedVerdict, c.StepsClosed, c.StepsTotal)
	}
}

// rpoTimeline is a timeline in which a restore recorded a backup taken
// `age` before detection.
func rpoTimeline(age time.Duration, restored bool) []incident.Event {
	decl := &incident.Declaration{Title: "t", Severity: 1, Mode: incident.Live, DeclaredAt: t0, DetectedAt: t0,
		Runbook: incident.Snapshot(testRunbook())}
	evs := []incident.Event{{Incident: "X", Seq: 1, At: t0, Kind: incident.KindDeclared, Data: incident.EventData{Declared: decl}}}
	if restored {
		bt := t0.Add(-age)
		evs = append(evs,
			incident.Event{Incident: "X", Seq: 2, At: t0.Add(time.Hour), Kind: incident.KindActionStarted, Step: "recovery/restore",
				Data: incident.EventData{Action: "restore", Mode: "run"}},
			incident.Event{Incident: "X", Seq: 3, At: t0.Add(2 * time.Hour), Kind: incident.KindActionFinished, Step: "recovery/restore",
				Data: incident.EventData{Action: "restore", Status: "ok", BackupTime: &bt}})
	}
	return evs
}

func TestRPOAchieved(t *testing.T) {
	tests := []struct {
		name     string
		age      time.Duration
		restored bool
		achieved time.Duration
		want     incident.Verdict
	}{
		{"backup 10m old", 10 * time.Minute, true, 10 * time.Minute, incident.Met},
		{"backup exactly 15m old", 15 * time.Minute, true, 15 * time.Minute, incident.Met},
		{"backup 2h old", 2 * time.Hour, true, 2 * time.Hour, incident.Missed},
		{"backup taken after detection", -5 * time.Minute, true, 0, incident.Met},
		{"no restore", 0, false, 0, incident.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := incident.Rebuild(rpoTimeline(tt.age, tt.restored))
			must(t, err)
			r := st.Clocks(t0.Add(3 * time.Hour)).RPO
			if r.Verdict != tt.want || r.Achieved != tt.achieved || r.Objective != 15*time.Minute {
				t.Errorf("RPO %s achieved %s, want %s %s", r.Verdict, r.Achieved, tt.want, tt.achieved)
			}
		})
	}
}

func TestRebuildNeedsDeclaration(t *testing.T) {
	if _, err := incident.Rebuild(nil); err == nil {
		t.Error("empty timeline rebuilt")
	}
	evs := rpoTimeline(0, true)
	if _, err := incident.Rebuild(evs[1:]); err == nil {
		t.Error("timeline without its declaration rebuilt")
	}
}

// FuzzRebuild replays arbitrary event sequences after a declaration: the
// state must never panic, whatever a damaged timeline holds.
func FuzzRebuild(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{10, 10, 11, 11, 0, 0, 16, 6})
	kinds := []incident.Kind{incident.KindDeclared, incident.KindResumed, incident.KindSeverity, incident.KindPhaseStarted,
		incident.KindPhaseCompleted, incident.KindRTOStopped, incident.KindStepStarted, incident.KindStepDone, incident.KindStepSkipped,
		incident.KindStepFailed, incident.KindNote, incident.KindActionStarted, incident.KindActionOutput, incident.KindActionFinished,
		incident.KindActionInterrupted, incident.KindComms, incident.KindClosed}
	steps := []string{"", "immediate/halt", "recovery/restore", "nope"}
	phases := []string{"", "immediate", "recovery", "nope"}
	f.Fuzz(func(t *testing.T, ops []byte) {
		evs := rpoTimeline(0, false)
		for i, op := range ops {
			ev := incident.Event{Incident: "X", Seq: int64(i + 2), At: t0.Add(time.Duration(i) * time.Minute),
				Kind: kinds[int(op)%len(kinds)], Step: steps[int(op/17)%len(steps)], Phase: phases[int(op/68)%len(phases)]}
			evs = append(evs, ev)
		}
		st, err := incident.Rebuild(evs)
		if err != nil {
			t.Fatal(err)
		}
		c := st.Clocks(t0.Add(3 * time.Hour))
		_ = incident.BuildReport(st, evs, c.Now).Markdown(io.Discard)
		for _, tmpl := range incident.Templates {
			if _, err := incident.Comms(st, tmpl, c.Now); err != nil {
				t.Fatal(err)
			}
		}
	})
}
