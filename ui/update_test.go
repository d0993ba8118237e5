package ui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func testCommon() *common { return newCommon(true, termenv.Ascii, nil) }

// TestHeaderWords: without colour the pace still reads in words.
func TestHeaderWords(t *testing.T) {
	c := testCommon()
	for _, tc := range []struct {
		pace pace
		left time.Duration
		want string
	}{
		{paceOnTrack, 10 * time.Minute, "Immediate 10m left ON TRACK"},
		{paceAtRisk, 2 * time.Minute, "Immediate 2m left AT RISK"},
		{paceOverdue, -3 * time.Minute, "Immediate over by 3m OVERDUE"},
	} {
		h := headerVM{ID: "INC-1", Drill: true, Severity: 1, Title: "t", Phase: "Immediate",
			PhaseLeft: tc.left, PhasePace: tc.pace,
			RTO: clockVM{Set: true, Left: time.Hour, Pace: paceOnTrack}}
		out := viewHeader(c, h, 80)
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "[DRILL]") || !strings.Contains(out, "RTO 1h00m left") {
			t.Errorf("header for %v:\n%s\nwant %q", tc.pace, out, tc.want)
		}
		for _, l := range strings.Split(out, "\n") {
			if w := len([]rune(l)); w != 80 {
				t.Errorf("header line is %d wide, want 80: %q", w, l)
			}
		}
	}
	h := headerVM{ID: "INC-1", RTO: clockVM{Set: true, Done: true, Left: -time.Minute}, MTD: clockVM{Set: true, Done: true, Left: time.Hour}}
	out := viewHeader(c, h, 80)
	if !strings.Contains(out, "[LIVE]") || !strings.Contains(out, "RTO MISSED") || !strings.Contains(out, "MTD MET") {
		t.Errorf("live header:\n%s", out)
	}
}

func TestObjectivePace(t *testing.T) {
	for _, tc := range []struct {
		o    incident.Objective
		want pace
	}{
		{incident.Objective{Objective: 4 * time.Hour, Remaining: 3 * time.Hour, Verdict: incident.Running}, paceOnTrack},
		{incident.Objective{Objective: 4 * time.Hour, Remaining: 30 * time.Minute, Verdict: incident.Running}, paceAtRisk},
		{incident.Objective{Objective: 4 * time.Hour, Remaining: -time.Minute, Verdict: incident.Running}, paceOverdue},
	} {
		if got := objectiveVM(tc.o).Pace; got != tc.want {
			t.Errorf("%+v: pace %v, want %v", tc.o, got, tc.want)
		}
	}
}

// TestConfirmNeedsTypedCode: a destructive action is never one key away.
func TestConfirmNeedsTypedCode(t *testing.T) {
	c := testCommon()
	p := newPrompt(c, promptConfirm, "s1", "confirm", "AB12", "yes")
	var done bool
	var cmd tea.Cmd
	for _, k := range []string{"y", "enter"} {
		p, cmd, done = p.update(keyMsg(k))
	}
	if done || cmd != nil || !strings.Contains(p.errMsg, "not confirmed") {
		t.Fatalf("'y' confirmed: done=%v err=%q", done, p.errMsg)
	}
	for _, k := range []string{"a", "b", "1", "2", "enter"} { // the id shows it in lower case
		p, cmd, done = p.update(keyMsg(k))
	}
	if !done || cmd == nil {
		t.Fatal("the incident code did not confirm")
	}
	if m := cmd().(promptDoneMsg); m.kind != promptConfirm || m.stepID != "s1" {
		t.Errorf("confirmation: %+v", m)
	}
	p = newPrompt(c, promptConfirm, "s1", "confirm", "AB12", "yes")
	_, cmd, done = p.update(keyMsg("esc"))
	if !done || cmd != nil {
		t.Error("esc must cancel without confirming")
	}
}

func TestSkipNeedsReason(t *testing.T) {
	p := newPrompt(testCommon(), promptSkip, "s1", "why?")
	p, cmd, done := p.update(keyMsg("enter"))
	if done || cmd != nil || p.errMsg == "" {
		t.Fatal("an empty reason was accepted")
	}
	for _, k := range []string{"n", "o", "enter"} {
		p, cmd, done = p.update(keyMsg(k))
	}
	if !done || cmd().(promptDoneMsg).value != "no" {
		t.Fatal("the reason was not submitted")
	}
}

func TestHomeChoices(t *testing.T) {
	c := testCommon()
	h := newHome(c, false).setData(HomeData{
		Runbooks: []RunbookItem{{ID: "complete-system-recovery", Title: "Complete System Recovery"}, {ID: "db", Title: "DB"}},
		Open:     []IncidentItem{{ID: "DRILL-1", Title: "x", Drill: true}},
	})
	view := h.view(80, 24)
	if !strings.Contains(view, "> Start a drill: Complete System Recovery, fault corrupt-db") {
		t.Fatalf("the default drill is not the first, selected choice:\n%s", view)
	}
	want := []homeChoiceMsg{{act: actQuickDrill}, {act: actForm}, {act: actResume, id: "DRILL-1"},
		{act: actRunbook, id: "complete-system-recovery"}, {act: actRunbook, id: "db"}}
	for i, w := range want {
		if i > 0 {
			h, _ = h.update(keyMsg("down"))
		}
		_, cmd := h.update(keyMsg("enter"))
		if got := cmd().(homeChoiceMsg); got != w {
			t.Errorf("entry %d: %+v, want %+v", i, got, w)
		}
	}
	// Past the last choice, down scrolls; enter first brings the choice
	// back into view, then chooses it.
	h, _ = h.update(keyMsg("down"))
	h, cmd := h.update(keyMsg("enter"))
	if cmd != nil {
		t.Error("enter while scrolled away chose something out of view")
	}
	if _, cmd = h.update(keyMsg("enter")); cmd == nil || cmd().(homeChoiceMsg).id != "db" {
		t.Error("enter after scrolling back did not choose the last runbook")
	}
}

func TestFormSpec(t *testing.T) {
	c := testCommon()
	d := HomeData{Runbooks: []RunbookItem{{ID: "a"}, {ID: "complete-system-recovery"}},
		Faults: []FaultItem{{Name: "corrupt-db"}, {Name: "missing-env"}}}
	f := newForm(c, false, d, "complete-system-recovery")
	s, err := f.spec()
	if err != nil || s.Runbook != "complete-system-recovery" || !s.Drill || s.Scenario != "corrupt-db" || s.Speed != 1 {
		t.Fatalf("default spec %+v %v", s, err)
	}
	f, _ = f.update(keyMsg("down")) // mode: cannot go live without --live
	f, _ = f.update(keyMsg("right"))
	if !strings.Contains(f.errMsg, "--live") {
		t.Errorf("switching to live without --live: %q", f.errMsg)
	}
	f, _ = f.update(keyMsg("down")) // scenario
	f, _ = f.update(keyMsg("right"))
	f, _ = f.update(keyMsg("down")) // speed
	f, _ = f.update(keyMsg("right"))
	f.field = fieldDetected
	f = f.focus()
	for _, r := range "20m" {
		f, _ = f.update(keyMsg(string(r)))
	}
	s, err = f.spec()
	if err != nil || s.Scenario != "missing-env" || s.Speed != 10 || s.DetectedAgo != 20*time.Minute {
		t.Fatalf("spec %+v %v", s, err)
	}
	if _, err := parseAgo("soon"); err == nil {
		t.Error("parseAgo accepted 'soon'")
	}
}

// TestFormVars: the selected runbook's variables are fields, filled with
// their defaults; a secret one is not echoed.
func TestFormVars(t *testing.T) {
	d := HomeData{Runbooks: []RunbookItem{{ID: "r", Vars: []VarItem{
		{Name: "BACKUP_FROM", Default: "latest"}, {Name: "IC", Prompt: "who leads?"}, {Name: "TOKEN", Secret: true}}}}}
	f := newForm(testCommon(), false, d, "r")
	s, _ := f.spec()
	if len(s.Vars) != 1 || s.Vars["BACKUP_FROM"] != "latest" {
		t.Fatalf("default vars %v", s.Vars)
	}
	f.field = fieldCount + 1 // IC
	f = f.focus()
	for _, r := range "ann" {
		f, _ = f.update(keyMsg(string(r)))
	}
	f, _ = f.update(keyMsg("down")) // TOKEN
	for _, r := range "s3cret" {
		f, _ = f.update(keyMsg(string(r)))
	}
	s, _ = f.spec()
	if s.Vars["IC"] != "ann" || s.Vars["TOKEN"] != "s3cret" {
		t.Fatalf("vars %v", s.Vars)
	}
	if v := f.view(80, 24); strings.Contains(v, "s3cret") || !strings.Contains(v, "BACKUP_FROM") {
		t.Errorf("form view:\n%s", v)
	}
}

// TestFormSiteVars: on a live host the form offers the site
// configuration's values for a live incident (over the runbook's
// defaults); switching to a drill puts the runbook's back, but keeps what
// the operator typed.
func TestFormSiteVars(t *testing.T) {
	d := HomeData{Runbooks: []RunbookItem{{ID: "site-failover", Vars: []VarItem{
		{Name: "DNS_ZONE", Site: "quantai.example"}, {Name: "DNS_TYPE", Default: "A", Site: "CNAME"},
		{Name: "DNS_TTL", Default: "60", Site: "30"}}}}}
	f := newForm(testCommon(), true, d, "site-failover") // on a live host: a live incident first
	if f.drill {
		t.Fatal("the form on a live host does not start on a live incident")
	}
	s, _ := f.spec()
	if s.Vars["DNS_ZONE"] != "quantai.example" || s.Vars["DNS_TYPE"] != "CNAME" || s.Vars["DNS_TTL"] != "30" {
		t.Fatalf("live incident vars %v", s.Vars)
	}
	f.field = fieldCount + 2 // DNS_TTL: the operator types over the site's value
	f = f.focus()
	f, _ = f.update(keyMsg("backspace"))
	f, _ = f.update(keyMsg("backspace"))
	for _, r := range "15" {
		f, _ = f.update(keyMsg(string(r)))
	}
	f.field = fieldMode
	f = f.cycle(1) // a drill
	s, _ = f.spec()
	if _, ok := s.Vars["DNS_ZONE"]; ok || s.Vars["DNS_TYPE"] != "A" || s.Vars["DNS_TTL"] != "15" || !f.drill {
		t.Fatalf("drill vars %v: want no site values, the default type and the typed TTL", s.Vars)
	}
	f = f.cycle(1) // a live incident again
	if s, _ = f.spec(); s.Vars["DNS_ZONE"] != "quantai.example" || s.Vars["DNS_TYPE"] != "CNAME" || s.Vars["DNS_TTL"] != "15" {
		t.Fatalf("live incident vars again %v", s.Vars)
	}
}

// TestRootStates walks the root model's states without a terminal.
func TestRootStates(t *testing.T) {
	m := New(Options{NoColor: true})
	if m.State() != "home" {
		t.Fatalf("start state %s", m.State())
	}
	next, _ := m.Update(homeLoadedMsg{data: HomeData{Runbooks: []RunbookItem{{ID: DefaultRunbook}}}})
	m = next.(Model)
	next, _ = m.Update(homeChoiceMsg{act: actForm})
	m = next.(Model)
	if m.State() != "form" {
		t.Fatalf("after choosing the form: %s", m.State())
	}
	next, _ = m.Update(keyMsg("esc"))
	m = next.(Model)
	if m.State() != "home" {
		t.Fatalf("esc from the form: %s", m.State())
	}
	next, cmd := m.Update(keyMsg("q"))
	if cmd == nil {
		t.Fatal("q on the home screen does not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q did not return tea.Quit")
	}
	_ = next
	// A live incident without --live is refused before anything starts.
	next, _ = m.Update(homeChoiceMsg{act: actForm})
	m = next.(Model)
	next, _ = m.Update(formStartMsg{spec: StartSpec{Runbook: "x", Drill: false}})
	if mm := next.(Model); mm.State() != "form" || !strings.Contains(mm.err, "--live") {
		t.Errorf("live start without --live: state %s err %q", mm.State(), mm.err)
	}
}

// TestStaleRunEventsDropped: events of a run that is no longer current
// (an earlier, cancelled run) never reach the output.
func TestStaleRunEventsDropped(t *testing.T) {
	v := newIncidentView(testCommon(), nil, nil, &Runs{})
	v.run = &runState{id: 2, stepID: "s"}
	v.outputs["s"] = []string{}
	events := make(chan steps.Event)
	close(events)
	v, _ = v.update(runEventMsg{id: 1, evs: []steps.Event{{Line: "old"}}, ch: runChans{events: events}})
	v, _ = v.update(runEventMsg{id: 2, evs: []steps.Event{{Line: "new"}, {Progress: &steps.Progress{Done: 1, Total: 2}}}, ch: runChans{events: events}})
	if got := v.outputs["s"]; len(got) != 1 || got[0] != "new" {
		t.Errorf("output %q, want only the current run's", got)
	}
	if v.run.progress == nil || v.run.progress.Total != 2 {
		t.Error("progress not kept")
	}
}

// TestProgressBar: an action reporting progress shows a bar and a
// percentage next to its output, in ASCII without colour.
func TestProgressBar(t *testing.T) {
	c := testCommon()
	v := newIncidentView(c, nil, nil, &Runs{})
	v.st = &incident.State{Phases: []incident.PhaseState{{
		PhaseSnapshot: incident.PhaseSnapshot{ID: "p", Title: "Recovery"},
		Steps: []incident.StepState{{StepSnapshot: incident.StepSnapshot{ID: "p/backup", Title: "Back up", Kind: "action", Action: "backup"},
			Status: incident.StepRunning}},
	}}}
	v.flat = flatten(v.st)
	v.run = &runState{id: 1, stepID: "p/backup", progress: &steps.Progress{Phase: "encrypt", Done: 50, Total: 100}}
	v.outputs["p/backup"] = []string{"archiving data/quantai.db"}
	v, _ = v.refreshPanes()
	out := v.view()
	if !strings.Contains(out, "encrypt  50%") || !strings.Contains(out, "#####") || !strings.Contains(out, "archiving data/quantai.db") {
		t.Errorf("no progress bar:\n%s", out)
	}
	if !strings.Contains(out, "running") || !strings.Contains(out, "(x cancels)") {
		t.Errorf("a running action does not say how to cancel it:\n%s", out)
	}
}

// TestRunningStepHint: while a step's action runs, its pane says so and
// that x cancels it, never "enter: run ...".
func TestRunningStepHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  *runState
		step incident.StepStatus
		want string
	}{
		{"idle", nil, incident.StepPending, "enter: run the shell block"},
		{"running here", &runState{id: 1, stepID: "p/sh"}, incident.StepRunning, "RUNNING: x cancels it"},
		{"cancelling", &runState{id: 1, stepID: "p/sh", canceled: true}, incident.StepRunning, "cancelling: waiting for the action to stop"},
		{"running in another session", nil, incident.StepRunning, "RUNNING in another drbook session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newIncidentView(testCommon(), nil, nil, &Runs{})
			v.st = &incident.State{Phases: []incident.PhaseState{{
				PhaseSnapshot: incident.PhaseSnapshot{ID: "p", Title: "Recovery"},
				Steps: []incident.StepState{{StepSnapshot: incident.StepSnapshot{ID: "p/sh", Title: "Look around", Kind: "shell", Action: "shell"},
					Status: tc.step}},
			}}}
			v.flat = flatten(v.st)
			v.run = tc.run
			v, _ = v.refreshPanes()
			out := v.view()
			if !strings.Contains(out, tc.want) {
				t.Errorf("pane lacks %q:\n%s", tc.want, out)
			}
			if tc.step == incident.StepRunning && strings.Contains(out, "enter: run") {
				t.Errorf("a running step offers to run it:\n%s", out)
			}
		})
	}
}

func TestColorProfile(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		noColor bool
		want    termenv.Profile
	}{
		{map[string]string{"TERM": "xterm-256color"}, false, termenv.ANSI256},
		{map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"}, false, termenv.Ascii},
		{map[string]string{"TERM": "xterm-256color"}, true, termenv.Ascii},
		{map[string]string{"TERM": "dumb"}, false, termenv.Ascii},
		{map[string]string{"TERM": "xterm", "COLORTERM": "truecolor"}, false, termenv.TrueColor},
		{map[string]string{"TERM": "vt100"}, false, termenv.ANSI},
	} {
		got := ColorProfile(func(k string) string { return tc.env[k] }, tc.noColor)
		if got != tc.want {
			t.Errorf("%v no-color=%v: %v, want %v", tc.env, tc.noColor, got, tc.want)
		}
	}
}

// TestErrorStatusWraps: an error in the status line is wrapped onto up to
// three lines instead of being cut, and the body shrinks to make room.
func TestErrorStatusWraps(t *testing.T) {
	v := newIncidentView(testCommon(), nil, nil, &Runs{})
	v.st = &incident.State{Phases: []incident.PhaseState{{PhaseSnapshot: incident.PhaseSnapshot{ID: "p", Title: "P"},
		Steps: []incident.StepState{{StepSnapshot: incident.StepSnapshot{ID: "p/s", Title: "S", Kind: "manual"}}}}}}
	v.flat = flatten(v.st)
	long := "Action error: run immediate-actions/confirm-halt (shell) against /srv/quantai: a drill runs actions only against a drbook sandbox (hint: the reason is at the end)"
	v = v.setStatus(long, true)
	v, _ = v.refreshPanes()
	out := v.view()
	if !strings.Contains(out, "the reason is at") || len(strings.Split(out, "\n")) != 24 {
		t.Errorf("error status cut or screen not 24 lines (%d):\n%s", len(strings.Split(out, "\n")), out)
	}
}

// TestZeroWindowSize: a client that reports no size (0x0, as some SSH
// clients and serial consoles do) gets the 80x24 layout, on the home
// screen and on an incident, instead of a crash.
func TestZeroWindowSize(t *testing.T) {
	m := New(Options{NoColor: true})
	next, _ := m.Update(homeLoadedMsg{data: HomeData{Runbooks: []RunbookItem{{ID: DefaultRunbook}}}})
	next, _ = next.(Model).Update(tea.WindowSizeMsg{Width: 0, Height: 0})
	v := next.(Model).View()
	if n := strings.Count(v, "\n") + 1; n > 24 || !strings.Contains(v, "drbook") {
		t.Errorf("home at 0x0: %d lines:\n%s", n, v)
	}
	if lines := strings.Split(fit("a\nb\nc", 0, -2), "\n"); len(lines) != 1 || lines[0] != "" {
		t.Errorf("fit with no room: %q", lines)
	}
}

// TestFormStackedFaults: on the fault field, + stacks the shown fault with
// the next one chosen, - takes the last back; the drill injects them in
// order ("corrupt-db,host-lost"), as 'drbook drill --scenario a,b' does.
func TestFormStackedFaults(t *testing.T) {
	d := HomeData{Runbooks: []RunbookItem{{ID: "r"}},
		Faults: []FaultItem{{Name: "corrupt-db"}, {Name: "missing-env"}, {Name: "host-lost"}}}
	f := newForm(testCommon(), false, d, "r")
	f.field = fieldScenario
	for f.fault != 0 {
		f = f.cycle(1)
	}
	f, _ = f.update(keyMsg("+"))
	if s, _ := f.spec(); s.Scenario != "corrupt-db" {
		t.Fatalf("after +: scenario %q", s.Scenario)
	}
	f, _ = f.update(keyMsg("+")) // "none" is shown: nothing to stack
	if f.errMsg == "" {
		t.Error("+ on none said nothing")
	}
	for f.fault != 2 {
		f = f.cycle(1)
	}
	if s, _ := f.spec(); s.Scenario != "corrupt-db,host-lost" {
		t.Fatalf("stacked scenario %q", s.Scenario)
	}
	if v := f.view(80, 24); !strings.Contains(v, "corrupt-db + < host-lost >") || !strings.Contains(v, "+: stack") {
		t.Errorf("form view:\n%s", v)
	}
	f, _ = f.update(keyMsg("-"))
	if s, _ := f.spec(); s.Scenario != "corrupt-db" || f.fault != 0 {
		t.Errorf("after -: scenario %q, shown %d", s.Scenario, f.fault)
	}
	f.field = fieldRunbook
	f = f.cycle(1) // another runbook: its own default fault, nothing stacked
	if len(f.stacked) != 0 {
		t.Errorf("stack kept across runbooks: %v", f.stacked)
	}
}
