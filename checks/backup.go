package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"
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
	ev := &Evidence{Count: int64(len(backups)), Columns: []string{"name", "location", "tier", "taken", "age", "status"}}
	var newest *BackupInfo
	var bad []*BackupInfo // damaged or failed backups newer than the newest that counts
	seen := map[string]bool{}
	for i := range backups {
		b := &backups[i]
		if b.Counts && newest == nil {
			newest = b
		}
		if newest == nil && (b.Status == "damaged-source" || b.Status == "restore-test-failed") {
			bad = append(bad, b)
		}
		// The newest backup of each location, and the newest that counts,
		// are the evidence.
		if !seen[b.Location] || b == newest {
			seen[b.Location] = true
			ev.Rows = append(ev.Rows, []string{b.Name, b.Location, fmt.Sprint(b.Tier), b.Time.UTC().Format(time.RFC3339), FormatAge(r.now.Sub(b.Time)), backupStatus(b)})
		}
	}
	if newest == nil {
		b := &backups[0]
		out(t(Finding{Item: "newest", Status: Fail, Evidence: ev,
			Message: fmt.Sprintf("%d %s but none verified: the newest, %s, is %s%s (take a good backup: drbook backup; test one: drbook verify)",
				len(backups), plural(len(backups), "backup", "backups"), b.Name, backupStatus(b), why(b))}))
		return
	}
	age := r.now.Sub(newest.Time)
	f := Finding{Item: "newest", Status: Pass, Evidence: ev,
		Message: fmt.Sprintf("newest verified backup %s (%s) is %s old, within the RPO of %s", newest.Name, newest.Location, FormatAge(age), FormatAge(r.opts.RPO))}
	if age > r.opts.RPO {
		f.Status = Fail
		f.Message = fmt.Sprintf("newest verified backup %s (%s) is %s old: older than the RPO of %s", newest.Name, newest.Location, FormatAge(age), FormatAge(r.opts.RPO))
	}
	if len(bad) > 0 {
		// A newer backup that does not count because of its data is news:
		// the live database may be damaged now.
		f.Status = Worse(f.Status, Warn)
		f.Message += fmt.Sprintf("; %d newer %s not count: %s is %s%s", len(bad), plural(len(bad), "backup does", "backups do"), bad[0].Name, bad[0].Status, why(bad[0]))
	}
	out(t(f))

	// Each tier and location that has backups should keep to its schedule.
	t = timed()
	var late [][]string
	newestOf := map[string]BackupInfo{}
	for _, b := range backups {
		if !b.Counts {
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

// backupStatus is a backup's status word; "unverified" when the catalogue
// gave none.
func backupStatus(b *BackupInfo) string {
	if b.Status == "" {
		if b.Counts {
			return "verified"
		}
		return "unverified"
	}
	return b.Status
}

// why is ": <problem>" or "".
func why(b *BackupInfo) string {
	if b.Problem == "" {
		return ""
	}
	p := b.Problem
	if i := strings.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	return ": " + p
}

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
