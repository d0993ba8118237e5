package backup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A restore test (Verify) restores a whole backup, the database included,
// into <scratch>/drbook-verify-<random>, which can be gigabytes in the
// temp directory. Its marker file is written first and stays locked
// (flock) while the test runs, so a scratch directory whose marker nobody
// holds was left by a verify that was killed, and the next verify removes
// it. Several verifies may run at once: a held lock is never taken for a
// leftover. A directory named like it without the marker is left alone.
const (
	scratchPrefix = "drbook-verify-"
	scratchMarker = ".drbook-verify"
	scratchMagic  = "drbook verify scratch v1"
)

// newScratch makes a marked scratch directory in parent ("" for the
// temp directory) and holds its marker's lock until release, which also
// removes the directory.
func newScratch(parent string) (dir string, release func(), err error) {
	dir, err = os.MkdirTemp(parent, scratchPrefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, scratchMarker), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		// Blocking: a cleaner looking at the new, empty marker holds
		// the lock for a moment and then leaves it alone.
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX); err == nil {
			_, err = fmt.Fprintf(f, "%s\npid %d\n", scratchMagic, os.Getpid())
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		os.RemoveAll(dir) // before the lock goes: no one may take it for a leftover meanwhile
		f.Close()
	}, nil
}

// cleanStaleScratch removes the scratch directories that killed verifies
// left in parent ("" for the temp directory): marked, their marker's lock
// free. Anything else named like them is left alone.
func cleanStaleScratch(parent string) (removed []string) {
	if parent == "" {
		parent = os.TempDir()
	}
	cands, _ := filepath.Glob(filepath.Join(parent, scratchPrefix+"*"))
	for _, d := range cands {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() && abandonedScratch(d) {
			if err := os.RemoveAll(d); err == nil {
				removed = append(removed, d)
			}
		}
	}
	return removed
}

// abandonedScratch reports whether d holds drbook's marker and no verify
// holds its lock. (A verify killed between making the directory and
// writing its marker leaves one this cannot tell from someone else's; it
// stays.)
func abandonedScratch(d string) bool {
	p := filepath.Join(d, scratchMarker)
	if mi, err := os.Lstat(p); err != nil || !mi.Mode().IsRegular() {
		return false
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false // a verify is running in it
	}
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	return strings.TrimSpace(line) == scratchMagic
}
