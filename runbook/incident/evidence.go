package incident

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// EvidenceFormat names the evidence file's layout; Verify refuses others.
const EvidenceFormat = "drbook-evidence/1"

// Evidence is the record of a continuity test or an incident that
// broker-dealers keep for years: what was tested, when, by whom, against
// which text, how long each phase took against its plan, the objectives
// achieved, the validation results, the deviations, the findings with
// owners and dates, who signed it off, and the timeline with its chain.
type Evidence struct {
	Format       string            `json:"format"`
	ID           string            `json:"id"`
	Title        string            `json:"title"`
	Mode         Mode              `json:"mode"`           // drill or live
	Style        string            `json:"style"`          // functional (actions ran) or tabletop
	Test         string            `json:"test,omitempty"` // the plan's scheduled test (section 4.1)
	TestName     string            `json:"test_name,omitempty"`
	Scenario     string            `json:"scenario,omitempty"`
	Faults       []string          `json:"faults,omitempty"`
	Status       Status            `json:"status"`
	Summary      string            `json:"summary"`
	Started      time.Time         `json:"started"`
	Ended        time.Time         `json:"ended,omitzero"`
	Runbook      EvidenceRunbook   `json:"runbook"`
	Participants []Participant     `json:"participants"`
	Phases       []EvidencePhase   `json:"phases"`
	Objectives   []ReportObjective `json:"objectives"`
	Validation   []ReportAction    `json:"validation"`
	Actions      []ReportAction    `json:"actions"`
	Deviations   []string          `json:"deviations"`
	Findings     []FindingEntry    `json:"findings"`
	Signoffs     []SignoffEntry    `json:"signoffs"`
	Chain        EvidenceChain     `json:"chain"`
	Timeline     []EvidenceEvent   `json:"timeline"`
	GeneratedAt  time.Time         `json:"generated_at"`
}

// EvidenceRunbook names the text that was followed.
type EvidenceRunbook struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

// Participant is someone who took part, from the timeline or named.
type Participant struct {
	Name   string `json:"name"`
	Role   string `json:"role,omitempty"`
	Events int    `json:"events,omitempty"` // events they wrote; 0 for one only named
}

// EvidencePhase is one phase's plan against what happened.
type EvidencePhase struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	PlannedStart Dur    `json:"planned_start"`
	PlannedEnd   Dur    `json:"planned_end"`
	HasWindow    bool   `json:"has_window"`
	Actual       *Dur   `json:"actual,omitempty"`        // time the phase took
	EndedAfter   *Dur   `json:"ended_after,omitempty"`   // from the incident's start
	Status       string `json:"status"`                  // within, overdue, not-started...
	StepsDone    int    `json:"steps_done"`              // of StepsTotal
	StepsTotal   int    `json:"steps_total"`             //
	StepsSkipped int    `json:"steps_skipped,omitempty"` //
}

// EvidenceChain is the timeline's hash chain as verified when the
// evidence was written.
type EvidenceChain struct {
	Events   int    `json:"events"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
}

// EvidenceEvent is a timeline row with its hashes.
type EvidenceEvent struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Kind     Kind      `json:"kind"`
	Actor    string    `json:"actor,omitempty"`
	Text     string    `json:"text"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

// validationActions are the actions whose results are the test's
// validation (the plan's integrity checks and validation queries).
var validationActions = map[string]bool{
	"integrity-check": true, "validate-data": true, "validate-config": true, "reconcile": true,
	"verify-backup": true, "check": true,
}

// BuildEvidence assembles the evidence of st from its timeline, the chain
// as verified, and participants named besides the timeline's actors.
func BuildEvidence(st *State, events []Event, chain VerifyResult, named []Participant, now time.Time) *Evidence {
	rep := BuildReport(st, events, now)
	d := st.Declaration
	ev := &Evidence{
		Format: EvidenceFormat, ID: st.ID, Title: d.Title, Mode: d.Mode, Test: d.DrillTest, Scenario: d.Scenario,
		Status: st.Status, Summary: st.Summary, Started: st.Start(), Ended: st.ClosedAt,
		Runbook:    EvidenceRunbook{ID: d.Runbook.ID, Title: d.Runbook.Title, Source: d.Runbook.Source, SHA256: d.Runbook.SHA256},
		Objectives: rep.Objectives, Actions: rep.Actions, Validation: []ReportAction{},
		Findings: append([]FindingEntry{}, st.Findings...), Signoffs: append([]SignoffEntry{}, st.Signoffs...),
		Deviations: []string{}, GeneratedAt: now.UTC(),
	}
	if t, ok := lookupTest(d.DrillTest); ok {
		ev.TestName = t.Name
	}
	for _, f := range strings.Split(d.Scenario, ",") {
		if f = strings.TrimSpace(f); f != "" && f != "none" {
			ev.Faults = append(ev.Faults, f)
		}
	}
	ev.Style = "tabletop"
	for _, a := range st.Runs {
		if a.Mode == "run" {
			ev.Style = "functional"
			break
		}
	}
	for _, a := range rep.Actions {
		if validationActions[a.Action] {
			ev.Validation = append(ev.Validation, a)
		}
	}

	// Participants: every actor of the timeline, then those named.
	counts := map[string]int{}
	var order []string
	for _, e := range events {
		if e.Actor == "" {
			continue
		}
		if counts[e.Actor] == 0 {
			order = append(order, e.Actor)
		}
		counts[e.Actor]++
	}
	roles := map[string]string{}
	for _, p := range named {
		roles[p.Name] = p.Role
	}
	for _, a := range order {
		ev.Participants = append(ev.Participants, Participant{Name: a, Role: roles[a], Events: counts[a]})
		delete(roles, a)
	}
	for _, p := range named {
		if _, still := roles[p.Name]; still {
			ev.Participants = append(ev.Participants, Participant{Name: p.Name, Role: p.Role})
			delete(roles, p.Name)
		}
	}

	c := st.Clocks(now)
	for i, pc := range c.Phases {
		ep := EvidencePhase{ID: pc.ID, Title: pc.Title, PlannedStart: Dur(pc.Window.Start), PlannedEnd: Dur(pc.Window.End),
			HasWindow: pc.Window.Set, Status: string(pc.Status)}
		if !pc.CompletedAt.IsZero() {
			took, after := Dur(pc.Took), Dur(pc.CompletedAt.Sub(c.Start))
			ep.Actual, ep.EndedAfter = &took, &after
			if pc.Window.Set && pc.CompletedAt.Sub(c.Start) > pc.Window.End {
				ev.Deviations = append(ev.Deviations, fmt.Sprintf("phase %q ended at %s, after its planned end at %s",
					pc.Title, FormatDuration(pc.CompletedAt.Sub(c.Start)), FormatDuration(pc.Window.End)))
			}
		} else if st.Status != StatusOpen {
			ev.Deviations = append(ev.Deviations, fmt.Sprintf("phase %q never completed", pc.Title))
		}
		if i < len(st.Phases) {
			for _, s := range st.Phases[i].Steps {
				ep.StepsTotal++
				switch s.Status {
				case StepDone:
					ep.StepsDone++
				case StepSkipped:
					ep.StepsSkipped++
				}
			}
		}
		ev.Phases = append(ev.Phases, ep)
	}
	for _, s := range rep.Skipped {
		ev.Deviations = append(ev.Deviations, fmt.Sprintf("step %q skipped: %s", s.Title, orDash(s.Reason)))
	}
	for _, s := range rep.Failed {
		ev.Deviations = append(ev.Deviations, fmt.Sprintf("step %q failed: %s", s.Title, orDash(s.Reason)))
	}
	for _, s := range rep.ByHand {
		ev.Deviations = append(ev.Deviations, fmt.Sprintf("step %q marked done by hand: its action was not run by drbook", s.Title))
	}
	for _, o := range rep.Objectives {
		if o.Verdict == Missed {
			ev.Deviations = append(ev.Deviations, fmt.Sprintf("%s missed", o.Name))
		}
	}

	ev.Chain = EvidenceChain{Events: chain.Events, OK: chain.OK, Problem: chain.Problem}
	ev.Timeline = make([]EvidenceEvent, 0, len(events))
	for _, e := range events {
		ev.Timeline = append(ev.Timeline, EvidenceEvent{Seq: e.Seq, At: e.At, Kind: e.Kind, Actor: e.Actor, Text: Describe(e),
			PrevHash: e.PrevHash, Hash: e.Hash})
	}
	if n := len(events); n > 0 {
		ev.Chain.HeadSeq, ev.Chain.HeadHash = events[n-1].Seq, events[n-1].Hash
	}
	if ev.Participants == nil {
		ev.Participants = []Participant{}
	}
	return ev
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Markdown renders the evidence for a reader, followed by the same
// evidence as JSON for machines (the JSON is what Verify reads back).
func (ev *Evidence) Markdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	kind := "Incident"
	if ev.Mode == Drill {
		kind = "Continuity test"
	}
	p("# %s evidence: %s\n\n", kind, ev.Title)
	p("| | |\n|---|---|\n")
	p("| Record | %s |\n", ev.ID)
	if ev.TestName != "" {
		p("| Scheduled test | %s (%s) |\n", ev.TestName, ev.Test)
	}
	p("| Mode | %s, %s |\n", ev.Mode, ev.Style)
	if len(ev.Faults) > 0 {
		p("| Injected faults | %s |\n", strings.Join(ev.Faults, ", "))
	}
	p("| Started | %s |\n| Ended | %s |\n| Outcome | %s |\n", ts(ev.Started), ts(ev.Ended), ev.Status)
	p("| Runbook | %s (%s) |\n| Runbook source | %s |\n| Runbook SHA-256 | `%s` |\n", ev.Runbook.Title, ev.Runbook.ID, ev.Runbook.Source, orDash(ev.Runbook.SHA256))
	p("| Timeline | %d events, head %d `%s`, chain %s |\n\n", ev.Chain.Events, ev.Chain.HeadSeq, ev.Chain.HeadHash, chainWord(ev.Chain))
	if ev.Summary != "" {
		p("Summary: %s\n\n", oneLine(ev.Summary))
	}
	p("## Participants\n\n")
	if len(ev.Participants) == 0 {
		p("None recorded.\n\n")
	}
	for _, pt := range ev.Participants {
		role := ""
		if pt.Role != "" {
			role = " — " + pt.Role
		}
		src := "named"
		if pt.Events > 0 {
			src = fmt.Sprintf("%d timeline events", pt.Events)
		}
		p("- %s%s (%s)\n", pt.Name, role, src)
	}
	p("\n## Objectives\n\n| Objective | Target | Achieved | Verdict |\n|---|---|---|---|\n")
	for _, o := range ev.Objectives {
		ach := "-"
		if o.Achieved != nil {
			ach = FormatDuration(time.Duration(*o.Achieved))
		}
		p("| %s | %s | %s | %s |\n", o.Name, FormatDuration(time.Duration(o.Objective)), ach, o.Verdict)
	}
	p("\n## Phases: planned and actual\n\n| Phase | Planned window | Took | Ended at | Steps | Status |\n|---|---|---|---|---|---|\n")
	for _, ph := range ev.Phases {
		win := "-"
		if ph.HasWindow {
			win = FormatDuration(time.Duration(ph.PlannedStart)) + "–" + FormatDuration(time.Duration(ph.PlannedEnd))
		}
		took, at := "-", "-"
		if ph.Actual != nil {
			took, at = FormatDuration(time.Duration(*ph.Actual)), FormatDuration(time.Duration(*ph.EndedAfter))
		}
		p("| %s | %s | %s | %s | %d/%d | %s |\n", oneLine(ph.Title), win, took, at, ph.StepsDone, ph.StepsTotal, ph.Status)
	}
	p("\n## Validation results\n\n")
	if len(ev.Validation) == 0 {
		p("No validation action was run.\n")
	}
	for _, a := range ev.Validation {
		p("- %s (step %s): **%s** %s\n", a.Action, a.Step, a.Status, oneLine(a.Summary))
	}
	p("\n## Deviations from the plan\n\n")
	if len(ev.Deviations) == 0 {
		p("None.\n")
	}
	for _, d := range ev.Deviations {
		p("- %s\n", oneLine(d))
	}
	p("\n## Findings\n\n")
	if len(ev.Findings) == 0 {
		p("None recorded.\n")
	} else {
		p("| # | Finding | Owner | Due |\n|---|---|---|---|\n")
		for _, f := range ev.Findings {
			p("| %d | %s | %s | %s |\n", f.ID, oneLine(f.Text), oneLine(f.Owner), f.Due)
		}
	}
	p("\n## Sign-off\n\n")
	if len(ev.Signoffs) == 0 {
		p("Not signed off.\n")
	}
	for _, s := range ev.Signoffs {
		role := ""
		if s.Role != "" {
			role = ", " + s.Role
		}
		p("- %s%s, %s%s\n", s.By, role, ts(s.At), prefixed(": ", s.Statement))
	}
	p("\n## Timeline\n\n| # | Time | Actor | Event | Hash |\n|---|---|---|---|---|\n")
	for _, e := range ev.Timeline {
		p("| %d | %s | %s | %s | `%.12s` |\n", e.Seq, e.At.UTC().Format("2006-01-02 15:04:05"), oneLine(e.Actor), oneLine(e.Text), e.Hash)
	}
	p("\n## Machine-readable record\n\n```json\n")
	js, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	b.Write(js)
	p("\n```\n")
	return b.Flush()
}

func prefixed(pre, s string) string {
	if s == "" {
		return ""
	}
	return pre + oneLine(s)
}

func chainWord(c EvidenceChain) string {
	if c.OK {
		return "verified"
	}
	return "BROKEN: " + c.Problem
}

// signatureMarker opens the signature block at the end of an evidence
// file. Everything before it is what is signed.
const signatureMarker = "\n<!-- drbook evidence signature\n"

// Seal returns the evidence document signed with key: the Markdown, then
// a comment block holding the algorithm, the public key, its fingerprint
// and the signature of every byte before the block.
func Seal(doc []byte, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, doc)
	pub := key.Public().(ed25519.PublicKey)
	var b bytes.Buffer
	b.Write(doc)
	b.WriteString(signatureMarker)
	fmt.Fprintf(&b, "algorithm: ed25519\npublic-key: %s\nfingerprint: %s\nsignature: %s\n-->\n",
		base64.StdEncoding.EncodeToString(pub), Fingerprint(pub), base64.StdEncoding.EncodeToString(sig))
	return b.Bytes()
}

// Fingerprint names a public key the way OpenSSH does: SHA256:base64.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Evidence verification errors.
var (
	ErrUnsigned     = errors.New("evidence file has no drbook signature block")
	ErrBadSignature = errors.New("evidence signature does not match: the file was changed after it was signed")
	ErrUntrustedKey = errors.New("evidence was signed by another key")
)

// EvidenceCheck is what VerifyEvidence found.
type EvidenceCheck struct {
	Fingerprint string    `json:"fingerprint"`
	Trusted     bool      `json:"trusted"` // signed by the key the caller trusts
	Evidence    *Evidence `json:"-"`
}

// VerifyEvidence checks a sealed evidence file: the signature covers every
// byte before its block, and, when trusted is given, the signer is that
// key. Any change to the file, one byte included, fails.
func VerifyEvidence(file []byte, trusted ed25519.PublicKey) (EvidenceCheck, error) {
	i := bytes.LastIndex(file, []byte(signatureMarker))
	if i < 0 {
		return EvidenceCheck{}, ErrUnsigned
	}
	doc, block := file[:i], string(file[i+len(signatureMarker):])
	fields := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(block, "\n"), "-->") || strings.Count(block, "\n") != 5 {
		return EvidenceCheck{}, ErrBadSignature
	}
	if fields["algorithm"] != "ed25519" {
		return EvidenceCheck{}, fmt.Errorf("evidence: signature algorithm %q: want ed25519", fields["algorithm"])
	}
	pub, err1 := base64.StdEncoding.DecodeString(fields["public-key"])
	sig, err2 := base64.StdEncoding.DecodeString(fields["signature"])
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return EvidenceCheck{}, ErrBadSignature
	}
	if fields["fingerprint"] != Fingerprint(pub) {
		return EvidenceCheck{}, ErrBadSignature
	}
	if !ed25519.Verify(pub, doc, sig) {
		return EvidenceCheck{}, ErrBadSignature
	}
	res := EvidenceCheck{Fingerprint: Fingerprint(pub)}
	if trusted != nil {
		if !bytes.Equal(trusted, pub) {
			return res, fmt.Errorf("%w: %s, not the trusted %s", ErrUntrustedKey, res.Fingerprint, Fingerprint(trusted))
		}
		res.Trusted = true
	}
	// The machine-readable record inside is the one signed: read it back.
	const open, end = "```json\n", "\n```\n"
	j := bytes.LastIndex(doc, []byte(open))
	if j >= 0 {
		rest := doc[j+len(open):]
		if k := bytes.LastIndex(rest, []byte(end)); k >= 0 {
			var ev Evidence
			if err := json.Unmarshal(rest[:k], &ev); err != nil {
				return res, fmt.Errorf("evidence: signed, but its record does not parse: %w", err)
			}
			if ev.Format == EvidenceFormat {
				res.Evidence = &ev
			}
		}
	}
	if res.Evidence == nil {
		return res, fmt.Errorf("evidence: signed, but holds no %s record", EvidenceFormat)
	}
	return res, nil
}

// GenerateSigningKey writes a new ed25519 private key (PKCS#8 PEM, mode
// 0600, as `openssl genpkey -algorithm ed25519` writes) to path and its
// public key beside it (path + ".pub", PEM). An existing file is kept.
func GenerateSigningKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return pub, nil
}

// LoadSigningKey reads an ed25519 private key (PKCS#8 PEM). A key others
// can read is refused: a signature proves nothing if anyone could make it.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("signing key %s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

// LoadPublicKey reads an ed25519 public key: PEM (PKIX), or the
// public-key line of an evidence file's signature block (base64).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if blk, _ := pem.Decode(data); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %s: %T, want ed25519", path, k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %s: neither PEM nor a base64 ed25519 key", path)
	}
	return ed25519.PublicKey(raw), nil
}

// Participants parses "Name" or "Name:role" values.
func Participants(values []string) []Participant {
	var out []Participant
	for _, v := range values {
		name, role, _ := strings.Cut(v, ":")
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, Participant{Name: name, Role: strings.TrimSpace(role)})
		}
	}
	return out
}
