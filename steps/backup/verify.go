package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
)

// VerifyOptions configures a restore test.
type VerifyOptions struct {
	From       string // "latest", a path or s3://...
	Dir        string
	S3         *S3Config
	Passphrase []byte
	Scratch    string // parent of the scratch directory; "" for the system temp dir
	Now        func() time.Time
	Emit       steps.Emit
	// Checker runs the integrity_check in another process (see
	// RestoreOptions.Checker).
	Checker Checker
}

// VerifyResult is the outcome of a restore test.
type VerifyResult struct {
	Restore *RestoreResult `json:"restore"`
	OK      bool           `json:"ok"`
	Summary string         `json:"summary"`
	// Archive is the backup tested (a path or s3:// URL).
	Archive string `json:"archive"`
	// Recorded is true when the result was written into its manifest.
	Recorded bool `json:"recorded"`
}

// Verify is the plan's weekly restore test: it restores a backup into a
// scratch directory (every part, logs included), runs the full integrity
// check and the data checks there, records the result in the backup's
// manifest (local or on S3), and removes the scratch directory. The live
// system is never touched.
//
// A failure of the backup itself (a corrupt or unsafe archive, restored
// data that fails its checks) is recorded and demotes the backup to
// restore-test-failed everywhere; a later test that passes promotes it
// again (the failure is kept in the manifest). A failure that says nothing
// about the backup (wrong passphrase, disk full, interrupted, no backup)
// is not recorded.
func Verify(ctx context.Context, o VerifyOptions) (*VerifyResult, error) {
	bo := &Options{Now: o.Now, Emit: o.Emit}
	for _, d := range cleanStaleScratch(o.Scratch) {
		bo.infof("removed %s, scratch left by a restore test that was interrupted", d)
	}
	scratch, release, err := newScratch(o.Scratch)
	if err != nil {
		return nil, diskErr("verify: scratch directory", err)
	}
	defer release()
	// Name the archive first, so that a failure is recorded against it
	// even when the restore stops before it says what it read.
	from := o.From
	if from == "" || from == "latest" {
		entries, err := List(ctx, Source{Dir: o.Dir, S3: o.S3})
		if err != nil && len(entries) == 0 {
			return nil, fmt.Errorf("verify: %w", err)
		}
		e, lerr := Latest(entries)
		if lerr != nil {
			return nil, &Error{Err: fmt.Errorf("verify: %w", errors.Join(lerr, err)), Advice: "name the backup to test: drbook verify ARCHIVE"}
		}
		from = e.Path
	}
	ro := RestoreOptions{Root: scratch, From: from, Dir: o.Dir, S3: o.S3, Passphrase: o.Passphrase,
		Confirmed: true, Now: o.Now, Emit: o.Emit, Checker: o.Checker,
		Only: []string{PartDB, PartConfig, PartEnv, PartLogs}}
	res, err := restoreAll(ctx, ro)
	vr := &VerifyResult{Restore: res, Archive: from}
	if err != nil {
		vr.Summary = err.Error()
	} else {
		vr.OK = true
		vr.Summary = fmt.Sprintf("restored %s into scratch space; %s", strings.Join(res.Parts, ", "), res.Verified)
	}
	src := from
	if res != nil && res.Source != "" {
		src = res.Source
	}
	vr.Archive = src
	if err == nil || blamesBackup(err) {
		rec, rerr := recordTest(ctx, src, o.S3, vr, o.Now)
		vr.Recorded = rec
		if rerr != nil {
			vr.Summary += "; the result could not be recorded: " + rerr.Error()
			err = errors.Join(err, fmt.Errorf("the result could not be recorded in the manifest: %w", rerr))
		}
	}
	if err != nil {
		return vr, fmt.Errorf("verify: %w", err)
	}
	return vr, nil
}

// blamesBackup reports whether a restore test's failure is the backup's:
// then it is recorded against the backup.
func blamesBackup(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsafeArchive) || errors.Is(err, ErrCheckFailed)
}

// restoreAll restores every part the backup holds (logs when present).
func restoreAll(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	o.Only = nil
	o.allParts = true
	return Restore(ctx, o)
}

// recordTest writes a restore test's result into the manifest of the
// archive tested, local or on S3. An archive without a manifest has
// nothing to record into: it is unverified anyway.
func recordTest(ctx context.Context, archive string, c *S3Config, vr *VerifyResult, now func() time.Time) (bool, error) {
	if archive == "" || archive == "latest" {
		return false, nil
	}
	t := time.Now()
	if now != nil {
		t = now()
	}
	tr := &TestResult{Time: t.UTC(), OK: vr.OK, Summary: vr.Summary}
	if strings.HasPrefix(archive, "s3://") {
		cfg := S3Config{}
		if c != nil {
			cfg = *c
		}
		err := recordS3Test(ctx, cfg, archive, tr)
		return err == nil, err
	}
	mp := archive + ManifestSuffix
	m, err := ReadManifest(mp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(mp)
	if err != nil {
		return false, err
	}
	m.recordTest(tr)
	if err := writeFileAtomic(mp, m.marshal(), fi.Mode().Perm()); err != nil {
		return false, err
	}
	return true, nil
}
