package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dbfile"
	"github.com/drbook/drbook/steps/salvage"
	"github.com/drbook/drbook/steps/system"
)

// Parts a restore can bring back.
const (
	PartDB     = "db"
	PartConfig = "config"
	PartEnv    = "env"
	PartLogs   = "logs"
)

// DefaultParts are restored when none are named: logs are left alone
// unless asked for, because they hold the story of the incident.
var DefaultParts = []string{PartDB, PartConfig, PartEnv}

// RestoreOptions configures a restore.
type RestoreOptions struct {
	Root       string
	From       string   // "latest" (or ""), a local archive, a SQLite file, or s3://bucket/key
	Only       []string // parts; empty means DefaultParts
	Dir        string   // local backup directory searched for "latest"
	S3         *S3Config
	Passphrase []byte
	DryRun     bool // stage and check everything, change nothing
	// Confirmed must be true to change anything (DryRun needs no
	// confirmation), unless Confirm is set: then Confirm is asked after
	// everything is staged and checked, with what would change, and the
	// swap happens only if it returns true.
	Confirmed bool
	Confirm   func(*RestoreResult) bool
	Now       func() time.Time
	Emit      steps.Emit
	// Operator and IncidentID are recorded when the kill switch is
	// re-applied to a restored database.
	Operator   string
	IncidentID string
	// MaxExpand caps what an archive without a manifest may unpack to
	// (default: DefaultExpandFactor times its size, at least MinExpand);
	// when set explicitly it caps every archive. Staging is also capped
	// by the free space of its filesystem less a margin for the live
	// system, whatever this says.
	MaxExpand Expansion
	// Checker runs the staged database's integrity_check in another
	// process; the zero Checker runs it in this one.
	Checker Checker
	// KillSwitch re-applies an engaged kill switch to the restored
	// database. Without one, a restore onto a halted system says it could
	// not and that the flag file still halts trading.
	KillSwitch KillSwitch

	allParts bool // verify: every part the backup holds
}

// Change is one thing a restore changes (or would change).
type Change struct {
	Part   string `json:"part"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// RestoreResult reports a restore.
type RestoreResult struct {
	Source     string    `json:"source"`
	Kind       string    `json:"kind"` // drbook, plan-script, sqlite-file
	BackupTime time.Time `json:"backup_time"`
	// Status is "verified" when the archive and every file matched the
	// backup's manifest, "unverified" when there was no manifest to
	// compare with (a plan-script archive, a drbook archive whose
	// manifest is gone, a plain SQLite file): then only the checks named
	// in Verified stand behind it.
	Status   string `json:"status"`
	Verified string `json:"verified"` // what was checked
	// PostCheck is the quick_check after the swap: "ok", "failed",
	// "could not run" or "could not run: disk full".
	PostCheck string   `json:"post_check,omitempty"`
	Parts     []string `json:"parts"`
	Changes   []Change `json:"changes"`
	Aside     []string `json:"aside,omitempty"` // where the originals were kept
	Warnings  []string `json:"warnings,omitempty"`
	DryRun    bool     `json:"dry_run"`
	// Timings are the seconds each phase took: stage (fetch, decrypt,
	// unpack, hash), integrity_check, data_checks (concurrent with
	// integrity_check), swap, quick_check.
	Timings map[string]float64 `json:"timings"`
}

// killSwitchFlag is the kill switch's flag file.
const killSwitchFlag = system.KillSwitchFile

// KillSwitch engages the kill switch on a restored system. Package
// killswitch implements it; the composition root hands it to the restore
// action, so neither action imports the other.
type KillSwitch interface {
	// Reapply engages the kill switch on env's root, keeping an existing
	// flag's who, when and why, and returns a one-line account.
	Reapply(ctx context.Context, env steps.Env, reason string) (string, error)
}

// crashHook is called at each step of the swap; tests use it to kill the
// process at every point and check nothing is ever half restored.
var crashHook = func(point string) {}

// Restore brings a backup back into o.Root. It verifies and stages the
// whole backup on the root's filesystem and checks it before touching
// anything; then it swaps each part in with renames, keeping the current
// files as <name>.pre-restore-<stamp>.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	bo := Options{Now: o.Now, Emit: o.Emit}
	root, parts, err := prepareRestore(o)
	if err != nil {
		return nil, err
	}
	unlock, err := lockRoot(root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &RestoreResult{DryRun: o.DryRun, Timings: map[string]float64{}}
	clearStaleStaging(&bo, root, res)
	stamp := asideStamp(root, bo.now().UTC().Format(stampLayout))
	staging, err := newStaging(root)
	if err != nil {
		return nil, diskErr("restore: staging directory", err)
	}
	defer os.RemoveAll(staging)

	t0 := time.Now()
	stagedRoot, err := stage(ctx, &bo, o, root, staging, res)
	res.Timings["stage"] = since(t0)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	have := stagedParts(stagedRoot)
	if err := selectParts(o, parts, have, res); err != nil {
		return nil, err
	}
	if err := checkStaged(ctx, &bo, o, root, stagedRoot, have, res); err != nil {
		return nil, err
	}
	halted := contains(res.Parts, PartDB) && exists(filepath.Join(root, killSwitchFlag))
	if halted && o.DryRun {
		res.Changes = append(res.Changes, Change{Part: PartDB, Path: killSwitchFlag,
			Detail: "trading is halted: the kill switch would be re-applied to the restored database"})
	}
	if o.DryRun {
		bo.infof("dry run: nothing changed")
		return res, nil
	}
	if !o.Confirmed && !o.Confirm(res) {
		return nil, &Error{Err: fmt.Errorf("restore: %w; nothing changed", ErrNotConfirmed)}
	}
	if err := chownParts(root, have, res); err != nil {
		return nil, err
	}
	if err := swapParts(ctx, &bo, root, have, stamp, res); err != nil {
		return res, err
	}
	// A check that could not run (a full disk) does not stop the kill
	// switch from being re-applied below; it is reported at the end.
	postErr, err := checkRestored(ctx, &bo, root, res)
	if err != nil {
		return res, err
	}
	if halted {
		if err := reapplyKillSwitch(ctx, &bo, o, root, res); err != nil {
			return res, errors.Join(postErr, err)
		}
	}
	return res, postErr
}

// since is the seconds since t, for RestoreResult.Timings.
func since(t time.Time) float64 { return time.Since(t).Seconds() }

// prepareRestore checks what can be checked before anything is read: the
// root is a directory, the parts asked for exist, and the restore is
// confirmed (or a dry run, or will ask). It returns the absolute root and
// the parts to restore.
func prepareRestore(o RestoreOptions) (string, []string, error) {
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return "", nil, err
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", nil, &Error{Err: fmt.Errorf("restore: root %s is not a directory", root), Advice: "give --root the QuantAI system directory"}
	}
	parts := o.Only
	if len(parts) == 0 {
		parts = DefaultParts
	}
	if o.allParts {
		parts = []string{PartDB, PartConfig, PartEnv, PartLogs}
	}
	for _, p := range parts {
		switch p {
		case PartDB, PartConfig, PartEnv, PartLogs:
		default:
			return "", nil, fmt.Errorf("restore: unknown part %q (want db, config, env, logs)", p)
		}
	}
	if !o.DryRun && !o.Confirmed && o.Confirm == nil {
		return "", nil, &Error{Err: fmt.Errorf("restore: %w", ErrNotConfirmed), Advice: "confirm it (--yes), or try --dry-run first"}
	}
	return root, parts, nil
}

// clearStaleStaging removes the staging a killed restore left in root and
// warns about directories named like it that drbook did not make.
func clearStaleStaging(bo *Options, root string, res *RestoreResult) {
	removed, foreign := cleanStaleStaging(root)
	for _, d := range removed {
		bo.infof("removed %s, staging left by a restore that was interrupted", filepath.Base(d))
	}
	for _, d := range foreign {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s is named like drbook's staging but has no %s marker; left alone (remove it yourself if it is not needed)", d, stagingMarker))
	}
}

// livePaths are where each part lives under a root.
var livePaths = map[string]string{PartDB: system.DBFile, PartConfig: system.ConfigDir, PartEnv: system.EnvFile, PartLogs: system.LogsDir}

// stagedParts maps each part to where it is in the staged root.
func stagedParts(stagedRoot string) map[string]string {
	have := map[string]string{}
	for p, rel := range livePaths {
		have[p] = system.Path(stagedRoot, rel)
	}
	return have
}

// selectParts keeps only the parts asked for that the backup holds: one
// named with Only and missing is an error, one of the defaults a warning.
func selectParts(o RestoreOptions, parts []string, have map[string]string, res *RestoreResult) error {
	for _, p := range parts {
		if exists(have[p]) {
			res.Parts = append(res.Parts, p)
		} else if len(o.Only) > 0 {
			return fmt.Errorf("restore: the backup holds no %s", p)
		} else {
			res.Warnings = append(res.Warnings, "the backup holds no "+p+"; left as it is")
		}
	}
	if len(res.Parts) == 0 {
		return errors.New("restore: nothing to restore")
	}
	return nil
}

// checkStaged checks the staged backup in full before anything changes.
// The staged files are fsynced, the integrity check runs, the data and
// configuration checks run and the changes are described, all at once:
// they are independent. A failed check is an error; nothing was changed.
func checkStaged(ctx context.Context, bo *Options, o RestoreOptions, root, stagedRoot string, have map[string]string, res *RestoreResult) error {
	bo.infof("check the staged backup: integrity_check, data and configuration checks")
	release := func() {}
	if contains(res.Parts, PartDB) && len(o.Checker.Command) > 0 {
		release = leaveCoreForChecker()
	}
	var wg sync.WaitGroup
	var syncErr, checkErr, valErr error
	var dataTime float64
	var fails, warns []string
	wg.Add(3)
	go func() {
		defer wg.Done()
		syncErr = syncTree(stagedRoot)
	}()
	go func() {
		defer wg.Done()
		for _, p := range res.Parts {
			res.Changes = append(res.Changes, describe(ctx, p, root, have[p])...)
		}
	}()
	go func() {
		defer wg.Done()
		t := time.Now()
		fails, warns, valErr = validateStaged(ctx, stagedRoot, res.Parts)
		dataTime = since(t)
	}()
	if contains(res.Parts, PartDB) {
		t := time.Now()
		checkErr = checkStagedDB(ctx, o.Checker, have[PartDB])
		res.Timings["integrity_check"] = since(t)
	}
	wg.Wait()
	release()
	res.Timings["data_checks"] = dataTime
	if checkErr != nil {
		return fmt.Errorf("restore: staged database: %w", checkErr)
	}
	if syncErr != nil {
		return diskErr("restore: fsync staged files", syncErr)
	}
	if valErr != nil {
		return fmt.Errorf("restore: check staged data: %w", valErr)
	}
	res.Warnings = append(res.Warnings, warns...)
	if len(fails) > 0 {
		return &Error{Err: fmt.Errorf("restore: %w: %s", ErrCheckFailed, strings.Join(fails, "; ")),
			Advice: "the backup fails its checks; nothing was changed. Pick another backup with --from, or restore only the parts that pass with --only"}
	}
	return nil
}

// chownParts gives restored files to whoever owns what they replace (a
// restore run as root must not leave the trading system unable to open
// them).
func chownParts(root string, have map[string]string, res *RestoreResult) error {
	for _, p := range res.Parts {
		if err := chownLike(have[p], system.Path(root, livePaths[p])); err != nil {
			return fmt.Errorf("restore %s: %w", p, err)
		}
	}
	return nil
}

// swapParts swaps each staged part in, database first, keeping the
// current files aside (res.Aside).
func swapParts(ctx context.Context, bo *Options, root string, have map[string]string, stamp string, res *RestoreResult) error {
	tSwap := time.Now()
	for _, p := range res.Parts {
		var aside []string
		var err error
		switch p {
		case PartDB:
			aside, err = swapDB(ctx, system.DB(root), have[p], stamp)
		case PartEnv:
			aside, err = swapFile(system.Env(root), have[p], stamp)
		default:
			aside, err = swapDir(filepath.Join(root, p), have[p], stamp)
		}
		res.Aside = append(res.Aside, aside...)
		if err != nil {
			return fmt.Errorf("restore %s: %w", p, err)
		}
		bo.infof("restored %s", p)
	}
	res.Timings["swap"] = since(tSwap)
	return nil
}

// checkRestored runs quick_check on the restored database. A check that
// failed is err; one that could not run is postErr, reported once the
// restore has finished.
func checkRestored(ctx context.Context, bo *Options, root string, res *RestoreResult) (postErr, err error) {
	if !contains(res.Parts, PartDB) {
		return nil, nil
	}
	t := time.Now()
	bo.infof("quick_check on the restored database")
	err = postSwapCheck(ctx, system.DB(root))
	res.Timings["quick_check"] = since(t)
	switch {
	case err == nil:
		res.PostCheck = "ok"
	case errors.Is(err, ErrPostCheckNotRun):
		res.PostCheck = "could not run"
		if errors.Is(err, ErrDiskFull) {
			res.PostCheck = "could not run: disk full"
		}
		return postCheckErr(err, root, res), nil
	default:
		res.PostCheck = "failed"
		orig := "no original database was kept"
		if len(res.Aside) > 0 {
			orig = "the original is at " + res.Aside[0]
		}
		return nil, fmt.Errorf("restore: restored database: %w (%s)", err, orig)
	}
	return nil, nil
}

// reapplyKillSwitch halts the restored database again. The backup
// predates the halt: its control table says trading is on. While
// data/KILL_SWITCH exists, the restored database must say halted too, or
// a trading process reading it would resume mid-recovery.
func reapplyKillSwitch(ctx context.Context, bo *Options, o RestoreOptions, root string, res *RestoreResult) error {
	bo.infof("kill switch engaged: re-apply it to the restored database")
	if o.KillSwitch == nil {
		return fmt.Errorf("restore: done, but %s exists and this build cannot re-apply the kill switch to the restored database: run 'drbook killswitch on' (the flag file still halts trading)", killSwitchFlag)
	}
	line, err := o.KillSwitch.Reapply(ctx, steps.Env{Root: root, Operator: o.Operator, IncidentID: o.IncidentID, Now: o.Now}, "re-applied after restore")
	if err != nil {
		return fmt.Errorf("restore: done, but the kill switch could not be re-applied to the restored database: %w (%s still halts trading; run 'drbook killswitch on')", err, killSwitchFlag)
	}
	res.Changes = append(res.Changes, Change{Part: PartDB, Path: killSwitchFlag, Detail: "kill switch re-applied to the restored database: " + line})
	return nil
}

// postCheckErr says that a restore completed but its check after the
// swap could not run: the restored data passed a full integrity_check
// before the swap, and nothing here says it is damaged.
func postCheckErr(err error, root string, res *RestoreResult) error {
	orig := "no original database was kept"
	if len(res.Aside) > 0 {
		orig = "the original database is kept at " + res.Aside[0]
	}
	if errors.Is(err, ErrDiskFull) {
		return &Error{Err: fmt.Errorf("restore: done: %s restored (the staged database passed integrity_check before the swap), but the disk is full: %w; %s", strings.Join(res.Parts, ", "), err, orig),
			Advice: fmt.Sprintf("free space on the filesystem of %s (the trading system cannot write either), then run 'drbook check --root %s'", root, root)}
	}
	return &Error{Err: fmt.Errorf("restore: done: %s restored (the staged database passed integrity_check before the swap), but %w; %s", strings.Join(res.Parts, ", "), err, orig),
		Advice: fmt.Sprintf("run 'drbook check --root %s' to check the restored database", root)}
}

// asideStamp picks a stamp no kept-aside original uses yet, so a second
// restore in the same second never collides with the first one's.
func asideStamp(root, stamp string) string {
	for i := 1; ; i++ {
		s := stamp
		if i > 1 {
			s = fmt.Sprintf("%s-%d", stamp, i)
		}
		taken := false
		for _, p := range []string{system.DBFile, system.ConfigDir, system.EnvFile, system.LogsDir} {
			if m, _ := filepath.Glob(filepath.Join(root, p+".pre-restore-"+s+"*")); len(m) > 0 {
				taken = true
			}
		}
		if !taken {
			return s
		}
	}
}

// chownLike gives the tree at path the owner of ref (or of ref's nearest
// existing parent). Only root can, and only root needs to.
func chownLike(path, ref string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var st syscall.Stat_t
	for r := ref; ; r = filepath.Dir(r) {
		if err := syscall.Stat(r, &st); err == nil {
			break
		}
		if r == filepath.Dir(r) {
			return nil
		}
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(st.Uid), int(st.Gid))
	})
}

// syncTree fsyncs every regular file and directory under dir.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a -wal or -shm of the database being checked came and went
		}
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, "-wal") || strings.HasSuffix(p, "-shm") {
			return nil
		}
		if d.IsDir() {
			err = syncDir(p)
		} else if d.Type().IsRegular() {
			err = syncFile(p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// lockRoot takes an exclusive lock on the root for one restore at a time.
// Holding it, a restore may remove the staging that restores which died
// left behind (cleanStaleStaging): no other restore is using any.
func lockRoot(root string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(root, ".drbook-restore.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, diskErr("restore: lock", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, &Error{Err: fmt.Errorf("restore: another restore is running in %s", root), Advice: "wait for it to finish"}
	}
	return func() {
		os.Remove(f.Name())
		f.Close()
	}, nil
}

// stage fetches, verifies and unpacks the backup into staging and returns
// a directory laid out like a system root (data/quantai.db, config/, .env, logs/).
func stage(ctx context.Context, bo *Options, o RestoreOptions, root, staging string, res *RestoreResult) (string, error) {
	from := o.From
	var m *Manifest
	var archive string
	var bud *budget
	switch {
	case from == "" || from == "latest":
		entries, err := List(ctx, Source{Dir: o.Dir, S3: o.S3})
		if err != nil && len(entries) == 0 {
			return "", err
		}
		e, err := Latest(entries)
		if err != nil {
			return "", &Error{Err: err, Advice: "name one with --from PATH (archives of the plan's script have no manifest and are never picked as latest)"}
		}
		bo.infof("latest verified backup: %s (%s)", e.Path, e.Created.Format(time.RFC3339))
		from, m = e.Path, e.Manifest
	}
	res.Source = from
	if strings.HasPrefix(from, "s3://") {
		storeURL, name, err := splitS3Object(from)
		if err != nil {
			return "", err
		}
		c := S3Config{}
		if o.S3 != nil {
			c = *o.S3
		}
		c.URL = storeURL
		s, err := NewS3(ctx, c)
		if err != nil {
			return "", err
		}
		if m == nil {
			if m, err = s.manifest(ctx, name); err != nil {
				return "", err
			}
		}
		bud = newBudget(from, staging)
		if err := bud.need(m.diskSize()+m.ArchiveSize, "the download and its "+FormatSize(m.TotalSize())+" of files"); err != nil {
			return "", err
		}
		bud.disk += m.ArchiveSize
		archive = filepath.Join(staging, name)
		f, err := os.OpenFile(archive, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", diskErr("download", err)
		}
		bo.infof("download %s", from)
		_, err = s.download(ctx, name, f, func(n int64) {
			bo.emit(steps.Event{Progress: &steps.Progress{Phase: "download", Done: n, Total: m.ArchiveSize, Unit: "bytes"}})
		})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", diskErr("download", err)
		}
	} else {
		archive = from
		fi, err := os.Stat(archive)
		if err != nil {
			return "", &Error{Err: fmt.Errorf("backup %s: %w", archive, err), Advice: "run 'drbook backups' to list them"}
		}
		if IsSQLite(archive) {
			return stageSQLite(ctx, bo, archive, staging, fi, res)
		}
		bud = newBudget(archive, staging)
		if m == nil {
			if mm, err := ReadManifest(archive + ManifestSuffix); err == nil {
				m = mm
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		if m != nil && fi.Size() != m.ArchiveSize {
			return "", corruptf("%s is %d bytes, its manifest says %d", archive, fi.Size(), m.ArchiveSize)
		}
		if m != nil {
			if err := bud.need(m.diskSize(), "its manifest's "+FormatSize(m.TotalSize())+" of files"); err != nil {
				return "", err
			}
		}
	}
	// Without a manifest nothing says how much the archive holds: every
	// file is charged against the caps before it is written.
	if m == nil || !o.MaxExpand.IsZero() {
		size := archiveSize(archive, m)
		bud.maxExpand, bud.expandWhy = o.MaxExpand.Limit(size), "--max-expand "+o.MaxExpand.String()
		if o.MaxExpand.IsZero() {
			bud.expandWhy = fmt.Sprintf("the default cap: %d times the archive's %s, at least %s; see --max-expand", DefaultExpandFactor, FormatSize(size), FormatSize(MinExpand))
		}
	}
	if c := bud.diskCap(); m == nil && c >= 0 {
		bo.infof("no manifest: unpack at most %s (%s); staging may use %s of the disk", FormatSize(bud.maxExpand), bud.expandWhy, FormatSize(c))
	}
	if len(o.Passphrase) == 0 {
		return "", &Error{Err: ErrNoPassphrase, Advice: "give --passphrase-file FILE or set DRBOOK_PASSPHRASE"}
	}

	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, _ := f.Stat()
	x := filepath.Join(staging, "x")
	if err := os.Mkdir(x, 0o700); err != nil {
		return "", err
	}
	bo.infof("decrypt and unpack %s", filepath.Base(archive))
	buf := make([]byte, 256<<10)
	staged := &stagedProgress{bo: bo}
	if m != nil {
		staged.total = m.TotalSize()
	}
	_, err = readAndCheck(ctx, bufio.NewReaderSize(f, 1<<20), o.Passphrase, m, func(n int64) {
		bo.emit(steps.Event{Progress: &steps.Progress{Phase: "decrypt+unpack", Done: n, Total: fi.Size(), Unit: "bytes"}})
	}, func(name string, hdr *tar.Header, body io.Reader) error {
		dst := filepath.Join(x, filepath.FromSlash(name))
		if body == nil {
			if err := bud.charge(name, 0); err != nil {
				return err
			}
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return diskErr("unpack "+name, err)
			}
			return os.Chmod(dst, (os.FileMode(hdr.Mode).Perm()|0o700)&^0o022)
		}
		if err := bud.charge(name, hdr.Size); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return diskErr("unpack "+name, err)
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return diskErr("unpack "+name, err)
		}
		if _, err := io.CopyBuffer(bud.writer(name, hdr.Size, progressWriter{out, staged.add}), body, buf); err != nil {
			out.Close()
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrDiskFull) {
				return err
			}
			return diskErr("unpack "+name, err)
		}
		if err := out.Close(); err != nil {
			return diskErr("unpack "+name, err)
		}
		crashHook("unpacked")
		if mode := os.FileMode(hdr.Mode).Perm() & 0o700; mode != 0 {
			os.Chmod(dst, mode|os.FileMode(hdr.Mode).Perm()&0o077&^0o022)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrWrongPassphrase) && m == nil {
			return "", &Error{Err: fmt.Errorf("%w (or the archive's header is damaged)", ErrWrongPassphrase),
				Advice: "check the passphrase; nothing was changed"}
		}
		if errors.Is(err, ErrWrongPassphrase) {
			return "", &Error{Err: err, Advice: "the archive matches its manifest, so the passphrase is wrong; nothing was changed"}
		}
		return "", err
	}
	if m != nil {
		res.Kind, res.BackupTime, res.Status = "drbook", m.Created, "verified"
		res.Verified = "verified: archive SHA-256 and every file's SHA-256 match the manifest; integrity_check and the data and config checks passed"
		base := filepath.Join(x, filepath.FromSlash(m.Prefix))
		if !exists(system.DB(base)) {
			return "", corruptf("the archive has no %s/data/quantai.db", m.Prefix)
		}
		return base, nil
	}
	return normalizePlan(x, archive, staging, res)
}

// archiveSize is the size of the archive to unpack: the manifest's, else
// the file's.
func archiveSize(path string, m *Manifest) int64 {
	if m != nil {
		return m.ArchiveSize
	}
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}

// progressWriter reports each write's size.
type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}

var planDB = regexp.MustCompile(`^quantai_(\d{8}_\d{6})\.db$`)

// normalizePlan finds the layout of an archive without a manifest: a drbook
// layout (data/quantai.db) or the plan script's (quantai_<stamp>.db,
// config/, env_<stamp>, logs/), and arranges it as a system root.
func normalizePlan(x, archive, staging string, res *RestoreResult) (string, error) {
	var dbFile, drbookBase string
	filepath.WalkDir(x, func(p string, d fs.DirEntry, err error) error {
		if err != nil || dbFile != "" || drbookBase != "" {
			return err
		}
		if d.Type().IsRegular() && planDB.MatchString(d.Name()) {
			dbFile = p
		}
		if d.Type().IsRegular() && d.Name() == "quantai.db" && filepath.Base(filepath.Dir(p)) == "data" {
			drbookBase = filepath.Dir(filepath.Dir(p))
		}
		return nil
	})
	res.Status = "unverified"
	checked := "checked instead: the OpenPGP MDC (the archive is whole and unaltered since it was encrypted), the gzip CRC, the tar guard, a full integrity_check and the data and config checks"
	if drbookBase != "" {
		res.Kind = "drbook"
		res.BackupTime = archiveTime(archive)
		res.Verified = "unverified: no manifest (" + filepath.Base(archive) + ManifestSuffix + " is missing), so no file could be compared with the hashes taken at backup time; " + checked
		return drbookBase, nil
	}
	res.Verified = "unverified: no manifest (the plan's script writes none), so no file could be compared with hashes taken at backup time; " + checked
	if dbFile == "" {
		return "", corruptf("the archive holds no database (neither data/quantai.db nor quantai_<stamp>.db)")
	}
	res.Kind = "plan-script"
	src := filepath.Dir(dbFile)
	out := filepath.Join(staging, "root")
	if err := os.MkdirAll(filepath.Join(out, "data"), 0o700); err != nil {
		return "", err
	}
	stampStr := planDB.FindStringSubmatch(filepath.Base(dbFile))[1]
	if t, err := time.ParseInLocation("20060102_150405", stampStr, time.Local); err == nil {
		res.BackupTime = t.UTC()
	} else {
		res.BackupTime = archiveTime(archive)
	}
	if err := os.Rename(dbFile, system.DB(out)); err != nil {
		return "", err
	}
	for _, d := range []string{"config", "logs"} {
		if fi, err := os.Stat(filepath.Join(src, d)); err == nil && fi.IsDir() {
			if err := os.Rename(filepath.Join(src, d), filepath.Join(out, d)); err != nil {
				return "", err
			}
		}
	}
	envs, _ := filepath.Glob(filepath.Join(src, "env_*"))
	sort.Strings(envs)
	if len(envs) > 0 {
		if err := os.Rename(envs[len(envs)-1], system.Env(out)); err != nil {
			return "", err
		}
	}
	return out, nil
}

func archiveTime(path string) time.Time {
	e := Entry{Name: filepath.Base(path)}
	nameInfo(&e)
	if !e.Created.IsZero() {
		return e.Created
	}
	if fi, err := os.Stat(path); err == nil {
		return fi.ModTime().UTC()
	}
	return time.Time{}
}

// stageSQLite stages a plain SQLite file (the plan's `.restore FILE`).
func stageSQLite(ctx context.Context, bo *Options, path, staging string, fi fs.FileInfo, res *RestoreResult) (string, error) {
	out := filepath.Join(staging, "root")
	if err := os.MkdirAll(filepath.Join(out, "data"), 0o700); err != nil {
		return "", err
	}
	if err := newBudget(path, staging).need(fi.Size(), "a copy of the database"); err != nil {
		return "", err
	}
	bo.infof("copy %s with the online backup API", path)
	if err := snapshot(ctx, path, system.DB(out), nil); err != nil {
		return "", err
	}
	res.Kind, res.BackupTime, res.Status = "sqlite-file", fi.ModTime().UTC(), "unverified"
	res.Verified = "unverified: a plain SQLite file has no manifest; checked instead: a full integrity_check and the data checks"
	return out, nil
}

// IsSQLite reports whether path is a readable file that starts with the
// SQLite header: a plain database given where an archive was expected.
func IsSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false
	}
	return string(hdr[:]) == "SQLite format 3\x00"
}

// swapDB puts the staged database in place of live. The live file is
// hard-linked aside first (so it is never missing and never lost); the
// live WAL is checkpointed, then moved aside with the shared-memory file
// so no stale WAL is ever applied to the new file; the new file is
// fsynced and renamed over the live name, and the directory fsynced.
func swapDB(ctx context.Context, live, staged, stamp string) ([]string, error) {
	dir := filepath.Dir(live)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	aside := live + ".pre-restore-" + stamp
	var kept []string
	if exists(live) {
		checkpoint(ctx, live)
		crashHook("checkpointed")
		if err := linkOrCopy(live, aside); err != nil {
			return nil, fmt.Errorf("keep %s aside: %w", live, err)
		}
		kept = append(kept, aside)
		crashHook("linked-aside")
	}
	for _, sfx := range []string{"-wal", "-journal", "-shm"} {
		if exists(live + sfx) {
			if err := os.Rename(live+sfx, aside+sfx); err != nil {
				return kept, fmt.Errorf("move %s aside: %w", live+sfx, err)
			}
			kept = append(kept, aside+sfx)
			crashHook("moved" + sfx)
		}
	}
	if err := syncDir(dir); err != nil {
		return kept, err
	}
	if err := syncFile(staged); err != nil {
		return kept, err
	}
	crashHook("before-rename")
	if err := os.Rename(staged, live); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return kept, err
		}
		tmp := filepath.Join(dir, "."+filepath.Base(live)+".restore-"+randSuffix())
		if err := salvage.CopyFile(staged, tmp); err != nil {
			os.Remove(tmp)
			return kept, diskErr("copy the restored database into "+dir, err)
		}
		if err := os.Rename(tmp, live); err != nil {
			os.Remove(tmp)
			return kept, err
		}
	}
	crashHook("renamed")
	return kept, syncDir(dir)
}

// checkpoint folds the WAL into the live database, best effort: a corrupt
// database may refuse, and then its WAL is kept aside as it is.
func checkpoint(ctx context.Context, path string) {
	db, err := dbfile.OpenURI(dbfile.ReadWriteURI(path) + "&_pragma=busy_timeout(2000)")
	if err != nil {
		return
	}
	defer db.Close()
	db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// swapFile replaces a single file, keeping the original as a hard link.
func swapFile(live, staged, stamp string) ([]string, error) {
	var kept []string
	aside := live + ".pre-restore-" + stamp
	if exists(live) {
		if err := linkOrCopy(live, aside); err != nil {
			return nil, fmt.Errorf("keep %s aside: %w", live, err)
		}
		kept = append(kept, aside)
	}
	if err := syncFile(staged); err != nil {
		return kept, err
	}
	tmp := filepath.Join(filepath.Dir(live), "."+filepath.Base(live)+".restore-"+randSuffix())
	if err := os.Rename(staged, tmp); err != nil {
		if err := salvage.CopyFile(staged, tmp); err != nil {
			os.Remove(tmp)
			return kept, diskErr("restore "+live, err)
		}
	}
	crashHook("file-staged")
	if err := os.Rename(tmp, live); err != nil {
		os.Remove(tmp)
		return kept, err
	}
	return kept, syncDir(filepath.Dir(live))
}

// swapDir replaces a directory. The staged tree is first moved next to the
// live one, then the two are exchanged in one atomic renameat2 call, and
// the old tree is renamed to <dir>.pre-restore-<stamp>.
func swapDir(live, staged, stamp string) ([]string, error) {
	parent := filepath.Dir(live)
	aside := live + ".pre-restore-" + stamp
	next := filepath.Join(parent, "."+filepath.Base(live)+".restoring-"+stamp)
	if err := os.Rename(staged, next); err != nil {
		return nil, fmt.Errorf("move the staged %s next to the live one: %w", filepath.Base(live), err)
	}
	if !exists(live) {
		if err := os.Rename(next, live); err != nil {
			return nil, err
		}
		return nil, syncDir(parent)
	}
	err := exchange(next, live)
	if err == nil {
		crashHook("dir-exchanged")
		if err := os.Rename(next, aside); err != nil {
			return []string{next}, err
		}
		return []string{aside}, syncDir(parent)
	}
	// No RENAME_EXCHANGE on this filesystem: two renames.
	if err := os.Rename(live, aside); err != nil {
		return nil, err
	}
	crashHook("dir-aside")
	if err := os.Rename(next, live); err != nil {
		return []string{aside}, err
	}
	return []string{aside}, syncDir(parent)
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return salvage.CopyFile(src, dst)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describe says what restoring a part changes, without values for .env.
func describe(ctx context.Context, part, root, staged string) []Change {
	switch part {
	case PartDB:
		live := system.DB(root)
		detail := "new file " + summarizeDB(ctx, staged)
		if exists(live) {
			detail = "replace (" + summarizeDB(ctx, live) + ") with (" + summarizeDB(ctx, staged) + ")"
		}
		return []Change{{Part: part, Path: system.DBFile, Detail: detail}}
	case PartEnv:
		return envChanges(system.Env(root), staged)
	default:
		return dirChanges(part, filepath.Join(root, part), staged)
	}
}

func summarizeDB(ctx context.Context, path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	db, err := dbfile.OpenURI(dbfile.PeekURI(path))
	if err != nil {
		return FormatSize(fi.Size())
	}
	defer db.Close()
	var b strings.Builder
	b.WriteString(FormatSize(fi.Size()))
	for _, t := range []string{"trades", "positions", "audit_trail"} {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			fmt.Fprintf(&b, ", %s unreadable", t)
			continue
		}
		fmt.Fprintf(&b, ", %d %s", n, t)
	}
	return b.String()
}

// envChanges compares two .env files by variable name only.
func envChanges(live, staged string) []Change {
	old, new := envVars(live), envVars(staged)
	var added, removed, changed []string
	for k, v := range new {
		ov, ok := old[k]
		switch {
		case !ok:
			added = append(added, k)
		case ov != v:
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			removed = append(removed, k)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	var out []Change
	add := func(what string, names []string) {
		if len(names) > 0 {
			out = append(out, Change{Part: PartEnv, Path: ".env", Detail: what + ": " + strings.Join(names, ", ")})
		}
	}
	add("variables added", added)
	add("variables removed", removed)
	add("variables changed", changed)
	if len(out) == 0 {
		out = append(out, Change{Part: PartEnv, Path: ".env", Detail: "no variable changes"})
	}
	return out
}

// envVars parses KEY=VALUE lines; values are hashed, never kept.
func envVars(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(v)))
		out[strings.TrimSpace(k)] = hex.EncodeToString(sum[:])
	}
	return out
}

// dirChanges compares two trees by file content.
func dirChanges(part, live, staged string) []Change {
	old, new := treeHashes(live), treeHashes(staged)
	var out []Change
	var names []string
	for k := range new {
		names = append(names, k)
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		o, inOld := old[k]
		n, inNew := new[k]
		p := part + "/" + k
		switch {
		case !inOld:
			out = append(out, Change{Part: part, Path: p, Detail: "added"})
		case !inNew:
			out = append(out, Change{Part: part, Path: p, Detail: "not in the backup (kept aside only)"})
		case o != n:
			out = append(out, Change{Part: part, Path: p, Detail: "changed"})
		}
	}
	if len(out) == 0 {
		out = append(out, Change{Part: part, Path: part + "/", Detail: "no changes"})
	}
	return out
}

func treeHashes(dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		h := sha256.New()
		io.Copy(h, f)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return out
}
