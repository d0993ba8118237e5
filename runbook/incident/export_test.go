package incident_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

// scripted plays a small incident on a manual clock: 2 of 4 phases done,
// the RTO phase completed in time, a skip, a failure, notes, comms, a
// severity change. It is left open at 50m unless closed.
func scripted(t *testing.T, s *incident.Store, close bool) (*incident.Incident, *incident.ManualClock) {
	t.Helper()
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "INC-20260302-0900-beef",
		Title: "Trading database corrupted", DetectedAt: t0.Add(-5 * time.Minute), Impact: "Automated trading halted; positions frozen."})
	at := func(d time.Duration) { clock.Set(t0.Add(d)) }
	at(2 * time.Minute)
	must(t, in.StartStep("immediate/halt"))
	at(4 * time.Minute)
	must(t, in.DoneStep("immediate/halt", "kill switch engaged by hand"))
	at(6 * time.Minute)
	_, err := in.RunStep(ctx, "immediate/notify", steps.Env{}, false, nil)
	must(t, err)
	at(9 * time.Minute)
	must(t, in.Note("bridge call open; Bob on the line"))
	at(20 * time.Minute)
	must(t, in.FailStep("assessment/scope", "log server unreachable"))
	at(22 * time.Minute)
	must(t, in.SetSeverity(2, "no client orders affected"))
	at(25 * time.Minute)
	must(t, in.SkipStep("assessment/scope", "scope known from the alert"))
	must(t, in.DoneStep("assessment/estimate", "about 30 minutes"))
	at(40 * time.Minute)
	must(t, in.SkipStep("recovery/wipe", "nothing to wipe"))
	at(50 * time.Minute)
	must(t, in.DoneStep("recovery/restore", "restored by hand from the 08:50 backup"))
	if close {
		at(70 * time.Minute)
		must(t, in.Close(incident.StatusResolved, "Database restored from backup; trading resumed."))
	}
	return in, clock
}

func TestReportGolden(t *testing.T) {
	for _, closed := range []bool{false, true} {
		name := map[bool]string{false: "open", true: "closed"}[closed]
		t.Run(name, func(t *testing.T) {
			s := MustStore(t)
			in, clock := scripted(t, s, closed)
			clock.Set(t0.Add(55 * time.Minute))
			if closed {
				clock.Set(t0.Add(80 * time.Minute))
			}
			evs, err := s.Events(ctx, in.ID())
			must(t, err)
			st, err := incident.Rebuild(evs)
			must(t, err)
			r := incident.BuildReport(st, evs, in.Now())
			chain, err := s.Verify(ctx, in.ID())
			must(t, err)
			r.Chain = &chain
			var md, js bytes.Buffer
			must(t, r.Markdown(&md))
			must(t, r.JSON(&js))
			golden(t, "report-"+name+".md", md.Bytes())
			golden(t, "report-"+name+".json", js.Bytes())
			if !json.Valid(js.Bytes()) {
				t.Error("report JSON is not valid")
			}
		})
	}
}

func TestCommsGolden(t *testing.T) {
	s := MustStore(t)
	in, clock := scripted(t, s, false)
	clock.Set(t0.Add(55 * time.Minute))
	for _, tmpl := range incident.Templates {
		m, err := incident.Comms(in.State(), tmpl, in.Now())
		must(t, err)
		golden(t, "comms-"+tmpl+".txt", []byte(m.Body))
	}
	if _, err := incident.Comms(in.State(), "tweet", in.Now()); err == nil {
		t.Error("unknown template accepted")
	}
	clock.Set(t0.Add(70 * time.Minute))
	must(t, in.Close(incident.StatusResolved, "done"))
	m, err := incident.Comms(in.State(), "update", in.Now())
	must(t, err)
	golden(t, "comms-update-resolved.txt", []byte(m.Body))
}

// TestCommsStatusAfterAFailedRecovery: an update sent while a recovery
// step stands failed says so, not RESOLVING; a retry that works says
// RESOLVING again.
func TestCommsStatusAfterAFailedRecovery(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{ID: "INC-20260302-0900-f00d", Title: "Trading database corrupted"})
	subject := func() string {
		t.Helper()
		m, err := incident.Comms(in.State(), "update", in.Now())
		must(t, err)
		return m.Subject
	}
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return nil }, "QuantAI Recovery Update - INVESTIGATING"},
		{func() error { return in.FailStep("assessment/scope", "log server unreachable") }, "QuantAI Recovery Update - INVESTIGATING"},
		{func() error { return in.StartStep("recovery/restore") }, "QuantAI Recovery Update - RESOLVING"},
		{func() error { return in.FailStep("recovery/restore", "backup corrupt") }, "QuantAI Recovery Update - RECOVERY FAILED"},
		{func() error { return in.DoneStep("recovery/restore", "restored from the older backup") }, "QuantAI Recovery Update - RESOLVING"},
	}
	for i, st := range steps {
		clock.Set(t0.Add(time.Duration(i+1) * time.Minute))
		must(t, st.do())
		if got := subject(); got != st.want {
			t.Errorf("after step %d: %q, want %q", i, got, st.want)
		}
	}
}

func TestTimelineExports(t *testing.T) {
	s := MustStore(t)
	in, _ := scripted(t, s, true)
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	var js, csv, txt bytes.Buffer
	must(t, incident.WriteTimelineJSON(&js, evs))
	must(t, incident.WriteTimelineCSV(&csv, evs))
	must(t, incident.WriteTimelineText(&txt, evs))
	var back []map[string]any
	must(t, json.Unmarshal(js.Bytes(), &back))
	if len(back) != len(evs) || back[0]["kind"] != "declared" || back[len(back)-1]["text"] != "closed as resolved: Database restored from backup; trading resumed." {
		t.Errorf("json timeline: %d rows, first %v, last %v", len(back), back[0]["kind"], back[len(back)-1]["text"])
	}
	if lines := strings.Count(csv.String(), "\n"); lines < len(evs)+1 {
		t.Errorf("csv: %d lines for %d events", lines, len(evs))
	}
	golden(t, "timeline.txt", txt.Bytes())
}
