package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
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

// ErrEmptyPolicy refuses a prune with no retention at all.
var ErrEmptyPolicy = errors.New("retention policy keeps nothing")

// PruneOptions configures Prune.
type PruneOptions struct {
	Source Source
	Policy Policy
	DryRun bool
	Now    func() time.Time
}

// Pruned is one backup deleted (or that would be).
type Pruned struct {
	Entry
	Reason string `json:"reason"`
}

// Prune deletes backups past their retention. It never deletes the newest
// verified backup of a location, and refuses a policy with a zero
// duration (that would delete everything).
func Prune(ctx context.Context, o PruneOptions) ([]Pruned, error) {
	p := o.Policy
	if p.Local <= 0 && o.Source.Dir != "" {
		return nil, &Error{Err: fmt.Errorf("prune: %w: local retention is %v", ErrEmptyPolicy, p.Local), Hint: "give a positive --keep-local"}
	}
	for _, t := range []int{1, 2, 3} {
		if p.Tier[t] <= 0 && o.Source.S3 != nil {
			return nil, &Error{Err: fmt.Errorf("prune: %w: tier %d retention is %v", ErrEmptyPolicy, t, p.Tier[t]), Hint: "give positive --keep-tier1/2/3"}
		}
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	entries, err := List(ctx, o.Source)
	if err != nil {
		return nil, err
	}
	newest := map[string]string{} // location -> path of newest verified
	for _, e := range entries {
		if e.Verified && newest[e.Location] == "" {
			newest[e.Location] = e.Path
		}
	}
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
		if age <= keep || newest[e.Location] == e.Path {
			continue
		}
		pr := Pruned{Entry: e, Reason: fmt.Sprintf("%s old, kept %s", days(age), days(keep))}
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
						return out, err
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

func days(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}
