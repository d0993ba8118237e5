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
	"sort"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dbfile"
	"github.com/drbook/drbook/steps/system"
)

// DefaultDir is the plan's backup directory (section 1.3).
const DefaultDir = "/backups/quantai"

// stampLayout is the UTC timestamp in archive names.
const stampLayout = "20060102T150405Z"

// Options configures a backup.
type Options struct {
	Root       string // system root: data/quantai.db, config/, .env, logs/
	Tier       int    // 1, 2 or 3 (plan 1.1); 0 means 1
	Dir        string // local backup directory; "" means DefaultDir
	S3         *S3Config
	Passphrase []byte
	// Include lists extra paths (relative to Root) for tier 3: caches and
	// temporary files. When empty, tier 3 adds cache/ and tmp/ if present.
	Include []string
	Host    string           // recorded in the manifest; "" means os.Hostname
	Tool    string           // recorded in the manifest, e.g. "drbook v1.2"
	Now     func() time.Time // clock; nil means time.Now
	Emit    steps.Emit       // progress and commentary; may be nil
	// GzipLevel overrides the compression level (1 fastest ... 9 smallest).
	GzipLevel int
	// Checker runs the snapshot's integrity_check in another process; the
	// zero Checker runs it in this one.
	Checker Checker
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) emit(ev steps.Event) {
	if o.Emit != nil {
		if ev.Time.IsZero() {
			ev.Time = o.now()
		}
		if ev.Stream == "" {
			ev.Stream = steps.Info
		}
		o.Emit(ev)
	}
}

func (o *Options) infof(format string, args ...any) {
	o.emit(steps.Event{Line: fmt.Sprintf(format, args...)})
}

// Outcome is what a backup produced.
type Outcome struct {
	Manifest     *Manifest
	ArchivePath  string // local archive
	ManifestPath string
	S3URL        string // s3://bucket/key of the uploaded copy, if any
	S3Err        error  // the S3 copy failed; the local backup is still good
}

// part is one file to archive.
type part struct {
	rel  string // slash path relative to the root
	abs  string
	info fs.FileInfo
}

// Backup takes a consistent, encrypted, verified backup of o.Root. The
// archive lands in o.Dir (and on S3 when configured) only after it has
// been read back and every file re-hashed; the manifest is written last.
// The database snapshot gets a full integrity_check and the plan's data
// validation while it is archived. When it fails them (or is empty), the
// archive is still kept, marked damaged-source in its manifest, and Backup
// returns the Outcome with an error wrapping ErrDamagedSource: such a
// backup may be the best copy left of a dying database, but it never
// counts.
func Backup(ctx context.Context, o Options) (*Outcome, error) {
	root, dbPath, s3, err := prepareBackup(ctx, &o)
	if err != nil {
		return nil, err
	}
	created := o.now().UTC()
	base, name := archiveName(o.Dir, created, o.Tier)
	final := filepath.Join(o.Dir, name)

	removeStale(o.Dir, created)
	work, err := os.MkdirTemp(o.Dir, ".drbook-tmp-")
	if err != nil {
		return nil, diskErr("backup scratch directory", err)
	}
	defer os.RemoveAll(work)

	// 1. Snapshot the database with the online backup API, and check the
	// snapshot while it is archived.
	snap, err := snapshotSource(ctx, &o, dbPath, work)
	if err != nil {
		return nil, err
	}
	waitFacts := checkSnapshotAsync(ctx, o.Checker, work, snap)
	defer waitFacts() // never leave the scratch file in use on return

	// 2. Collect the other files by tier.
	parts, total, err := collectParts(&o, root, snap)
	if err != nil {
		return nil, err
	}

	// 3. Write tar → gzip → OpenPGP into a temp file.
	tmp := filepath.Join(o.Dir, "."+name+".tmp-"+randSuffix())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, diskErr("create archive", err)
	}
	defer os.Remove(tmp)
	defer f.Close()
	files, size, sum, err := writeArchive(ctx, &o, f, base, name, created, parts, total)
	if err != nil {
		return nil, err
	}
	// fsync while the archive is read back: the read-back sees the same
	// bytes either way (the page cache), and the two overlap.
	syncErr := make(chan error, 1)
	go func() { syncErr <- f.Sync() }()
	dbi, src, err := waitFacts()
	if err != nil {
		<-syncErr
		return nil, fmt.Errorf("backup: check the snapshot: %w", err)
	}
	if !src.OK() {
		o.infof("the database fails its checks: %s", firstLine(src.problem()))
		o.infof("the archive is kept, marked damaged-source: it never counts")
	}
	m := &Manifest{
		Format: ManifestFormat, Tool: o.Tool, Created: created, Tier: o.Tier,
		Host: o.Host, Root: root, Archive: name, ArchiveSize: size, ArchiveSHA256: sum,
		Encryption: "openpgp-seipd1-aes256", Compression: "gzip", Prefix: base,
		Files: files, DB: dbi, Source: src,
	}
	if m.Host == "" {
		m.Host, _ = os.Hostname()
	}

	// 4. Read it back from disk: decrypt, decompress to EOF, untar, re-hash.
	if err := readBack(ctx, &o, tmp, name, m); err != nil {
		<-syncErr
		return nil, err
	}
	if err := <-syncErr; err != nil {
		return nil, diskErr("backup: fsync archive", err)
	}
	if err := f.Close(); err != nil {
		return nil, diskErr("backup: close archive", err)
	}
	m.ReadBack = o.now().UTC()
	if src.OK() {
		m.Verified = m.ReadBack
	}

	// 5. Put the archive in place without ever overwriting one, then the
	// manifest, last.
	mpath, err := placeArchive(o.Dir, tmp, final, m)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Manifest: m, ArchivePath: final, ManifestPath: mpath}
	damaged := reportOutcome(&o, name, final, m, src)

	// 6. Copy to S3: archive (checksum and size checked), manifest last.
	if s3 != nil {
		if err := copyToS3(ctx, &o, s3, out, damaged); err != nil {
			return out, err
		}
	}
	return out, damaged
}

// prepareBackup fills o's defaults, refuses what cannot be backed up (no
// passphrase, no database) and makes the backup directory. It returns the
// absolute root, the database's path and the S3 store, if any.
func prepareBackup(ctx context.Context, o *Options) (root, dbPath string, s3 *S3Store, err error) {
	if o.Tier == 0 {
		o.Tier = 1
	}
	if o.Tier < 1 || o.Tier > 3 {
		return "", "", nil, fmt.Errorf("backup: tier %d: want 1, 2 or 3", o.Tier)
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if len(o.Passphrase) == 0 {
		return "", "", nil, &Error{Err: fmt.Errorf("backup: %w", ErrNoPassphrase),
			Advice: "give --passphrase-file FILE or set DRBOOK_PASSPHRASE"}
	}
	root, err = filepath.Abs(o.Root)
	if err != nil {
		return "", "", nil, err
	}
	dbPath = system.DB(root)
	if _, err := os.Stat(dbPath); err != nil {
		return "", "", nil, &Error{Err: fmt.Errorf("backup: database %s: %w", dbPath, err),
			Advice: "--root must name the QuantAI system directory (it holds data/quantai.db)"}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "", "", nil, &Error{Err: fmt.Errorf("backup directory %s: %w", o.Dir, err),
				Advice: "choose a writable directory with --to DIR or $DRBOOK_BACKUP_DIR"}
		}
		return "", "", nil, diskErr("backup directory", err)
	}
	if o.S3 != nil {
		if s3, err = NewS3(ctx, *o.S3); err != nil {
			return "", "", nil, err
		}
	}
	return root, dbPath, s3, nil
}

// archiveName names the archive of a backup taken at created: the base
// (its prefix inside the archive) and the file name, numbered when a
// backup of the same second and tier already exists in dir.
func archiveName(dir string, created time.Time, tier int) (base, name string) {
	stamp := created.Format(stampLayout)
	base = fmt.Sprintf("quantai_%s_t%d", stamp, tier)
	for i := 2; exists(filepath.Join(dir, base+".tar.gz.gpg")); i++ {
		base = fmt.Sprintf("quantai_%s_t%d_%d", stamp, tier, i)
	}
	return base, base + ".tar.gz.gpg"
}

// snapshotSource copies the live database into the scratch directory work
// with SQLite's online backup API and returns the copy's path. A file
// SQLite cannot open at all is ErrDamagedSource: there is nothing to
// archive.
func snapshotSource(ctx context.Context, o *Options, dbPath, work string) (string, error) {
	o.infof("snapshot %s", dbPath)
	// The scratch directory is laid out like a system root, so the plan's
	// data validation runs on the snapshot as it does on a staged restore.
	snap := system.DB(work)
	if err := os.Mkdir(filepath.Dir(snap), 0o700); err != nil {
		return "", diskErr("backup scratch directory", err)
	}
	err := snapshot(ctx, dbPath, snap, func(done, total int64) {
		o.emit(steps.Event{Progress: &steps.Progress{Phase: "snapshot", Done: done, Total: total, Unit: "pages"}})
	})
	if errors.Is(err, ErrCheckFailed) {
		// Not a database SQLite can open (a destroyed header): there is
		// no snapshot to archive.
		why := "SQLite cannot read it"
		if ierr := dbfile.InspectDB(dbPath); ierr != nil {
			why = ierr.Error()
		}
		return "", &Error{Err: fmt.Errorf("backup: %w: no snapshot can be taken (%s), so there is nothing to archive", ErrDamagedSource, why),
			Advice: "copy the file aside as it is (cp), then salvage it (drbook recover) or restore a good backup (drbook restore)"}
	}
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return snap, nil
}

// checkSnapshotAsync starts the full integrity_check and the data
// validation of the snapshot, which only read the scratch file, and
// returns a func that waits for their result (and may be called again).
func checkSnapshotAsync(ctx context.Context, c Checker, work, snap string) func() (*DBInfo, *SourceCheck, error) {
	type facts struct {
		dbi *DBInfo
		src *SourceCheck
		err error
	}
	factsc := make(chan facts, 1)
	go func() {
		dbi, src, err := checkSnapshot(ctx, c, work, snap)
		factsc <- facts{dbi, src, err}
	}()
	return func() (*DBInfo, *SourceCheck, error) {
		f := <-factsc
		factsc <- f
		return f.dbi, f.src, f.err
	}
}

// collectParts lists the files to archive: the snapshot as
// data/quantai.db, then the tier's other files. It returns their total
// size.
func collectParts(o *Options, root, snap string) ([]part, int64, error) {
	parts, warnings, err := collect(root, o.Tier, o.Include)
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	for _, w := range warnings {
		o.infof("warning: %s", w)
	}
	sfi, err := os.Stat(snap)
	if err != nil {
		return nil, 0, err
	}
	parts = append([]part{{rel: system.DBFile, abs: snap, info: sfi}}, parts...)
	var total int64
	for _, p := range parts {
		total += p.info.Size()
	}
	return parts, total, nil
}

// writeArchive writes parts to f as tar → gzip → OpenPGP and returns the
// files written, the archive's size and its SHA-256. f is not yet synced.
func writeArchive(ctx context.Context, o *Options, f *os.File, base, name string, created time.Time, parts []part, total int64) ([]FileEntry, int64, string, error) {
	o.infof("write %s (%d files, %s)", name, len(parts), FormatSize(total))
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	level := o.GzipLevel
	if level == 0 {
		level = gzipLevel
	}
	bw := bufio.NewWriterSize(cw, 1<<20)
	aw, err := newArchiveWriter(bw, o.Passphrase, base, created, level)
	if err != nil {
		return nil, 0, "", fmt.Errorf("backup: %w", err)
	}
	var last int64
	aw.progress = func(done int64) {
		if done-last < 4<<20 && done != total {
			return
		}
		last = done
		o.emit(steps.Event{Progress: &steps.Progress{Phase: "compress+encrypt", Done: done, Total: total, Unit: "bytes"}})
	}
	if err := writeParts(ctx, aw, parts); err != nil {
		return nil, 0, "", diskErr("backup: write archive", err)
	}
	if err := aw.close(); err != nil {
		return nil, 0, "", diskErr("backup: write archive", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, "", diskErr("backup: write archive", err)
	}
	return aw.files, cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

// readBack reads the archive at tmp back from disk against its manifest:
// decrypt, decompress to EOF, untar, re-hash every file.
func readBack(ctx context.Context, o *Options, tmp, name string, m *Manifest) error {
	o.infof("verify %s", name)
	if err := verifyFile(ctx, tmp, o.Passphrase, m, func(done int64) {
		o.emit(steps.Event{Progress: &steps.Progress{Phase: "verify", Done: done, Total: m.ArchiveSize, Unit: "bytes"}})
	}); err != nil {
		return fmt.Errorf("backup: read-back verification failed: %w", err)
	}
	return nil
}

// placeArchive links the archive at tmp to final, never overwriting one,
// then writes the manifest beside it, last, and returns its path.
func placeArchive(dir, tmp, final string, m *Manifest) (string, error) {
	if err := os.Link(tmp, final); err != nil {
		return "", fmt.Errorf("backup: place archive: %w", err)
	}
	os.Remove(tmp)
	if err := syncDir(dir); err != nil {
		return "", err
	}
	mpath := final + ManifestSuffix
	if err := writeFileAtomic(mpath, m.marshal(), 0o600); err != nil {
		os.Remove(final)
		return "", diskErr("backup: write manifest", err)
	}
	return mpath, nil
}

// reportOutcome says what was taken: verified, or damaged-source, which
// is returned as an error wrapping ErrDamagedSource.
func reportOutcome(o *Options, name, final string, m *Manifest, src *SourceCheck) error {
	if src.OK() {
		o.infof("backup %s verified: %s, sha256 %s", name, FormatSize(m.ArchiveSize), m.ArchiveSHA256[:16])
		return nil
	}
	o.infof("backup %s is damaged-source: %s, sha256 %s (archive read back intact; the database in it fails its checks)", name, FormatSize(m.ArchiveSize), m.ArchiveSHA256[:16])
	return &Error{Err: fmt.Errorf("backup: %w: %s; the archive %s is kept, marked damaged-source, and does not count",
		ErrDamagedSource, src.problem(), final),
		Advice: "repair the database (drbook recover) or restore a good backup (drbook restore), then back up again"}
}

// copyToS3 uploads the archive (checksum and size checked) and then its
// manifest, recording the URL or the failure in out. damaged, the local
// backup's own problem, is joined to an upload failure.
func copyToS3(ctx context.Context, o *Options, s3 *S3Store, out *Outcome, damaged error) error {
	m := out.Manifest
	url, err := s3.Put(ctx, out.ArchivePath, m, func(done int64) {
		o.emit(steps.Event{Progress: &steps.Progress{Phase: "upload", Done: done, Total: m.ArchiveSize, Unit: "bytes"}})
	})
	if err != nil {
		out.S3Err = err
		if damaged != nil {
			return errors.Join(damaged, fmt.Errorf("backup: the S3 copy failed too: %w", err))
		}
		return fmt.Errorf("backup: the local backup %s is good, but the S3 copy failed: %w", out.ArchivePath, err)
	}
	out.S3URL = url
	o.infof("uploaded %s", url)
	return nil
}

// Status is the status of the backup taken: verified, or damaged-source.
func (out *Outcome) Status() Status {
	s, _ := out.Manifest.status()
	return s
}

// removeStale deletes scratch directories and temp archives that a killed
// backup left behind. Only those a day old: a backup running right now
// (cron overlapping a manual run) keeps its own.
func removeStale(dir string, now time.Time) {
	for _, pat := range []string{".drbook-tmp-*", ".quantai_*.tmp-*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, m := range matches {
			if fi, err := os.Lstat(m); err == nil && now.Sub(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(m)
			}
		}
	}
}

func writeParts(ctx context.Context, aw *archiveWriter, parts []part) error {
	for _, p := range parts {
		if p.info.IsDir() {
			aw.dirModes[p.rel] = p.info.Mode()
			if err := aw.addDir(p.rel); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(p.abs)
		if err != nil {
			return err
		}
		err = aw.addFile(ctx, p.rel, f, p.info.Size(), p.info.Mode(), p.info.ModTime())
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// collect lists the files of a tier other than the database: config/ and
// .env (tier 1), logs/ and metrics/ (tier 2), caches and temporary files
// (tier 3). Symbolic links to regular files are followed; anything else
// that is not a regular file is skipped with a warning.
func collect(root string, tier int, include []string) ([]part, []string, error) {
	paths := []string{"config", ".env"}
	if tier >= 2 {
		paths = append(paths, "logs", "metrics")
	}
	if tier >= 3 {
		if len(include) == 0 {
			include = []string{"cache", "tmp"}
		}
		paths = append(paths, include...)
	}
	var parts []part
	var warn []string
	seen := map[string]bool{}
	for _, p := range paths {
		clean := filepath.ToSlash(filepath.Clean(p))
		if filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../") || clean == "data" || strings.HasPrefix(clean, "data/") {
			return nil, nil, fmt.Errorf("include %q: must be a path inside the root, outside data/", p)
		}
		abs := filepath.Join(root, filepath.FromSlash(clean))
		if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
			if p == "config" || p == ".env" {
				warn = append(warn, p+" is missing; not in this backup")
			}
			continue
		}
		err := filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if seen[rel] {
				return nil
			}
			info, err := os.Stat(path) // follows links
			if err != nil {
				warn = append(warn, fmt.Sprintf("%s: %v; skipped", rel, err))
				return nil
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0 && info.IsDir():
				warn = append(warn, rel+": link to a directory; skipped")
				return nil
			case info.IsDir():
			case info.Mode().IsRegular():
			default:
				warn = append(warn, rel+": not a regular file; skipped")
				return nil
			}
			seen[rel] = true
			parts = append(parts, part{rel: rel, abs: path, info: info})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].rel < parts[j].rel })
	return parts, warn, nil
}

// verifyFile reads an archive file back and checks it against m: archive
// size and SHA-256, then every file's size and SHA-256, no more, no less.
func verifyFile(ctx context.Context, path string, passphrase []byte, m *Manifest, progress func(int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != m.ArchiveSize {
		return corruptf("archive is %d bytes, manifest says %d", fi.Size(), m.ArchiveSize)
	}
	_, err = readAndCheck(ctx, f, passphrase, m, progress, nil)
	return err
}

// readAndCheck walks an archive from r, hashing the ciphertext, and checks
// it against m (when m is non-nil). sink, when non-nil, receives every
// entry (the restore's extraction). On any failure it finishes hashing the
// ciphertext so that a damaged archive is reported as damaged, not as a
// wrong passphrase. It returns the entries found.
func readAndCheck(ctx context.Context, r io.Reader, passphrase []byte, m *Manifest, progress func(int64), sink entryVisitor) ([]FileEntry, error) {
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	var src io.Reader = cr
	if progress != nil {
		src = &progressReader{r: cr, fn: func() { progress(cr.n) }}
	}
	var got []FileEntry
	prefix := ""
	if m != nil {
		prefix = m.Prefix + "/"
	}
	buf := make([]byte, 256<<10)
	lim := Limits{}
	if m != nil {
		// A manifest says how much there is: stop at the first byte more,
		// before a decompression bomb fills the disk.
		lim.MaxTotalSize = max(m.TotalSize(), 1)
		lim.MaxFiles = len(m.Files) + 4096 // files plus their directories
	}
	walkErr := walkArchive(ctx, src, passphrase, lim, func(name string, hdr *tar.Header, body io.Reader) error {
		if body == nil {
			if sink != nil {
				return sink(name, hdr, nil)
			}
			return nil
		}
		fh := sha256.New()
		tee := io.TeeReader(body, fh)
		if sink != nil {
			if err := sink(name, hdr, tee); err != nil {
				return err
			}
		}
		n, err := io.CopyBuffer(io.Discard, tee, buf)
		_ = n
		if err != nil {
			return err
		}
		rel := name
		if prefix != "" {
			if !strings.HasPrefix(name, prefix) {
				return corruptf("entry %q is outside the manifest's prefix %q", name, m.Prefix)
			}
			rel = strings.TrimPrefix(name, prefix)
		}
		got = append(got, FileEntry{Path: rel, Size: hdr.Size, SHA256: hex.EncodeToString(fh.Sum(nil)), Mode: os.FileMode(hdr.Mode).Perm()})
		return nil
	})
	if walkErr != nil {
		// Finish hashing so corruption wins over a misleading diagnosis.
		if m != nil && !errors.Is(walkErr, context.Canceled) {
			io.Copy(io.Discard, cr)
			if sum := hex.EncodeToString(h.Sum(nil)); sum != m.ArchiveSHA256 {
				return nil, corruptf("archive SHA-256 is %s, manifest says %s (%v)", sum[:16], m.ArchiveSHA256[:16], walkErr)
			}
		}
		return nil, walkErr
	}
	// Drain anything after the OpenPGP message (there should be nothing).
	if n, _ := io.Copy(io.Discard, cr); n > 0 {
		return nil, corruptf("%d unexpected bytes after the end of the encrypted data", n)
	}
	if m == nil {
		return got, nil
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.ArchiveSHA256 {
		return nil, corruptf("archive SHA-256 is %s, manifest says %s", sum[:16], m.ArchiveSHA256[:16])
	}
	if cr.n != m.ArchiveSize {
		return nil, corruptf("archive is %d bytes, manifest says %d", cr.n, m.ArchiveSize)
	}
	if err := compareFiles(m.Files, got); err != nil {
		return nil, err
	}
	return got, nil
}

// compareFiles checks that the archive holds exactly the manifest's files.
func compareFiles(want, got []FileEntry) error {
	g := map[string]FileEntry{}
	for _, f := range got {
		g[f.Path] = f
	}
	for _, w := range want {
		f, ok := g[w.Path]
		if !ok {
			return corruptf("manifest lists %s but the archive does not hold it", w.Path)
		}
		if f.Size != w.Size || f.SHA256 != w.SHA256 {
			return corruptf("%s: archive has %d bytes sha256 %s, manifest says %d bytes sha256 %s",
				w.Path, f.Size, short(f.SHA256), w.Size, short(w.SHA256))
		}
		delete(g, w.Path)
	}
	for p := range g {
		return corruptf("archive holds %s, which the manifest does not list", p)
	}
	return nil
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// progressReader calls fn after reads, at most every 4 MiB.
type progressReader struct {
	r    io.Reader
	fn   func()
	last int64
	n    int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 4<<20 || err == io.EOF {
		p.last = p.n
		p.fn()
	}
	return n, err
}

// FormatSize writes a byte count for people: "1.2 GiB", "512 B".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
