package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dbfile"
)

// ErrTooLarge means an archive would unpack to more than --max-expand
// allows: a decompression bomb, or a genuine archive that needs a higher
// cap. Nothing was changed.
var ErrTooLarge = hint.NewInput("backup archive expands past the limit")

// ErrPostCheckNotRun means a restore completed (the parts were swapped in)
// but the quick_check after the swap could not run; it says nothing about
// the restored data, which passed a full integrity_check before the swap.
var ErrPostCheckNotRun = errors.New("the check after the swap could not run")

// Staging directories are <root>/.drbook-restore-<random>, each holding a
// marker file written before anything else. A staging directory whose
// marker is there was made by drbook and holds only copies (originals are
// never moved into it), so one left behind by a restore that was killed
// can be removed by the next one; anything else with a similar name is
// left alone.
const (
	stagingPrefix = ".drbook-restore-"
	stagingMarker = ".drbook-staging"
	markerMagic   = "drbook restore staging v1"
)

// Expansion limits what an archive without a manifest may unpack to: a
// multiple of the archive's size (Factor) or an absolute size (Bytes).
// The zero value is the default, DefaultExpandFactor times the archive's
// size and at least MinExpand.
type Expansion struct {
	Factor float64
	Bytes  int64
}

// The default expansion limit. An encrypted tar.gz of a SQLite database,
// configuration and logs unpacks to 2 to 10 times its size (text logs up to
// 20); 100 times leaves room for a database with many free pages, while a
// 2 MB archive that claims gigabytes (the usual decompression bomb: a
// sparse or zero-filled file) is refused before it is written.
const (
	DefaultExpandFactor = 100
	MinExpand           = 64 << 20
)

// IsZero reports whether e is the default.
func (e Expansion) IsZero() bool { return e.Factor == 0 && e.Bytes == 0 }

// Limit is the cap for an archive of archiveSize bytes.
func (e Expansion) Limit(archiveSize int64) int64 {
	if e.Bytes > 0 {
		return e.Bytes
	}
	f := e.Factor
	if f <= 0 {
		f = DefaultExpandFactor
	}
	return max(int64(f*float64(archiveSize)), MinExpand)
}

func (e Expansion) String() string {
	switch {
	case e.Bytes > 0:
		return FormatSize(e.Bytes)
	case e.Factor > 0:
		return strconv.FormatFloat(e.Factor, 'f', -1, 64) + "x"
	}
	return strconv.Itoa(DefaultExpandFactor) + "x"
}

// ParseExpansion reads a --max-expand value: a multiple of the archive's
// size ("200x") or a size ("5GiB", "500MiB", "5G", "1073741824").
func ParseExpansion(s string) (Expansion, error) {
	t := strings.TrimSpace(s)
	if f, ok := strings.CutSuffix(strings.ToLower(t), "x"); ok {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 1 {
			return Expansion{}, fmt.Errorf("--max-expand %q: a multiple must be a number of at least 1, like 200x", s)
		}
		return Expansion{Factor: v}, nil
	}
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[strings.ToLower(unit)]
	if err != nil || mult == 0 || v*mult < 1 {
		return Expansion{}, fmt.Errorf("--max-expand %q: want a size like 5GiB or 500MiB, or a multiple of the archive's size like 200x", s)
	}
	return Expansion{Bytes: int64(v * mult)}, nil
}

// newStaging makes a marked staging directory in root.
func newStaging(root string) (string, error) {
	dir, err := os.MkdirTemp(root, stagingPrefix)
	if err != nil {
		return "", err
	}
	body := fmt.Sprintf("%s\npid %d\nroot %s\n", markerMagic, os.Getpid(), root)
	if err := os.WriteFile(filepath.Join(dir, stagingMarker), []byte(body), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// isStaging reports whether dir is a staging directory drbook made: a real
// directory (not a symbolic link) holding a regular marker file that
// starts with the marker's first line.
func isStaging(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	p := filepath.Join(dir, stagingMarker)
	mi, err := os.Lstat(p)
	if err != nil || !mi.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	return strings.TrimSpace(line) == markerMagic
}

// cleanStaleStaging removes the staging directories a killed restore left
// in root. It must be called with the root's restore lock held, so that no
// live restore's staging can be among them. Directories named like staging
// but without drbook's marker are left alone and returned, so the operator
// can be told.
func cleanStaleStaging(root string) (removed, foreign []string) {
	stale, _ := filepath.Glob(filepath.Join(root, stagingPrefix+"*"))
	for _, s := range stale {
		fi, err := os.Lstat(s)
		if err != nil || !fi.IsDir() {
			continue
		}
		if !isStaging(s) {
			foreign = append(foreign, s)
			continue
		}
		if err := os.RemoveAll(s); err == nil {
			removed = append(removed, s)
		}
	}
	return removed, foreign
}

// stagingMargin is the free space staging leaves to the live system on
// its filesystem (the trading system keeps writing its WAL and logs while
// a restore is staged): 5% of the filesystem, at least 16 MiB, at most
// 1 GiB.
func stagingMargin(total int64) int64 {
	return min(max(total/20, 16<<20), 1<<30)
}

// fsSpace returns the free and total bytes of the filesystem holding dir
// (free as an unprivileged process sees it); ok is false when unknown.
func fsSpace(dir string) (free, total int64, ok bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), true
}

// blockSize rounds disk usage: a file takes whole blocks, and every entry
// takes at least one.
const blockSize = 4096

// diskSize is the disk the manifest's files take once unpacked, counted
// as budget.charge counts them (whole blocks, one more per file and per
// directory, taken as one per file).
func (m *Manifest) diskSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += (f.Size+blockSize-1)/blockSize*blockSize + 2*blockSize
	}
	return n
}

// budget bounds what a restore writes into its staging directory: at most
// the free space of the staging filesystem less stagingMargin, and, when
// set, at most maxExpand bytes of unpacked content. It is charged before
// each file is written (from the tar header) and counts every byte written,
// so a restore stops before it passes either cap, never after the disk
// filled.
type budget struct {
	archive   string
	dir       string
	free      int64 // free bytes when staging began; -1 when unknown
	margin    int64
	maxExpand int64 // 0: no cap beyond free space
	expandWhy string
	content   int64 // unpacked bytes
	disk      int64 // bytes of disk, whole blocks
}

func newBudget(archive, dir string) *budget {
	b := &budget{archive: archive, dir: dir, free: -1}
	if free, total, ok := fsSpace(dir); ok {
		b.free, b.margin = free, stagingMargin(total)
	}
	return b
}

// diskCap is what staging may take of the filesystem; -1 when unknown.
func (b *budget) diskCap() int64 {
	if b.free < 0 {
		return -1
	}
	return max(b.free-b.margin, 0)
}

// need refuses before anything is written when n bytes (known in advance,
// from a manifest or a file's size) would not fit.
func (b *budget) need(n int64, what string) error {
	if c := b.diskCap(); c >= 0 && n > c {
		return b.fullErr(n, what)
	}
	return nil
}

// charge accounts for one entry of size bytes before it is written.
func (b *budget) charge(name string, size int64) error {
	return b.add(name, size, (size+blockSize-1)/blockSize*blockSize+blockSize)
}

func (b *budget) add(name string, content, disk int64) error {
	b.content += content
	b.disk += disk
	if b.maxExpand > 0 && b.content > b.maxExpand {
		return b.tooLargeErr(name)
	}
	if c := b.diskCap(); c >= 0 && b.disk > c {
		return b.fullErr(b.disk, "unpacking it")
	}
	return nil
}

func (b *budget) tooLargeErr(name string) error {
	return &Error{Err: fmt.Errorf("%w: %s unpacks to more than %s (%s); refused at %s, before it was written",
		ErrTooLarge, b.archive, FormatSize(b.maxExpand), b.expandWhy, name),
		Advice: "nothing was changed and nothing is left in staging. If the archive is genuine, raise the cap, e.g. --max-expand 5GiB or --max-expand 500x"}
}

func (b *budget) fullErr(n int64, what string) error {
	return &Error{Err: fmt.Errorf("staging %s in %s: %w: %s needs more than the %s staging may use (%s free, %s kept free for the live system)",
		b.archive, b.dir, ErrDiskFull, what, FormatSize(b.diskCap()), FormatSize(b.free), FormatSize(b.margin)),
		Advice: fmt.Sprintf("nothing was changed and nothing is left in staging; free at least %s on that filesystem and try again", FormatSize(max(n-b.diskCap(), 1<<20)))}
}

// writer counts the bytes of one file written through w, charged size
// bytes in advance, against the caps: a tar header cannot understate a
// body (the tar reader stops at the header's size), but the count is kept
// regardless.
func (b *budget) writer(name string, size int64, w io.Writer) io.Writer {
	return &budgetWriter{b: b, name: name, w: w, charged: size}
}

type budgetWriter struct {
	b                *budget
	name             string
	w                io.Writer
	charged, written int64
}

func (bw *budgetWriter) Write(p []byte) (int, error) {
	if bw.written += int64(len(p)); bw.written > bw.charged {
		extra := bw.written - bw.charged
		bw.charged = bw.written
		if err := bw.b.add(bw.name, extra, extra); err != nil {
			return 0, err
		}
	}
	return bw.w.Write(p)
}

// stagedProgress reports bytes unpacked into staging, at most every 8 MiB:
// a small archive can take long to expand.
type stagedProgress struct {
	bo    *Options
	total int64 // 0 when unknown
	done  int64
	last  int64
}

func (s *stagedProgress) add(n int64) {
	s.done += n
	if s.done-s.last >= 8<<20 {
		s.last = s.done
		s.bo.emit(steps.Event{Progress: &steps.Progress{Phase: "unpack", Done: s.done, Total: s.total, Unit: "bytes"}})
	}
}

// postSwapCheck runs quick_check on the live database after the swap. It
// tells a check that ran and found problems (ErrCheckFailed) from one that
// could not run (ErrPostCheckNotRun, with ErrDiskFull when the filesystem
// is full): SQLite needs a few pages of disk to open a database in WAL
// mode, and a full disk must not be reported as damaged data.
func postSwapCheck(ctx context.Context, path string) error {
	db, err := dbfile.OpenURI(dbfile.ReadOnlyURI(path))
	if err != nil {
		return notRun(path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(20)")
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return ce
		}
		if nerr := notADB(err); errors.Is(nerr, ErrCheckFailed) {
			return fmt.Errorf("quick_check: %w", nerr)
		}
		return notRun(path, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return notRun(path, err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		if ce := ctx.Err(); ce != nil {
			return ce
		}
		if nerr := notADB(err); errors.Is(nerr, ErrCheckFailed) {
			return fmt.Errorf("quick_check: %w", nerr)
		}
		return notRun(path, err)
	}
	if res := strings.Join(lines, "\n"); res != "ok" {
		return fmt.Errorf("%w: quick_check: %s", ErrCheckFailed, res)
	}
	return nil
}

// notRun classifies a quick_check that could not run.
func notRun(path string, err error) error {
	full := errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), "database or disk is full")
	if free, _, ok := fsSpace(filepath.Dir(path)); ok && free < 1<<20 {
		full = true
	}
	if full {
		return fmt.Errorf("%w: %w (%v)", ErrPostCheckNotRun, ErrDiskFull, err)
	}
	return fmt.Errorf("%w: %v", ErrPostCheckNotRun, err)
}
