package runbook_test

import (
	"os"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// The complete example in docs/runbook-format.md must stay valid and keep
// showing every feature of the format.
func TestFormatDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/runbook-format.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- example:begin -->\n````markdown\n")
	example, _, ok2 := strings.Cut(rest, "\n````\n<!-- example:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/runbook-format.md has no example between the example markers")
	}
	rb := MustParse(t, example+"\n", "docs/runbook-format.md#example")
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Fatalf("the documented example has problems:\n%v", ps)
	}

	if rb.ID != "primary-database-failover" || rb.Severity != 1 || rb.Objectives.RTO == 0 || rb.Objectives.RPO == 0 ||
		rb.Objectives.MTD == 0 || len(rb.Response) != 3 || len(rb.Vars) != 2 || !rb.Vars[1].Secret || rb.Contacts == "" {
		t.Errorf("front matter or contacts not exercised: %+v", rb)
	}
	kinds := map[runbook.Kind]bool{}
	attrs := map[string]bool{}
	manualTask, deadlineOrWindowAttr, listPhase := false, false, false
	for _, ph := range rb.Phases {
		if !ph.Window.Set {
			t.Errorf("phase %s has no window", ph.ID)
		}
		if ph.ID == "assess" && ph.Window.Start > 0 {
			deadlineOrWindowAttr = true
		}
		if ph.Group != "" {
			listPhase = true
		}
		for _, st := range ph.Steps {
			kinds[st.Kind] = true
			if st.Kind == runbook.KindManual {
				manualTask = true
			}
			if st.Block != nil {
				for k := range st.Block.Attrs.Raw {
					attrs[k] = true
				}
			}
		}
	}
	for _, k := range []runbook.Kind{runbook.KindManual, runbook.KindShell, runbook.KindSQL, runbook.KindAction, runbook.KindReference} {
		if !kinds[k] {
			t.Errorf("the example has no %s step", k)
		}
	}
	for _, a := range []string{"name", "confirm", "timeout", "expect", "drill", "cwd", "write", "diagnostic"} {
		if !attrs[a] {
			t.Errorf("the example does not use attribute %s", a)
		}
	}
	if !manualTask || !deadlineOrWindowAttr || !listPhase {
		t.Errorf("manual %v, window attribute %v, list phases %v", manualTask, deadlineOrWindowAttr, listPhase)
	}
}
