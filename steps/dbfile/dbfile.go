// Package dbfile looks at a SQLite database file's bytes without SQLite:
// its header, page size and count, and the -wal, -shm and -journal beside
// it, and chooses how to open it read-only so that nothing is created or
// changed next to it. Every open of a QuantAI database file goes through
// its Open (by mode) or OpenURI (by a URI chosen here), so the modes mean
// the same everywhere. The checks, the kill switch, the backup and the
// sandbox share it, so none of them imports another.
package dbfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
)

// File is what a look at the database file's bytes found.
type File struct {
	Path      string
	Size      int64
	PageSize  int64
	Pages     int64 // in-header database size; 0 when not valid
	WAL, SHM  int64 // sizes; -1 when absent
	SHMWrites bool  // the -shm exists and we could write it
	SHMLive   bool  // a running SQLite connection holds the -shm
	Journal   bool  // a rollback journal exists
	Tail      []byte
}

// ErrNoDatabase means the database file does not exist.
var ErrNoDatabase = errors.New("database file does not exist")

// ErrNotDatabase means the file is not a SQLite database.
var ErrNotDatabase = errors.New("not a SQLite database")

// ErrDamagedDatabase means the file is a SQLite database whose size does
// not fit its pages: bytes appended after the last page, or fewer or more
// pages than the header says.
var ErrDamagedDatabase = errors.New("database file is damaged")

// InspectDB looks at the database file's bytes without SQLite, as the
// db-integrity check's "file" item does: nil, or the first structural
// problem, wrapping ErrNoDatabase, ErrNotDatabase or ErrDamagedDatabase.
// It opens nothing next to the file. A page-level check (quick_check)
// is still needed to find a torn page.
func InspectDB(path string) error {
	d, err := Inspect(path)
	if err != nil {
		return err
	}
	if msg := d.Damage(); msg != "" {
		return fmt.Errorf("%s: %w: %s", path, ErrDamagedDatabase, msg)
	}
	return nil
}

// Damage names what is wrong with the file's size against its pages, or
// returns "".
func (d *File) Damage() string {
	switch {
	case d.Size%d.PageSize != 0:
		return fmt.Sprintf("%d stray bytes after the last page (data appended to the file?)", d.Size%d.PageSize)
	case d.WAL <= 0 && d.Pages > 0 && d.Pages*d.PageSize != d.Size:
		return fmt.Sprintf("header says %d pages (%d bytes) but the file has %d bytes", d.Pages, d.Pages*d.PageSize, d.Size)
	}
	return ""
}

// Inspect reads the database header without SQLite.
func Inspect(path string) (*File, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoDatabase)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (not a regular file)", path, ErrNotDatabase)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &File{Path: path, Size: fi.Size(), WAL: -1, SHM: -1}
	hdr := make([]byte, 100)
	if n, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("%s: %w (%d bytes, shorter than a database header)", path, ErrNotDatabase, n)
	}
	if !bytes.Equal(hdr[:16], []byte("SQLite format 3\x00")) {
		return nil, fmt.Errorf("%s: %w (header starts %q)", path, ErrNotDatabase, hdr[:16])
	}
	d.PageSize = int64(binary.BigEndian.Uint16(hdr[16:18]))
	if d.PageSize == 1 {
		d.PageSize = 65536
	}
	if d.PageSize < 512 || d.PageSize&(d.PageSize-1) != 0 {
		return nil, fmt.Errorf("%s: %w (page size %d in header)", path, ErrNotDatabase, d.PageSize)
	}
	if bytes.Equal(hdr[24:28], hdr[92:96]) {
		d.Pages = int64(binary.BigEndian.Uint32(hdr[28:32]))
	}
	if extra := d.Size % d.PageSize; extra != 0 {
		d.Tail = make([]byte, min(extra, 48))
		f.ReadAt(d.Tail, d.Size-extra)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		d.WAL = fi.Size()
	}
	if fi, err := os.Stat(path + "-shm"); err == nil {
		d.SHM = fi.Size()
		// Open for writing only to learn whether we could; nothing is written.
		if f, err := os.OpenFile(path+"-shm", os.O_WRONLY, 0); err == nil {
			f.Close()
			d.SHMWrites = true
		}
		d.SHMLive = shmInUse(path + "-shm")
	}
	if _, err := os.Stat(path + "-journal"); err == nil {
		d.Journal = true
	}
	return d, nil
}

// DSN chooses how to open the database so that nothing is created or
// changed next to it:
//   - no WAL: immutable, read-only (no locks, no -shm, no -wal);
//   - a WAL and a writable -shm that a running connection holds (a live
//     system): plain read-only, sharing the wal-index like any reader;
//   - a WAL but no live -shm (a crash, a stale WAL): read-only with exclusive
//     locking mode on the "unix-none" VFS, so SQLite keeps the wal-index in
//     heap memory, creates or rewrites no -shm, yet still reads the WAL's
//     committed frames.
func (d *File) DSN(mmap int64) (string, string) {
	u := "file:" + (&url.URL{Path: d.Path}).EscapedPath() + "?mode=ro"
	if mmap > 0 {
		u += fmt.Sprintf("&_pragma=mmap_size(%d)", mmap)
	}
	switch {
	case d.WAL <= 0:
		return u + "&immutable=1", "immutable"
	case d.SHM >= 0 && d.SHMWrites && d.SHMLive:
		return u + "&_pragma=busy_timeout(5000)", "read-only, shared WAL index"
	default:
		return u + "&vfs=unix-none&_pragma=locking_mode(EXCLUSIVE)", "read-only, private WAL index"
	}
}
