package backup

import (
	"context"
	"fmt"
	"strings"
)

// Status is what the catalogue can vouch for about one backup. Only a
// verified backup counts: toward the RPO, as "latest", in the
// backup-freshness check, and as a backup prune must keep.
type Status string

// The statuses a backup can have.
const (
	// StatusVerified: the archive was read back and every file re-hashed
	// when it was written, its database snapshot passed a full
	// integrity_check and the plan's data validation, and no restore test
	// has failed on it since.
	StatusVerified Status = "verified"
	// StatusDamagedSource: the database was damaged (or empty) when it was
	// backed up. The archive is kept, since it may be the best copy left of
	// a dying database, but it never counts and is never "latest".
	StatusDamagedSource Status = "damaged-source"
	// StatusUnverified: nothing vouches for the backup: no manifest (an
	// interrupted backup, the plan script's archive), a manifest that does
	// not match the archive, or a manifest written by a drbook that did not
	// check the snapshot in full and no restore test that passed since.
	StatusUnverified Status = "unverified"
	// StatusRestoreTestFailed: the last restore test (drbook verify) of
	// this copy failed on the archive or its data.
	StatusRestoreTestFailed Status = "restore-test-failed"
)

// Counts reports whether a backup with this status counts toward the RPO,
// as "latest" and as a backup prune must keep.
func (s Status) Counts() bool { return s == StatusVerified }

// status works out a backup's status from its manifest, and says why when
// the backup does not count. The status is derived from the evidence the
// manifest records, never from a stored word alone.
func (m *Manifest) status() (Status, string) {
	switch {
	case m.Source != nil:
		if p := m.Source.problem(); p != "" {
			return StatusDamagedSource, p
		}
	case m.DB != nil && m.DB.QuickCheck != "" && m.DB.QuickCheck != "ok":
		// Written by an older drbook, which kept a damaged snapshot with
		// only a warning.
		return StatusDamagedSource, "quick_check of the snapshot failed at backup time: " + firstLine(m.DB.QuickCheck)
	}
	if t := m.RestoreTest; t != nil && !t.OK {
		return StatusRestoreTestFailed, "restore test of " + t.Time.Format("2006-01-02 15:04Z") + " failed: " + firstLine(t.Summary)
	}
	if m.Source == nil {
		// An older drbook checked the snapshot with quick_check only and
		// never ran the data validation: a passed restore test (a full
		// integrity_check and the data validation of this very archive)
		// is the evidence it lacks.
		if t := m.RestoreTest; t != nil && t.OK {
			return StatusVerified, ""
		}
		return StatusUnverified, "written by an older drbook that never ran a full integrity_check of the snapshot: test it with 'drbook verify " + m.Archive + "'"
	}
	return StatusVerified, ""
}

// SourceCheck is the check of the database snapshot at backup time: a full
// integrity_check and the plan's data validation (manifest format 2).
type SourceCheck struct {
	Status Status `json:"status"` // verified or damaged-source
	// IntegrityCheck is "ok" or the problems PRAGMA integrity_check found.
	IntegrityCheck string `json:"integrity_check"`
	// Failures are the data validation's failures and other problems with
	// the source (an empty database), one line each.
	Failures []string `json:"failures,omitempty"`
}

// problem names what is wrong with the source, or "".
func (s *SourceCheck) problem() string {
	var p []string
	if s.IntegrityCheck != "ok" {
		ic := s.IntegrityCheck
		if ic == "" {
			ic = "not recorded"
		}
		p = append(p, "integrity_check: "+summarizeIntegrity(ic))
	}
	p = append(p, s.Failures...)
	if len(p) == 0 && s.Status != StatusVerified {
		p = append(p, "marked "+string(s.Status))
	}
	const most = 3
	if len(p) > most {
		p = append(p[:most:most], fmt.Sprintf("and %d more", len(p)-most))
	}
	return strings.Join(p, "; ")
}

// OK reports whether the source passed every check.
func (s *SourceCheck) OK() bool { return s.problem() == "" }

// Status is the status of the backup this manifest describes, as every
// command sees it, and why when it does not count.
func (m *Manifest) Status() (Status, string) { return m.status() }

// noCounted is the error for "no backup counts": it says so and lists what
// exists, newest first.
func noCounted(entries []Entry) error {
	if len(entries) == 0 {
		return fmt.Errorf("%w: no backups exist", ErrNoBackup)
	}
	const most = 8
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s, none verified:", len(entries), plural(len(entries), "backup exists", "backups exist"))
	for i, e := range entries {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(entries)-most)
			break
		}
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (%s, %s) %s", e.Name, e.Location, e.Created.UTC().Format("2006-01-02 15:04Z"), e.Status)
		if e.Problem != "" {
			b.WriteString(": " + firstLine(e.Problem))
		}
	}
	return fmt.Errorf("%w: %s", ErrNoBackup, b.String())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// recordS3Test writes a restore test's result into the manifest of an
// archive on S3, so every later listing sees it.
func recordS3Test(ctx context.Context, c S3Config, url string, t *TestResult) error {
	storeURL, name, err := splitS3Object(url)
	if err != nil {
		return err
	}
	c.URL = storeURL
	s, err := NewS3(ctx, c)
	if err != nil {
		return err
	}
	m, err := s.manifest(ctx, name)
	if err != nil {
		return err
	}
	m.recordTest(t)
	if err := s.putSmall(ctx, s.prefix+name+ManifestSuffix, m.marshal()); err != nil {
		return fmt.Errorf("s3 put %s: %w", s.URL(name+ManifestSuffix), err)
	}
	return nil
}

// recordTest sets the last restore test, keeping the last failure when a
// later test passes (the history an operator wants to see).
func (m *Manifest) recordTest(t *TestResult) {
	if prev := m.RestoreTest; prev != nil && !prev.OK && t.OK {
		m.LastFailedTest = prev
	}
	m.RestoreTest = t
}

// summarizeIntegrity is the first problem integrity_check found, and how
// many more, on one line.
func summarizeIntegrity(res string) string {
	var lines []string
	for _, l := range strings.Split(res, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "*** in database") {
			lines = append(lines, l)
		}
	}
	switch len(lines) {
	case 0:
		return firstLine(res)
	case 1:
		return lines[0]
	}
	return fmt.Sprintf("%s (and %d more)", lines[0], len(lines)-1)
}
