package compliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/compliance"
)

var (
	ctx = context.Background()
	now = time.Date(2026, time.December, 1, 12, 0, 0, 0, time.UTC)
)

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// state is a state directory with a real store and a signing key.
type state struct {
	dir   string
	store *incident.Store
	key   ed25519.PrivateKey
	pub   string // the public key file, as 'drbook evidence keygen' writes it
	n     int
}

func newState(t *testing.T) *state {
	t.Helper()
	dir := t.TempDir()
	s, err := incident.OpenStore(dir)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	keyPath := filepath.Join(t.TempDir(), "evidence.key")
	_, err = incident.GenerateSigningKey(keyPath)
	must(t, err)
	key, err := incident.LoadSigningKey(keyPath)
	must(t, err)
	return &state{dir: dir, store: s, key: key, pub: keyPath + ".pub"}
}

// drill declares a drill of test at when, closes it with outcome and
// returns its id and its sealed evidence (not yet written).
func (st *state) drill(t *testing.T, test string, when time.Time, outcome incident.Outcome) (string, []byte) {
	t.Helper()
	rb, err := runbook.Load("manual-backup", nil)
	must(t, err)
	st.n++
	id := "DRILL-" + test + "-" + when.Format("20060102") + "-" + string(rune('a'+st.n))
	clock := incident.NewManualClock(when)
	in, err := incident.Declare(ctx, st.store, rb, incident.DeclareOptions{ID: id, Mode: incident.Drill, DrillTest: test,
		Operator: incident.Operator{Name: "dana"}}, clock)
	must(t, err)
	clock.Advance(20 * time.Minute)
	must(t, in.Close(outcome, "drilled"))
	evs, err := st.store.Events(ctx, id)
	must(t, err)
	chain, err := st.store.Verify(ctx, id)
	must(t, err)
	var doc bytes.Buffer
	must(t, incident.BuildEvidence(in.State(), evs, chain, nil, in.Now()).Markdown(&doc))
	return id, incident.Seal(doc.Bytes(), st.key)
}

func (st *state) write(t *testing.T, id string, data []byte) string {
	t.Helper()
	p := filepath.Join(st.dir, "evidence", id+".md")
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, data, 0o600))
	return p
}

func byItem(fs []compliance.Finding) map[string]compliance.Finding {
	out := map[string]compliance.Finding{}
	for _, f := range fs {
		if _, ok := out[f.Item]; !ok {
			out[f.Item] = f
		}
	}
	return out
}

func siteConfig(t *testing.T, yaml string) *site.Config {
	t.Helper()
	c, err := site.Parse([]byte(yaml))
	must(t, err)
	c.Path = filepath.Join(t.TempDir(), "drbook.yaml")
	return c
}

// A fresh state directory, no site configuration: every scheduled test is
// a finding, the review date is unknown, the contacts unchecked.
func TestFreshStateDirectoryIsAllFindings(t *testing.T) {
	for name, dir := range map[string]string{"no state database": t.TempDir(), "empty store": newState(t).dir} {
		t.Run(name, func(t *testing.T) {
			fs, err := compliance.Check(ctx, compliance.Options{StateDir: dir, Now: now})
			must(t, err)
			got := byItem(fs)
			for _, tt := range incident.Tests {
				if f := got["drill:"+tt.ID]; f.Status != compliance.Fail || !strings.Contains(f.Message, "no drill in 2026") {
					t.Errorf("%s: %+v", tt.ID, f)
				}
			}
			if f := got["plan-review"]; f.Status != compliance.Fail || !strings.Contains(f.Message, "plan.reviewed") {
				t.Errorf("plan-review: %+v", f)
			}
			if f := got["contacts"]; f.Status != compliance.Warn {
				t.Errorf("contacts: %+v", f)
			}
			if !compliance.Failed(fs) {
				t.Error("Failed() is false")
			}
		})
	}
	if _, err := compliance.Check(ctx, compliance.Options{Now: now}); err == nil {
		t.Error("no state directory accepted")
	}
}

// Each scheduled test's evidence, shaped as an operator's state directory
// really gets it: verified, edited by one byte, copied from another drill,
// a directory in its place, too old, abandoned, from last year.
func TestDrillsAndTheirEvidence(t *testing.T) {
	st := newState(t)
	recent := now.AddDate(0, 0, -10)
	good := map[string]bool{}
	for _, tt := range incident.Tests {
		switch tt.ID {
		case "configuration-recovery": // evidence edited by one byte
			id, ev := st.drill(t, tt.ID, recent, incident.StatusResolved)
			ev[len(ev)/3] ^= 0x01
			st.write(t, id, ev)
		case "single-agent-failure": // another drill's evidence under its name
			id, _ := st.drill(t, tt.ID, recent, incident.StatusResolved)
			_, other := st.drill(t, "database-backup-restore", recent.Add(-time.Hour), incident.StatusResolved)
			st.write(t, id, other)
		case "complete-system-recovery": // quarterly, last evidenced 120 days ago
			id, ev := st.drill(t, tt.ID, now.AddDate(0, 0, -120), incident.StatusResolved)
			st.write(t, id, ev)
		case "failover-procedure": // abandoned drills do not count
			id, ev := st.drill(t, tt.ID, recent, incident.StatusAbandoned)
			st.write(t, id, ev)
		case "cross-platform-recovery": // a directory where the file should be
			id, _ := st.drill(t, tt.ID, recent, incident.StatusResolved)
			must(t, os.MkdirAll(filepath.Join(st.dir, "evidence", id+".md"), 0o700))
		case "full-dr-simulation": // last year's does not count this year
			id, ev := st.drill(t, tt.ID, time.Date(2025, time.December, 20, 9, 0, 0, 0, time.UTC), incident.StatusResolved)
			st.write(t, id, ev)
		default:
			id, ev := st.drill(t, tt.ID, recent, incident.StatusResolved)
			st.write(t, id, ev)
			good[tt.ID] = true
		}
	}
	cfg := siteConfig(t, "evidence:\n  public_key: "+st.pub+"\nplan:\n  reviewed: 2026-02-01\n")
	fs, err := compliance.Check(ctx, compliance.Options{StateDir: st.dir, Site: cfg, Now: now})
	must(t, err)
	got := byItem(fs)
	want := map[string]string{
		"configuration-recovery":   "does not verify",
		"single-agent-failure":     "the evidence file is the record of",
		"complete-system-recovery": "overdue",
		"failover-procedure":       "no drill in 2026",
		"cross-platform-recovery":  "not a regular file",
		"full-dr-simulation":       "no drill in 2026",
	}
	for _, tt := range incident.Tests {
		f := got["drill:"+tt.ID]
		if good[tt.ID] {
			if f.Status != compliance.Pass || !strings.Contains(f.Message, "(trusted key)") {
				t.Errorf("%s: %+v, want a pass by the trusted key", tt.ID, f)
			}
			continue
		}
		if f.Status != compliance.Fail || !strings.Contains(f.Message, want[tt.ID]) {
			t.Errorf("%s: %+v, want a failure saying %q", tt.ID, f, want[tt.ID])
		}
	}
	if f := got["plan-review"]; f.Status != compliance.Pass {
		t.Errorf("plan-review: %+v", f)
	}

	// Signed by another key than the trusted one: nothing verifies.
	otherPub := filepath.Join(t.TempDir(), "other.key")
	_, err = incident.GenerateSigningKey(otherPub)
	must(t, err)
	cfg = siteConfig(t, "evidence:\n  public_key: "+otherPub+".pub\n")
	fs, err = compliance.Check(ctx, compliance.Options{StateDir: st.dir, Site: cfg, Now: now})
	must(t, err)
	for id := range good {
		if f := byItem(fs)["drill:"+id]; f.Status != compliance.Fail || !strings.Contains(f.Message, "signed by another key") {
			t.Errorf("%s under another trusted key: %+v", id, f)
		}
	}

}

// The drill running the check is not counted: it has no evidence yet.
func TestTheRunningDrillIsNotCounted(t *testing.T) {
	st := newState(t)
	id, _ := st.drill(t, "compliance-validation", now.Add(-time.Hour), incident.StatusResolved)
	fs, err := compliance.Check(ctx, compliance.Options{StateDir: st.dir, Now: now})
	must(t, err)
	if f := byItem(fs)["drill:compliance-validation"]; f.Status != compliance.Fail || !strings.Contains(f.Message, "none with verified evidence: "+id+" (no evidence: drbook evidence "+id+")") {
		t.Errorf("counting it: %+v", f)
	}
	fs, err = compliance.Check(ctx, compliance.Options{StateDir: st.dir, Now: now, Exclude: id})
	must(t, err)
	if f := byItem(fs)["drill:compliance-validation"]; f.Status != compliance.Fail || !strings.Contains(f.Message, "no drill in 2026") {
		t.Errorf("excluding it: %+v", f)
	}
}

func TestPlanReview(t *testing.T) {
	for reviewed, want := range map[string]string{
		"":           "not recorded",
		"2026-11-30": "",
		"2025-11-01": "review it at least once a year",
		"2027-01-01": "in the future",
		"01/02/2026": "not a date",
		"2026-13-01": "not a date",
	} {
		cfg := siteConfig(t, "plan:\n  reviewed: \""+reviewed+"\"\n")
		fs, err := compliance.Check(ctx, compliance.Options{StateDir: t.TempDir(), Site: cfg, Now: now})
		must(t, err)
		f := byItem(fs)["plan-review"]
		switch {
		case want == "" && f.Status != compliance.Pass:
			t.Errorf("reviewed %q: %+v, want pass", reviewed, f)
		case want != "" && (f.Status != compliance.Fail || !strings.Contains(f.Message, want)):
			t.Errorf("reviewed %q: %+v, want a failure saying %q", reviewed, f, want)
		}
	}
}

// Contacts as a site configuration lists them: a stale verification is a
// warning, a placeholder phone and a missing role are failures.
func TestContacts(t *testing.T) {
	yaml := `contacts:
  people:
    - {name: Ann Lee, role: Primary On-Call, phone: "+1 212 555 0100", verified: 2026-11-01}
    - {name: Bo Chen, role: Secondary On-Call, phone: "+1 212 555 0101", verified: 2026-01-15}
    - {name: Cy Diaz, role: Technical Lead, phone: "[Phone]", verified: 2026-11-20}
    - {name: Di Ek, role: Operations Manager, email: di@example.com, verified: 2026-11-20}
    - {name: IBKR, role: IBKR Support, phone: "+1-877-442-2757", verified: 2026-11-20}
`
	fs, err := compliance.Check(ctx, compliance.Options{StateDir: t.TempDir(), Site: siteConfig(t, yaml), Now: now})
	must(t, err)
	var warn, fail []string
	for _, f := range fs {
		if f.Item != "contacts" {
			continue
		}
		switch f.Status {
		case compliance.Warn:
			warn = append(warn, f.Message)
		case compliance.Fail:
			fail = append(fail, f.Message)
		}
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "Bo Chen last verified 2026-01-15") {
		t.Errorf("warnings: %q", warn)
	}
	all := strings.Join(fail, "\n")
	if !strings.Contains(all, "Cy Diaz: phone is a placeholder") || !strings.Contains(all, `role "Alpaca Support"`) {
		t.Errorf("failures: %q", fail)
	}
}
