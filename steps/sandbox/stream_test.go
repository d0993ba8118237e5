package sandbox_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestBoundedCacheSameBytes generates the same sandbox twice, the second
// time with a page cache of 64 KiB: the load spills pages to the file all
// along and the index sort goes through temporary files. The bytes must
// not depend on how much the generator may hold in memory.
func TestBoundedCacheSameBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("two sandboxes of 20,000 trades")
	}
	opts := sandbox.Options{Seed: 9, Trades: 20000}
	a := MustCreate(t, opts)
	restore := sandbox.SetCacheKiB(64)
	b := MustCreate(t, opts)
	restore()
	fi, err := os.Stat(filepath.Join(b, sandbox.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	// The test means something only if the database is far larger than
	// the cache.
	if fi.Size() < 32*64<<10 {
		t.Fatalf("database of %d bytes: too small to make a 64 KiB cache spill", fi.Size())
	}
	ha, hb := treeHashes(t, a), treeHashes(t, b)
	if len(ha) != len(hb) {
		t.Fatalf("file sets differ: %d vs %d files", len(ha), len(hb))
	}
	for p, h := range ha {
		if hb[p] != h {
			t.Errorf("%s differs when generated with a 64 KiB page cache", p)
		}
	}
	// And the sandbox made in little memory passes drbook's checks, as
	// a clean sandbox must (backup freshness aside: it has no backups).
	var only []string
	for _, n := range checks.Names() {
		if n != checks.BackupFreshness {
			only = append(only, n)
		}
	}
	rep, err := checks.Run(context.Background(), checks.Options{Root: b, Only: only, Full: true, MmapSize: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("the checks made no finding")
	}
	for _, f := range rep.Findings {
		if f.Status != checks.Pass {
			t.Errorf("%s %s: %s %s", f.Check, f.Item, f.Status, f.Message)
		}
	}
}

// pinnedContent is the content digest (contentDigest) of the sandbox of
// seed 1 with the default trade count. Faults, tests and drills rely on
// the sandbox being the same from one drbook to the next: change it only
// together with a change to what the generator means to produce.
const pinnedContent = "c347349e6718ffdfe4566c2be34485d93fa13f50f392d72eb509ec0b604982dc" // config/quantai.yaml lists agents.enabled; logs/heartbeat

// TestContentIsPinned checks that the generator still makes, row for row
// and byte for byte in every other file, the sandbox it made when the
// digest was pinned. The database file is compared by content, not
// bytes: its header names the SQLite version that wrote it.
func TestContentIsPinned(t *testing.T) {
	got := contentDigest(t, MustCreate(t, sandbox.Options{Seed: 1}))
	if got != pinnedContent {
		t.Errorf("content digest of the seed 1 sandbox = %s, pinned %s: the generator changed what it makes", got, pinnedContent)
	}
}

// contentDigest hashes every file under root but the database, byte for
// byte, and the database's schema and rows, table by table in rowid order.
func contentDigest(tb testing.TB, root string) string {
	tb.Helper()
	h := sha256.New()
	files := treeHashes(tb, root)
	var names []string
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		if p != filepath.FromSlash(sandbox.DBFile) {
			fmt.Fprintf(h, "file %s %x\n", filepath.ToSlash(p), files[p])
		}
	}
	db := openRO(tb, root)
	rows, err := db.Query("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY rowid")
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, tbl, s string
		if err := rows.Scan(&typ, &name, &tbl, &s); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(h, "schema %s %s %s %q\n", typ, name, tbl, s)
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, tbl := range tables {
		hashRows(tb, db, h, tbl)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func hashRows(tb testing.TB, db *sql.DB, h hash.Hash, table string) {
	tb.Helper()
	rows, err := db.Query(`SELECT * FROM "` + table + `" ORDER BY rowid`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	fmt.Fprintf(h, "table %s %q\n", table, cols)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case float64:
				fmt.Fprintf(h, "r%s|", strconv.FormatFloat(v, 'g', -1, 64))
			case []byte:
				fmt.Fprintf(h, "b%x|", v)
			default:
				fmt.Fprintf(h, "%T%v|", v, v)
			}
		}
		h.Write([]byte{'\n'})
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
}

// TestTimestampFormat compares the generator's own timestamp formatting
// with time.Format over the years a sandbox can span and beyond.
func TestTimestampFormat(t *testing.T) {
	for _, tm := range []time.Time{
		sandbox.DefaultNow,
		time.Date(2026, 3, 13, 19, 58, 0, 1, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 4, 9, 5, 3, 120000, time.FixedZone("EDT", -4*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := sandbox.TS(tm), tm.UTC().Format(sandbox.TimeLayout); got != want {
			t.Errorf("ts(%v) = %q, want %q", tm, got, want)
		}
	}
	start := time.Date(2026, 2, 11, 20, 0, 0, 0, time.UTC)
	for d := time.Duration(0); d < 30*24*time.Hour; d += 7*time.Hour + 13*time.Minute + 17*time.Second + 123456789 {
		tm := start.Add(d)
		if got, want := sandbox.TS(tm), tm.Format(sandbox.TimeLayout); got != want {
			t.Fatalf("ts(%v) = %q, want %q", tm, got, want)
		}
	}
}
