package backup

import (
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPostSwapCheckTellsDamageFromNotRun: the check after the swap still
// calls damaged data damaged; only a check that could not run is told
// apart, and a full disk is named as such.
func TestPostSwapCheckTellsDamageFromNotRun(t *testing.T) {
	ctx := t.Context()
	if err := postSwapCheck(ctx, mkDB(t, nil)); err != nil {
		t.Errorf("a good database: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "quantai.db")
	b := make([]byte, 64<<10)
	rand.Read(b)
	os.WriteFile(garbage, b, 0o600)
	paged := mkDB(t, nil)
	f, err := os.OpenFile(paged, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(b[:4096], 3*4096) // one page of random bytes, as dd seek=3 conv=notrunc
	f.Close()
	for name, path := range map[string]string{"random bytes": garbage, "a damaged page": paged} {
		err := postSwapCheck(ctx, path)
		if !errors.Is(err, ErrCheckFailed) || errors.Is(err, ErrPostCheckNotRun) {
			t.Errorf("%s: %v, want ErrCheckFailed", name, err)
		}
	}

	dir := t.TempDir() // not full
	for _, c := range []struct {
		err  error
		full bool
	}{
		{&os.PathError{Op: "write", Path: "x-shm", Err: syscall.ENOSPC}, true},
		{&os.PathError{Op: "write", Path: "x-shm", Err: syscall.EDQUOT}, true},
		{errors.New("database or disk is full (13)"), true},
		{errors.New("disk I/O error (4874)"), false},
	} {
		err := notRun(filepath.Join(dir, "quantai.db"), c.err)
		if !errors.Is(err, ErrPostCheckNotRun) || errors.Is(err, ErrCheckFailed) || errors.Is(err, ErrDiskFull) != c.full {
			t.Errorf("%v: %v (disk full %v)", c.err, err, c.full)
		}
	}
}

// TestBudget covers the caps where no small filesystem can be mounted:
// the free space is set as statfs would report it.
func TestBudget(t *testing.T) {
	b := &budget{archive: "a.tar.gz.gpg", dir: "/stage", free: 100 << 20, margin: 16 << 20}
	if err := b.need(84<<20, "x"); err != nil {
		t.Errorf("84 MiB of 84 usable: %v", err)
	}
	if err := b.need(84<<20+1, "x"); !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "16.0 MiB kept free") {
		t.Errorf("one byte over: %v", err)
	}
	for i := 0; i < 40; i++ {
		if err := b.charge("f", 2<<20); err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
	}
	if err := b.charge("last", 4<<20); !errors.Is(err, ErrDiskFull) {
		t.Errorf("past the free space less the margin: %v", err)
	}

	b = &budget{archive: "a.tar.gz.gpg", free: -1, maxExpand: 10 << 20, expandWhy: "--max-expand 10MiB"}
	if err := b.charge("db", 10<<20); err != nil {
		t.Errorf("at the cap: %v", err)
	}
	if err := b.charge("one more", 1); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "one more") || !strings.Contains(err.Error(), "10.0 MiB") {
		t.Errorf("past the cap: %v", err)
	}

	// A body longer than its header said is charged as it is written.
	b = &budget{archive: "a", free: -1, maxExpand: 1 << 20}
	b.charge("f", 100)
	w := b.writer("f", 100, io.Discard)
	if _, err := w.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1<<20)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a body past its header: %v", err)
	}
}

func TestStagingMargin(t *testing.T) {
	for _, c := range []struct{ total, want int64 }{
		{64 << 20, 16 << 20},      // at least 16 MiB
		{1 << 30, (1 << 30) / 20}, // 5%
		{100 << 30, 1 << 30},      // at most 1 GiB
	} {
		if got := stagingMargin(c.total); got != c.want {
			t.Errorf("margin of %d: %d, want %d", c.total, got, c.want)
		}
	}
}
