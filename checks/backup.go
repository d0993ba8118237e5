package checks

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// TierSchedule is how often the plan (section 1.1) backs up each data tier:
// tier 1 every 15 minutes, tier 2 hourly, tier 3 daily.
var TierSchedule = map[int]time.Duration{1: 15 * time.Minute, 2: time.Hour, 3: 24 * time.Hour}

// LocationSchedule is how old the newest verified backup in each location
// may get: local snapshots follow the RPO; S3 gets a daily full backup.
var LocationSchedule = map[string]time.Duration{"s3": 24 * time.Hour}

func checkBackups(ctx context.Context, r *run, out func(Finding)) {
	t := timed()
	list := r.opts.Backups
	if list == nil {
		list = registeredBackups(r.opts.Root)
	}
	if list == nil {
		out(t(Finding{Item: "catalogue", Status: Warn,
			Message: "no backup catalogue in this build: cannot tell whether any backup exists (run drbook backups)"}))
		return
	}
	backups, err := list(ctx)
	if err != nil {
		out(t(Finding{Item: "catalogue", Status: Fail, Message: "cannot list backups: " + err.Error()}))
		return
	}
	if len(backups) == 0 {
		out(t(Finding{Item: "newest", Status: Fail, Message: fmt.Sprintf("no backups exist: the RPO of %s cannot be met (take one: drbook backup)", FormatAge(r.opts.RPO))}))
		return
	}
	sort.SliceStable(backups, func(i, j int) bool { return backups[i].Time.After(backups[j].Time) })
	ev := &Evidence{Count: int64(len(backups)), Columns: []string{"name", "location", "tier", "taken", "age", "verified"}}
	var newest *BackupInfo
	seen := map[string]bool{}
	for i := range backups {
		b := &backups[i]
		if b.Verified && newest == nil {
			newest = b
		}
		// The newest backup of each location is the evidence.
		if !seen[b.Location] {
			seen[b.Location] = true
			ev.Rows = append(ev.Rows, []string{b.Name, b.Location, fmt.Sprint(b.Tier), b.Time.UTC().Format(time.RFC3339), FormatAge(r.now.Sub(b.Time)), fmt.Sprint(b.Verified)})
		}
	}
	if newest == nil {
		out(t(Finding{Item: "newest", Status: Fail, Message: fmt.Sprintf("%d %s but none verified: verify one (drbook verify)", len(backups), plural(len(backups), "backup", "backups")), Evidence: ev}))
		return
	}
	age := r.now.Sub(newest.Time)
	f := Finding{Item: "newest", Status: Pass, Evidence: ev,
		Message: fmt.Sprintf("newest verified backup %s (%s) is %s old, within the RPO of %s", newest.Name, newest.Location, FormatAge(age), FormatAge(r.opts.RPO))}
	if age > r.opts.RPO {
		f.Status = Fail
		f.Message = fmt.Sprintf("newest verified backup %s (%s) is %s old: older than the RPO of %s", newest.Name, newest.Location, FormatAge(age), FormatAge(r.opts.RPO))
	}
	out(t(f))

	// Each tier and location that has backups should keep to its schedule.
	t = timed()
	var late [][]string
	newestOf := map[string]BackupInfo{}
	for _, b := range backups {
		if !b.Verified {
			continue
		}
		for _, k := range []string{fmt.Sprintf("tier %d", b.Tier), b.Location} {
			if _, ok := newestOf[k]; !ok {
				newestOf[k] = b
			}
		}
	}
	keys := make([]string, 0, len(newestOf))
	for k := range newestOf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := newestOf[k]
		var every time.Duration
		if k == b.Location {
			every = LocationSchedule[k]
		} else {
			every = TierSchedule[b.Tier]
		}
		if every > 0 && r.now.Sub(b.Time) > every {
			late = append(late, []string{k, b.Name, FormatAge(r.now.Sub(b.Time)), FormatAge(every)})
		}
	}
	if len(late) > 0 {
		out(t(Finding{Item: "schedule", Status: Warn, Message: fmt.Sprintf("%d %s behind %s schedule", len(late), plural(len(late), "tier or location", "tiers or locations"), plural(len(late), "its", "their")),
			Evidence: &Evidence{Count: int64(len(late)), Columns: []string{"scope", "newest", "age", "schedule"}, Rows: late}}))
	} else {
		out(t(Finding{Item: "schedule", Status: Pass, Message: "every tier and location within its schedule"}))
	}
}

// short formats a duration for people: 14m, 3h05m, 2d4h.
// FormatAge writes an age for people: "45s", "12m", "3h05m", "9d4h".
func FormatAge(d time.Duration) string {
	if d < 0 {
		return "in the future " + FormatAge(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
