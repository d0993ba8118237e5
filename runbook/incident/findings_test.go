package incident_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	_ "github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestKillSwitchOnDamagedDatabaseIsDoneWithFindings runs the real kill
// switch against a sandbox with a corrupt database, as the default drill's
// first step does: the flag file holds the halt and the damaged database is
// left untouched, so the step is done with that finding, which the state
// (read back from the store), the timeline and the report all show.
func TestKillSwitchOnDamagedDatabaseIsDoneWithFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sandbox")
	}
	root := filepath.Join(t.TempDir(), "sys")
	must(t, sandbox.Create(ctx, root, sandbox.Options{Trades: 200, Seed: 3}))
	must(t, sandbox.Inject(root, "corrupt-db"))
	rb := testRunbook()
	rb.Phases[0].Steps[0] = &runbook.Step{ID: "immediate/halt", Title: "Halt trading", Kind: runbook.KindAction,
		Block: &runbook.Block{Lang: "drbook", Action: "kill-switch", Attrs: runbook.Attrs{Confirm: true}}}
	s := MustStore(t)
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "DRILL-KS", Mode: incident.Drill, Root: root},
		incident.NewManualClock(t0))
	must(t, err)
	res, err := in.RunStep(ctx, "immediate/halt", steps.Env{}, true, nil)
	if err != nil || !res.WithFindings() {
		t.Fatalf("kill switch: %v %s %q, want ok with findings", err, res.Status, res.Findings)
	}

	st, err := s.Load(ctx, in.ID())
	must(t, err)
	step := st.Step("immediate/halt")
	if step.Status != incident.StepDone || len(step.Findings) != 1 || !strings.Contains(step.Findings[0], "looks damaged") ||
		!strings.HasPrefix(step.Reason, "findings: ") {
		t.Fatalf("step %s %q %q, want done with the damaged database as its finding", step.Status, step.Reason, step.Findings)
	}
	if r := st.Runs[0]; r.Status != "ok" || len(r.Findings) != 1 {
		t.Errorf("run %s %q", r.Status, r.Findings)
	}

	events, err := s.Events(ctx, in.ID())
	must(t, err)
	var timeline []string
	for _, ev := range events {
		timeline = append(timeline, incident.Describe(ev))
	}
	tl := strings.Join(timeline, "\n")
	for _, want := range []string{"action kill-switch ok with findings", "FINDING: database not updated: the database looks damaged",
		"step immediate/halt done: findings: database not updated"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if strings.Contains(tl, "failed") {
		t.Errorf("timeline says failed:\n%s", tl)
	}

	r := incident.BuildReport(st, events, t0.Add(time.Hour))
	if len(r.Failed) != 0 || len(r.WithFindings) != 1 || r.WithFindings[0].ID != "immediate/halt" || len(r.WithFindings[0].Findings) != 1 {
		t.Fatalf("report: failed %+v, with findings %+v", r.Failed, r.WithFindings)
	}
	var js bytes.Buffer
	must(t, r.JSON(&js))
	var back struct {
		WithFindings []struct {
			ID       string   `json:"id"`
			Findings []string `json:"findings"`
		} `json:"steps_with_findings"`
		Actions []struct {
			Status   string   `json:"status"`
			Findings []string `json:"findings"`
		} `json:"actions"`
	}
	must(t, json.Unmarshal(js.Bytes(), &back))
	if len(back.WithFindings) != 1 || len(back.Actions) != 1 || back.Actions[0].Status != "ok" || len(back.Actions[0].Findings) != 1 {
		t.Errorf("report JSON: %+v", back)
	}
	var md bytes.Buffer
	must(t, r.Markdown(&md))
	m := md.String()
	sec := m[strings.Index(m, "## Steps done with findings"):]
	sec = sec[:strings.Index(sec, "\n## Actions")]
	if !strings.Contains(sec, "**Halt trading** (`immediate/halt`") || !strings.Contains(sec, "  - database not updated: the database looks damaged") {
		t.Errorf("report section:\n%s", sec)
	}
	if !strings.Contains(m, "| kill-switch | run |") || !strings.Contains(m, "| ok with findings |") {
		t.Errorf("report actions table lacks the kill switch ok with findings:\n%s", m)
	}
	if !strings.Contains(m, "## Failed steps\n\nNone.") {
		t.Errorf("report lists a failed step:\n%s", m)
	}
}
