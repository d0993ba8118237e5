package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/incident"
)

const evidenceUsage = `
Usage: drbook evidence [ID] [-o FILE] [--key FILE] [--participant NAME:ROLE]...
       drbook evidence verify FILE [--key PUBFILE]
       drbook evidence keygen -o FILE

Write the signed record of a drill or an incident that a regulator keeps:
scenario and injected faults, tabletop or functional, start and end, the
runbook followed and its SHA-256, participants and roles (the timeline's
operators plus --participant), planned against actual time per phase,
RTO/RPO/MTD achieved, validation results, deviations, findings with owners
and due dates, sign-offs, and the timeline with its chain head. It is
Markdown with the same record as JSON inside, signed with an ed25519 key
(--key, else evidence.signing_key of the site configuration). A copy is
kept in the state directory for 'drbook drills --year'.

'verify' checks that a file is unchanged since it was signed and, with
--key (else evidence.public_key), that the trusted key signed it.
'keygen' writes a new private key (mode 0600) and FILE.pub.

Exit codes: 0 written or verified; 1 the file was changed, is unsigned or
was signed by another key; 2 usage errors, unknown incident, no key;
130 interrupted.
`

func runEvidence(ctx context.Context, iox *IO, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runEvidenceVerify(iox, args[1:])
		case "keygen":
			return runEvidenceKeygen(iox, args[1:])
		}
	}
	var so stateOptions
	var out, keyPath string
	var named []string
	fs := newFlagSet("evidence", evidenceUsage, iox)
	so.AddFlags(fs)
	fs.StringVarP(&out, "output", "o", "", "write the evidence here ('-' for stdout; default: only the state directory's copy, path printed)")
	fs.StringVar(&keyPath, "key", "", "ed25519 signing key (default evidence.signing_key of the site configuration)")
	fs.StringArrayVar(&named, "participant", nil, "a participant not in the timeline, NAME or NAME:ROLE (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("evidence: unexpected argument %q (run 'drbook evidence --help')", fs.Arg(1))
	}
	key, err := signingKey(iox, keyPath)
	if err != nil {
		return err
	}
	s, err := so.open("evidence", iox, true)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := resolveID(ctx, "evidence", iox, s, fs.Args())
	if err != nil {
		return err
	}
	st, err := s.Load(ctx, id)
	if err != nil {
		return incidentErr("evidence", err)
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		return incidentErr("evidence", err)
	}
	chain, err := s.Verify(ctx, id)
	if err != nil {
		return incidentErr("evidence", err)
	}
	ev := incident.BuildEvidence(st, evs, chain, incident.Participants(named), now(iox))
	var doc bytes.Buffer
	if err := ev.Markdown(&doc); err != nil {
		return err
	}
	sealed := incident.Seal(doc.Bytes(), key)
	copyDir := filepath.Join(so.dir(iox), "evidence")
	if err := os.MkdirAll(copyDir, 0o700); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	keep := filepath.Join(copyDir, id+".md")
	write := func(w io.Writer) error { _, err := w.Write(sealed); return err }
	if err := writeFileAtomic(keep, write); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	switch out {
	case "-":
		_, err = iox.Stdout.Write(sealed)
		return err
	case "":
	default:
		if err := writeFileAtomic(out, write); err != nil {
			return usageErr("evidence: %w", err)
		}
		keep = out
	}
	fmt.Fprintf(iox.Stdout, "evidence of %s written to %s (signed by %s", id, keep, incident.Fingerprint(key.Public().(ed25519.PublicKey)))
	if !chain.OK {
		fmt.Fprintf(iox.Stdout, "; the timeline chain is BROKEN: %s", chain.Problem)
	}
	fmt.Fprintln(iox.Stdout, ")")
	if !chain.OK {
		return failed(nil)
	}
	return nil
}

// signingKey loads --key, else the site configuration's signing key.
func signingKey(iox *IO, flag string) (ed25519.PrivateKey, error) {
	path := flag
	if path == "" {
		cfg, err := iox.Site()
		if err != nil {
			return nil, err
		}
		path = cfg.Resolve(cfg.Evidence.SigningKey)
	}
	if path == "" {
		return nil, usageErr("evidence: no signing key: give --key FILE or set evidence.signing_key in the site configuration (create one with 'drbook evidence keygen -o FILE')")
	}
	k, err := incident.LoadSigningKey(path)
	if err != nil {
		return nil, usageErr("evidence: %w", err)
	}
	return k, nil
}

func runEvidenceVerify(iox *IO, args []string) error {
	var keyPath string
	var asJSON bool
	fs := newFlagSet("evidence verify", evidenceUsage, iox)
	fs.StringVar(&keyPath, "key", "", "the trusted public key (default evidence.public_key of the site configuration)")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("evidence verify: want one FILE (run 'drbook evidence --help')")
	}
	if keyPath == "" {
		if cfg, err := iox.Site(); err == nil {
			keyPath = cfg.Resolve(cfg.Evidence.PublicKey)
		}
	}
	var trusted ed25519.PublicKey
	if keyPath != "" {
		k, err := incident.LoadPublicKey(keyPath)
		if err != nil {
			return usageErr("evidence verify: %w", err)
		}
		trusted = k
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return usageErr("evidence verify: %w", err)
	}
	res, err := incident.VerifyEvidence(data, trusted)
	if asJSON {
		out := map[string]any{"file": fs.Arg(0), "ok": err == nil, "fingerprint": res.Fingerprint, "trusted": res.Trusted}
		if err != nil {
			out["problem"] = err.Error()
		}
		if res.Evidence != nil {
			out["id"], out["head_seq"], out["head_hash"] = res.Evidence.ID, res.Evidence.Chain.HeadSeq, res.Evidence.Chain.HeadHash
		}
		if jerr := printJSON(iox.Stdout, out); jerr != nil {
			return jerr
		}
		if err != nil {
			return failed(nil)
		}
		return nil
	}
	if err != nil {
		return failed(fmt.Errorf("evidence verify %s: %w", fs.Arg(0), err))
	}
	trust := "trusted key"
	if !res.Trusted {
		trust = "key not checked against a trusted one: give --key or set evidence.public_key"
	}
	fmt.Fprintf(iox.Stdout, "%s: verified: %s, %d events, chain head %d %s; signed by %s (%s)\n", fs.Arg(0),
		res.Evidence.ID, res.Evidence.Chain.Events, res.Evidence.Chain.HeadSeq, short(res.Evidence.Chain.HeadHash), res.Fingerprint, trust)
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func runEvidenceKeygen(iox *IO, args []string) error {
	var out string
	fs := newFlagSet("evidence keygen", evidenceUsage, iox)
	fs.StringVarP(&out, "output", "o", "", "the private key file to create (FILE.pub gets the public key)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if out == "" || fs.NArg() > 0 {
		return usageErr("evidence keygen: want -o FILE (run 'drbook evidence --help')")
	}
	pub, err := incident.GenerateSigningKey(out)
	if err != nil {
		return usageErr("evidence keygen: %w", err)
	}
	fmt.Fprintf(iox.Stdout, "wrote %s (private, 0600) and %s.pub; fingerprint %s\n", out, out, incident.Fingerprint(pub))
	return nil
}

const findingUsage = `
Usage: drbook finding add ID TEXT --owner NAME --due YYYY-MM-DD
       drbook finding list [ID] [--json]

Record a finding of a drill or an incident: what must change, who owns it
and by when. Findings may be added after the close (they come out of the
review) and appear in the report and in 'drbook evidence'.

Exit codes: 0 recorded or listed; 2 usage errors, unknown incident;
130 interrupted.
`

func runFinding(ctx context.Context, iox *IO, args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var so stateOptions
	var owner, due string
	var asJSON bool
	fs := newFlagSet("finding", findingUsage, iox)
	so.AddFlags(fs)
	so.addOperator(fs)
	fs.StringVar(&owner, "owner", "", "who fixes it")
	fs.StringVar(&due, "due", "", "by when, YYYY-MM-DD")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch sub {
	case "add":
		if fs.NArg() < 2 {
			return usageErr("finding add: want ID TEXT (run 'drbook finding --help')")
		}
		if owner == "" || due == "" {
			return usageErr("finding add: --owner and --due are required (every finding needs someone and a date)")
		}
		d, err := time.Parse(time.DateOnly, due)
		if err != nil {
			return usageErr("finding add: --due %q: want YYYY-MM-DD", due)
		}
		s, in, err := attachWith(ctx, "finding", iox, &so, fs.Arg(0), true)
		if err != nil {
			return err
		}
		defer s.Close()
		f, err := in.AddFinding(strings.Join(fs.Args()[1:], " "), owner, d)
		if err != nil {
			return incidentErr("finding", err)
		}
		fmt.Fprintf(iox.Stdout, "finding %d of %s: %s (owner %s, due %s)\n", f.ID, in.ID(), f.Text, f.Owner, f.Due)
		return nil
	case "list":
		s, err := so.open("finding", iox, true)
		if err != nil {
			return err
		}
		defer s.Close()
		id, err := resolveID(ctx, "finding", iox, s, fs.Args())
		if err != nil {
			return err
		}
		st, err := s.Load(ctx, id)
		if err != nil {
			return incidentErr("finding", err)
		}
		fl := st.Findings
		if asJSON {
			if fl == nil {
				fl = []incident.FindingEntry{}
			}
			return printJSON(iox.Stdout, fl)
		}
		if len(fl) == 0 {
			fmt.Fprintf(iox.Stdout, "%s: no findings\n", id)
		}
		for _, f := range fl {
			fmt.Fprintf(iox.Stdout, "%d. %s (owner %s, due %s)\n", f.ID, f.Text, f.Owner, f.Due)
		}
		return nil
	}
	return usageErr("finding: want add or list (run 'drbook finding --help')")
}

const signoffUsage = `
Usage: drbook signoff ID --by NAME [--role ROLE] [--statement TEXT]

Record that NAME reviewed the closed incident or drill and accepts its
record. The sign-off is part of the timeline and of 'drbook evidence'.

Exit codes: 0 recorded; 1 the incident is still open; 2 usage errors,
unknown incident; 130 interrupted.
`

func runSignoff(ctx context.Context, iox *IO, args []string) error {
	var so stateOptions
	var by, role, statement string
	fs := newFlagSet("signoff", signoffUsage, iox)
	so.AddFlags(fs)
	so.addOperator(fs)
	fs.StringVar(&by, "by", "", "who signs off")
	fs.StringVar(&role, "role", "", "their role (Operations Manager, Compliance...)")
	fs.StringVar(&statement, "statement", "", "what they accept")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || by == "" {
		return usageErr("signoff: want ID --by NAME (run 'drbook signoff --help')")
	}
	s, in, err := attachWith(ctx, "signoff", iox, &so, fs.Arg(0), true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := in.SignOff(by, role, statement); err != nil {
		if errors.Is(err, incident.ErrNotClosed) {
			return failed(fmt.Errorf("signoff: %w", err))
		}
		return incidentErr("signoff", err)
	}
	fmt.Fprintf(iox.Stdout, "%s signed off by %s\n", in.ID(), by)
	return nil
}

// yearDrill is one drill of a year, with its evidence when written.
type yearDrill struct {
	ID       string          `json:"id"`
	Test     string          `json:"test,omitempty"`
	Runbook  string          `json:"runbook"`
	Declared time.Time       `json:"declared"`
	Status   incident.Status `json:"status"`
	Evidence string          `json:"evidence,omitempty"`
	Verified bool            `json:"evidence_verified"`
}

// drillsOfYear lists the drills declared in year with their evidence
// files in the state directory, each checked.
func drillsOfYear(ctx context.Context, s *incident.Store, stateDir string, year int, trusted ed25519.PublicKey) ([]yearDrill, error) {
	list, err := s.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := []yearDrill{}
	for _, sm := range list {
		if sm.Mode != incident.Drill || sm.DeclaredAt.UTC().Year() != year {
			continue
		}
		d := yearDrill{ID: sm.ID, Test: sm.DrillTest, Runbook: sm.Runbook, Declared: sm.DeclaredAt, Status: sm.Status}
		p := filepath.Join(stateDir, "evidence", sm.ID+".md")
		if data, err := os.ReadFile(p); err == nil {
			d.Evidence = p
			_, verr := incident.VerifyEvidence(data, trusted)
			d.Verified = verr == nil
		}
		out = append(out, d)
	}
	return out, nil
}

// trustedKey is the site configuration's evidence public key, if any.
func trustedKey(iox *IO) ed25519.PublicKey {
	cfg, err := iox.Site()
	if err != nil || cfg.Evidence.PublicKey == "" {
		return nil
	}
	k, err := incident.LoadPublicKey(cfg.Resolve(cfg.Evidence.PublicKey))
	if err != nil {
		return nil
	}
	return k
}

// drillsYear prints 'drbook drills --year': the year's drills and their
// evidence. A drill without evidence, or whose evidence no longer
// verifies, is listed as such and makes the exit status 1.
func drillsYear(ctx context.Context, iox *IO, so *stateOptions, year int, asJSON bool) error {
	if year < 2000 || year > 9999 {
		return usageErr("drills: --year %d: want a year such as 2026", year)
	}
	s, err := so.open("drills", iox, true)
	if err != nil {
		return err
	}
	defer s.Close()
	list, err := drillsOfYear(ctx, s, so.dir(iox), year, trustedKey(iox))
	if err != nil {
		return incidentErr("drills", err)
	}
	missing := 0
	for _, d := range list {
		if !d.Verified {
			missing++
		}
	}
	if asJSON {
		if err := printJSON(iox.Stdout, list); err != nil {
			return err
		}
	} else {
		rows := [][]string{{"DATE", "TEST", "DRILL", "OUTCOME", "EVIDENCE"}}
		for _, d := range list {
			ev := "none"
			switch {
			case d.Evidence != "" && d.Verified:
				ev = "verified"
			case d.Evidence != "":
				ev = "CHANGED"
			}
			rows = append(rows, []string{d.Declared.UTC().Format(time.DateOnly), orDash(d.Test), d.ID, string(d.Status), ev})
		}
		if err := writeTable(iox.Stdout, termWidth, rows); err != nil {
			return err
		}
		fmt.Fprintf(iox.Stdout, "%d drill(s) in %d, %d without verified evidence", len(list), year, missing)
		if missing > 0 {
			fmt.Fprint(iox.Stdout, " ('drbook evidence ID' writes it; CHANGED: edited since, or signed by an untrusted key)")
		}
		fmt.Fprintln(iox.Stdout)
	}
	if missing > 0 {
		return failed(nil)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
