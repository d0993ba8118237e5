package incident_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

// closedWithEvidence runs testRunbook to its close an hour and a half
// after t0 (the recovery phase late), with one finding and a sign-off.
func closedWithEvidence(t *testing.T) (*incident.Store, *incident.Incident) {
	t.Helper()
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{Mode: incident.Drill, Scenario: "corrupt-db", DrillTest: "database-backup-restore"})
	clock.Advance(5 * time.Minute)
	must(t, in.DoneStep("immediate/halt", ""))
	must(t, in.SkipStep("immediate/notify", "phones were used"))
	clock.Advance(20 * time.Minute)
	must(t, in.DoneStep("assessment/scope", ""))
	must(t, in.DoneStep("assessment/estimate", ""))
	clock.Advance(50 * time.Minute) // 1h15m: the recovery phase ends after its window (1h)
	must(t, in.DoneStep("recovery/wipe", ""))
	must(t, in.DoneStep("recovery/restore", ""))
	must(t, in.DoneStep("validation/check", ""))
	if err := in.SignOff("Dana Holt", "Operations Manager", "accepted"); !errors.Is(err, incident.ErrNotClosed) {
		t.Fatalf("sign-off on an open incident: %v, want ErrNotClosed", err)
	}
	must(t, in.Close(incident.StatusResolved, "restored from the 09:00 backup"))
	clock.Advance(24 * time.Hour)
	f, err := in.AddFinding("restore took longer than its window: script the schema check", "Chen Li", t0.AddDate(0, 1, 0))
	must(t, err)
	if f.ID != 1 || f.Due != "2026-04-02" {
		t.Fatalf("finding = %+v", f)
	}
	if _, err := in.AddFinding("x", "", t0); err == nil {
		t.Fatal("a finding without an owner was accepted")
	}
	must(t, in.SignOff("Dana Holt", "Operations Manager", "accepted"))
	return s, in
}

func TestEvidenceRecordsTheTestAndVerifies(t *testing.T) {
	s, in := closedWithEvidence(t)
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	chain, err := s.Verify(ctx, in.ID())
	must(t, err)
	ev := incident.BuildEvidence(in.State(), evs, chain, incident.Participants([]string{"alice:incident lead", "Dana Holt:Operations Manager", "Eve Auditor:observer"}), in.Now())

	if ev.Test != "database-backup-restore" || ev.TestName == "" || len(ev.Faults) != 1 || ev.Faults[0] != "corrupt-db" || ev.Style != "tabletop" {
		t.Errorf("test/scenario/style = %q %q %v %q", ev.Test, ev.TestName, ev.Faults, ev.Style)
	}
	if !ev.Chain.OK || ev.Chain.HeadSeq != evs[len(evs)-1].Seq || ev.Chain.HeadHash != evs[len(evs)-1].Hash {
		t.Errorf("chain = %+v", ev.Chain)
	}
	names := map[string]string{}
	for _, p := range ev.Participants {
		names[p.Name] = p.Role
	}
	if names[alice.String()] != "" || names["Eve Auditor"] != "observer" || len(ev.Participants) < 3 {
		t.Errorf("participants = %+v", ev.Participants)
	}
	dev := strings.Join(ev.Deviations, "\n")
	for _, want := range []string{`step "Notify stakeholders" skipped: phones were used`, `phase "Recovery (30-60 minutes)" ended at 1h15m, after its planned end at 1h`} {
		if !strings.Contains(dev, want) {
			t.Errorf("deviations lack %q:\n%s", want, dev)
		}
	}
	if len(ev.Findings) != 1 || ev.Findings[0].Owner != "Chen Li" || len(ev.Signoffs) != 1 || ev.Signoffs[0].By != "Dana Holt" {
		t.Errorf("findings %+v signoffs %+v", ev.Findings, ev.Signoffs)
	}

	var doc bytes.Buffer
	must(t, ev.Markdown(&doc))
	keyPath := filepath.Join(t.TempDir(), "evidence.key")
	pub, err := incident.GenerateSigningKey(keyPath)
	must(t, err)
	key, err := incident.LoadSigningKey(keyPath)
	must(t, err)
	sealed := incident.Seal(doc.Bytes(), key)

	got, err := incident.VerifyEvidence(sealed, pub)
	must(t, err)
	if !got.Trusted || got.Evidence == nil || got.Evidence.ID != in.ID() || got.Evidence.Chain.HeadHash != ev.Chain.HeadHash {
		t.Fatalf("verify = %+v", got)
	}
	// One byte changed anywhere, in the prose, the JSON or the signature
	// block, and it no longer verifies.
	for _, at := range []int{0, bytes.Index(sealed, []byte("Chen Li")), bytes.Index(sealed, []byte(`"head_hash"`)) + 15, len(sealed) - 10, len(sealed) - 1} {
		edited := bytes.Clone(sealed)
		edited[at] ^= 0x01
		if _, err := incident.VerifyEvidence(edited, pub); err == nil {
			t.Errorf("a one-byte edit at %d of %d still verifies", at, len(sealed))
		}
	}
	// Re-signed by someone else's key: the signature holds, the key is not trusted.
	otherPath := filepath.Join(t.TempDir(), "other.key")
	_, err = incident.GenerateSigningKey(otherPath)
	must(t, err)
	other, err := incident.LoadSigningKey(otherPath)
	must(t, err)
	if _, err := incident.VerifyEvidence(incident.Seal(doc.Bytes(), other), pub); !errors.Is(err, incident.ErrUntrustedKey) {
		t.Errorf("re-signed by another key: %v, want ErrUntrustedKey", err)
	}
	if _, err := incident.VerifyEvidence(doc.Bytes(), nil); !errors.Is(err, incident.ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
	// The public key written beside the private one loads.
	pub2, err := incident.LoadPublicKey(keyPath + ".pub")
	must(t, err)
	if !bytes.Equal(pub, pub2) {
		t.Error("the .pub file holds another key")
	}
	// A key others can read is refused.
	must(t, os.Chmod(keyPath, 0o644))
	if _, err := incident.LoadSigningKey(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
}
