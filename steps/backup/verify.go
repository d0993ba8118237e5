package backup

import (
	"context"
	"fmt"
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
}

// VerifyResult is the outcome of a restore test.
type VerifyResult struct {
	Restore *RestoreResult `json:"restore"`
	OK      bool           `json:"ok"`
	Summary string         `json:"summary"`
}

// Verify is the plan's weekly restore test: it restores a backup into a
// scratch directory (every part, logs included), runs the full integrity
// check and the data checks there, records the result in the local
// manifest, and removes the scratch directory. The live system is never
// touched.
func Verify(ctx context.Context, o VerifyOptions) (*VerifyResult, error) {
	scratch, err := os.MkdirTemp(o.Scratch, "drbook-verify-")
	if err != nil {
		return nil, diskErr("verify: scratch directory", err)
	}
	defer os.RemoveAll(scratch)
	ro := RestoreOptions{Root: scratch, From: o.From, Dir: o.Dir, S3: o.S3, Passphrase: o.Passphrase,
		Confirmed: true, Now: o.Now, Emit: o.Emit,
		Only: []string{PartDB, PartConfig, PartEnv, PartLogs}}
	res, err := restoreAll(ctx, ro)
	vr := &VerifyResult{Restore: res}
	if err != nil {
		vr.Summary = err.Error()
	} else {
		vr.OK = true
		vr.Summary = fmt.Sprintf("restored %s into scratch space; %s", strings.Join(res.Parts, ", "), res.Verified)
	}
	src := o.From
	if res != nil {
		src = res.Source
	}
	recordTest(src, vr, o.Now)
	if err != nil {
		return vr, fmt.Errorf("verify: %w", err)
	}
	return vr, nil
}

// restoreAll restores every part the backup holds (logs when present).
func restoreAll(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	o.Only = nil
	o.allParts = true
	return Restore(ctx, o)
}

// recordTest writes a restore test's result into a local manifest.
func recordTest(archive string, vr *VerifyResult, now func() time.Time) {
	if archive == "" || strings.HasPrefix(archive, "s3://") {
		return
	}
	mp := archive + ManifestSuffix
	m, err := ReadManifest(mp)
	if err != nil {
		return
	}
	t := time.Now()
	if now != nil {
		t = now()
	}
	m.RestoreTest = &TestResult{Time: t.UTC(), OK: vr.OK, Summary: vr.Summary}
	if fi, err := os.Stat(mp); err == nil {
		writeFileAtomic(mp, m.marshal(), fi.Mode().Perm())
	}
}
