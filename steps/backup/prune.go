package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/drbook/drbook/runbook/hint"
)

// Policy is how long backups are kept (plan 1.1 and 1.3).
type Policy struct {
	Local time.Duration         // local copies, any tier
	Tier  map[int]time.Duration // remote copies by tier
}

// DefaultPolicy is the plan's: tier 1 seven years, tier 2 two years,
// tier 3 thirty days; local copies thirty days.
func DefaultPolicy() Policy {
	return Policy{Local: 30 * 24 * time.Hour, Tier: map[int]time.Duration{
		1: 7 * 365 * 24 * time.Hour, 2: 2 * 365 * 24 * time.Hour, 3: 30 * 24 * time.Hour}}
}

// ErrEmptyPolicy refuses a prune with no retention at all: bad input.
var ErrEmptyPolicy = hint.NewInput("retention policy keeps nothing")

// PruneOptions configures Prune.
type PruneOptions struct {
	Source Source
	Policy Policy
	DryRun bool
	Now    func() time.Time
	// Kept, when set, is called for every backup Prune keeps, with why.
	Kept func(Pruned)
}

// Pruned is one backup deleted (or that would be), or kept, with why.
type Pruned struct {
	Entry
	Reason string `json:"reason"`
}

// Prune deletes backups past their retention. Only backups that count
// (verified) protect the recovery point, so it never deletes:
//   - the newest verified backup of each tier in each place (local, S3),
//     so neither any tier nor any location is left without one;
//   - a verified backup while only backups that do not count are newer
//     (the newest verified one overall, whatever its tier);
//   - anything in a place that holds no verified backup at all: there a
//     damaged-source or unverified archive may be the best copy left.
//
// It refuses a policy with a zero duration (that would delete everything)
// and deletes nothing when a store cannot be listed.
func Prune(ctx context.Context, o PruneOptions) ([]Pruned, error) {
	p := o.Policy
	if p.Local <= 0 && o.Source.Dir != "" {
		return nil, &Error{Err: fmt.Errorf("prune: %w: local retention is %v", ErrEmptyPolicy, p.Local), Advice: "give a positive --keep-local"}
	}
	for _, t := range []int{1, 2, 3} {
		if p.Tier[t] <= 0 && o.Source.S3 != nil {
			return nil, &Error{Err: fmt.Errorf("prune: %w: tier %d retention is %v", ErrEmptyPolicy, t, p.Tier[t]), Advice: "give positive --keep-tier1/2/3"}
		}
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	entries, err := List(ctx, o.Source)
	if err != nil {
		return nil, fmt.Errorf("prune: nothing deleted: %w", err)
	}
	protected := protect(entries)
	var s3 *S3Store
	var out []Pruned
	for _, e := range entries {
		keep := p.Local
		if e.Location == "s3" {
			tier := e.Tier
			if tier == 0 {
				tier = 1
			}
			keep = p.Tier[tier]
		}
		age := now.Sub(e.Created)
		if why := protected[e.Path]; why != "" {
			if o.Kept != nil {
				if age <= keep {
					why = fmt.Sprintf("%s old, within %s; also %s", days(age), days(keep), why)
				}
				o.Kept(Pruned{Entry: e, Reason: why})
			}
			continue
		}
		if age <= keep {
			if o.Kept != nil {
				o.Kept(Pruned{Entry: e, Reason: fmt.Sprintf("%s old, within %s", days(age), days(keep))})
			}
			continue
		}
		pr := Pruned{Entry: e, Reason: fmt.Sprintf("%s old, kept %s; %s", days(age), days(keep), e.Status)}
		if !o.DryRun {
			if e.Location == "local" {
				if err := os.Remove(e.Path + ManifestSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return out, fmt.Errorf("prune %s: %w", e.Path, err)
				}
				if err := os.Remove(e.Path); err != nil {
					return out, fmt.Errorf("prune %s: %w", e.Path, err)
				}
			} else {
				if s3 == nil {
					if s3, err = NewS3(ctx, *o.Source.S3); err != nil {
						return out, storeErr(err)
					}
				}
				if err := s3.remove(ctx, e.Name); err != nil {
					return out, err
				}
			}
		}
		out = append(out, pr)
	}
	if !o.DryRun && o.Source.Dir != "" {
		syncDir(o.Source.Dir)
	}
	return out, nil
}

// protect returns, by path, why each backup prune must keep is kept
// whatever its age. entries are newest first.
func protect(entries []Entry) map[string]string {
	why := map[string]string{}
	add := func(path, reason string) {
		if why[path] == "" {
			why[path] = reason
		} else {
			why[path] += "; " + reason
		}
	}
	counted := map[string]bool{} // locations, and tiers in them, with a backup that counts
	first := firstCounted(entries)
	for i, e := range entries {
		if !e.Counts() {
			continue
		}
		switch {
		case i == first && i == 0:
			add(e.Path, "the newest backup, verified")
		case i == first:
			add(e.Path, fmt.Sprintf("the newest verified backup: the %d newer %s not count", i, plural(i, "one does", "ones do")))
		}
		key := fmt.Sprintf("%s/%d", e.Location, e.Tier)
		if !counted[key] {
			counted[key] = true
			add(e.Path, fmt.Sprintf("the newest verified tier %d backup in %s", e.Tier, e.Location))
		}
		counted[e.Location] = true
	}
	for _, e := range entries {
		if !counted[e.Location] {
			add(e.Path, fmt.Sprintf("%s: no verified backup in %s, so nothing there is deleted", e.Status, e.Location))
		}
	}
	return why
}

// firstCounted is the index of the newest backup that counts, or -1.
func firstCounted(entries []Entry) int {
	for i, e := range entries {
		if e.Counts() {
			return i
		}
	}
	return -1
}

func days(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}
