// Package compliance checks what a regulator asks of the disaster recovery
// programme beyond the system itself (plan section 4.1, "Regulatory
// compliance validation"): that every scheduled test ran within its period
// with signed evidence that still verifies, that the plan was reviewed
// within the year, and that the emergency contacts were verified recently.
// It only reads: the incident store, the evidence files and the site
// configuration.
package compliance

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
)

// Status is a finding's verdict.
type Status string

// Verdicts.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Finding is one thing checked.
type Finding struct {
	Item    string `json:"item"` // "drill:ID", "plan-review", "contacts"
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Evidence is the evidence file that counts for a drill item.
	Evidence string `json:"evidence,omitempty"`
}

// Options say what to check.
type Options struct {
	StateDir string
	// Site is the site configuration; nil or empty skips the contacts
	// (a warning) and leaves the plan review date unknown (a failure).
	Site *site.Config
	Now  time.Time
	// Exclude is an incident not to count: the compliance drill running
	// the check has no evidence yet.
	Exclude string
}

// MaxReviewAge is how old the plan's last review may be.
const MaxReviewAge = 365 * 24 * time.Hour

// Check runs every compliance check and returns the findings in order:
// one per scheduled test, the plan review, the contacts.
func Check(ctx context.Context, o Options) ([]Finding, error) {
	if o.StateDir == "" {
		return nil, errors.New("compliance: no state directory: the incidents and their evidence live there")
	}
	drills, err := drillFindings(ctx, o)
	if err != nil {
		return nil, err
	}
	out := append(drills, reviewFinding(o))
	return append(out, contactFinding(o)...), nil
}

// Failed reports whether any finding failed.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

// drillFindings checks each scheduled test: its newest drill declared this
// year whose evidence verifies must lie within the test's period.
func drillFindings(ctx context.Context, o Options) ([]Finding, error) {
	var sums []incident.Summary
	switch s, err := incident.OpenStoreWith(o.StateDir, incident.StoreOptions{MustExist: true}); {
	case errors.Is(err, incident.ErrNotFound):
		// No state database: nothing was ever drilled.
	case err != nil:
		return nil, fmt.Errorf("compliance: %w", err)
	default:
		sums, err = s.Incidents(ctx)
		s.Close()
		if err != nil {
			return nil, fmt.Errorf("compliance: %w", err)
		}
	}
	trusted, keyNote := trustedKey(o.Site)
	year := o.Now.UTC().Year()
	var out []Finding
	for _, t := range incident.Tests {
		var runs, unsigned []string
		var best *incident.Summary
		var bestPath string
		for i, sm := range sums {
			if sm.Mode != incident.Drill || sm.DrillTest != t.ID || sm.ID == o.Exclude ||
				sm.Status == incident.StatusAbandoned || sm.DeclaredAt.UTC().Year() != year {
				continue
			}
			runs = append(runs, sm.ID)
			p := filepath.Join(o.StateDir, "evidence", sm.ID+".md")
			why, ok := verify(p, sm.ID, trusted)
			if !ok {
				unsigned = append(unsigned, sm.ID+" ("+why+")")
				continue
			}
			if best == nil || sm.DeclaredAt.After(best.DeclaredAt) {
				best, bestPath = &sums[i], p
			}
		}
		f := Finding{Item: "drill:" + t.ID, Status: Fail}
		switch {
		case len(runs) == 0:
			f.Message = fmt.Sprintf("%s (%s): no drill in %d", t.Name, t.Frequency, year)
		case best == nil:
			f.Message = fmt.Sprintf("%s (%s): %d drill(s) in %d, none with verified evidence: %s", t.Name, t.Frequency, len(runs), year, strings.Join(unsigned, "; "))
		case o.Now.Sub(best.DeclaredAt) > t.Every:
			f.Message = fmt.Sprintf("%s (%s): last drill with verified evidence %s on %s, %d days ago: overdue", t.Name, t.Frequency,
				best.ID, best.DeclaredAt.UTC().Format(time.DateOnly), int(o.Now.Sub(best.DeclaredAt).Hours()/24))
			f.Evidence = bestPath
		default:
			f.Status = Pass
			f.Message = fmt.Sprintf("%s (%s): %s on %s, evidence verified%s", t.Name, t.Frequency, best.ID, best.DeclaredAt.UTC().Format(time.DateOnly), keyNote)
			f.Evidence = bestPath
		}
		out = append(out, f)
	}
	return out, nil
}

// trustedKey is the site configuration's evidence public key, if any, and
// a note for the findings when there is none.
func trustedKey(c *site.Config) (ed25519.PublicKey, string) {
	const none = " (by its own key: set evidence.public_key to check who signed)"
	if c == nil || c.Evidence.PublicKey == "" {
		return nil, none
	}
	k, err := incident.LoadPublicKey(c.Resolve(c.Evidence.PublicKey))
	if err != nil {
		return nil, none
	}
	return k, " (trusted key)"
}

// maxEvidence caps what is read of an evidence file.
const maxEvidence = 16 << 20

// verify checks the evidence file of incident id: it exists, is a regular
// file, its signature verifies (by trusted when given) and it is the
// record of that incident.
func verify(path, id string, trusted ed25519.PublicKey) (string, bool) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no evidence: drbook evidence " + id, false
	case err != nil:
		return "evidence unreadable: " + err.Error(), false
	case !fi.Mode().IsRegular():
		return "evidence is not a regular file", false
	case fi.Size() > maxEvidence:
		return "evidence file too big to be one", false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "evidence unreadable: " + err.Error(), false
	}
	res, err := incident.VerifyEvidence(data, trusted)
	if err != nil {
		return "evidence does not verify: " + err.Error(), false
	}
	if res.Evidence.ID != id {
		return "the evidence file is the record of " + res.Evidence.ID, false
	}
	return "", true
}

// reviewFinding checks plan.reviewed of the site configuration.
func reviewFinding(o Options) Finding {
	f := Finding{Item: "plan-review", Status: Fail}
	if o.Site == nil || o.Site.Plan.Reviewed == "" {
		f.Message = "the plan's last review date is not recorded: set plan.reviewed (YYYY-MM-DD) in the site configuration"
		return f
	}
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(o.Site.Plan.Reviewed))
	switch {
	case err != nil:
		f.Message = fmt.Sprintf("plan.reviewed %q is not a date (YYYY-MM-DD)", o.Site.Plan.Reviewed)
	case d.After(o.Now):
		f.Message = fmt.Sprintf("plan.reviewed %s is in the future", d.Format(time.DateOnly))
	case o.Now.Sub(d) > MaxReviewAge:
		f.Message = fmt.Sprintf("the plan was last reviewed %s, %d days ago: review it at least once a year", d.Format(time.DateOnly), int(o.Now.Sub(d).Hours()/24))
	default:
		f.Status = Pass
		f.Message = fmt.Sprintf("the plan was last reviewed %s", d.Format(time.DateOnly))
	}
	return f
}

// contactFinding checks the emergency contacts' verification dates and
// completeness (site.ContactProblems).
func contactFinding(o Options) []Finding {
	if o.Site == nil || o.Site.Path == "" {
		return []Finding{{Item: "contacts", Status: Warn, Message: "no site configuration: the contacts' verification dates were not checked"}}
	}
	seen, err := site.LoadVerifications(o.StateDir)
	if err != nil {
		return []Finding{{Item: "contacts", Status: Fail, Message: "recorded verifications unreadable: " + err.Error()}}
	}
	ps := o.Site.ContactProblems(o.Now, seen)
	if len(ps) == 0 {
		return []Finding{{Item: "contacts", Status: Pass, Message: fmt.Sprintf("%d contacts, each verified within the window", len(o.Site.Contacts.People))}}
	}
	var out []Finding
	for _, p := range ps {
		st := Warn
		if p.Level == site.Error {
			st = Fail
		}
		out = append(out, Finding{Item: "contacts", Status: st, Message: p.Msg})
	}
	return out
}
