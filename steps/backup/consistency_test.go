package backup_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/backup"
)

// TestBackupIsConsistentUnderWrites: a writer commits trades and the
// matching position update in one transaction, as fast as it can, while
// backups are taken. Every snapshot must hold the invariant (position
// quantity = number of trades): a copy of a live file would not.
func TestBackupIsConsistentUnderWrites(t *testing.T) {
	root := MustRoot(t, "busy", 2000)
	dbPath := filepath.Join(root, "data", "quantai.db")
	w, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	var stop atomic.Bool
	var commits atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := 100000; !stop.Load(); id++ {
			tx, err := w.Begin()
			if err != nil {
				continue
			}
			tx.Exec(`INSERT INTO trades VALUES (?,NULL,1,'AAPL','buy',1,100,'filled','2026-01-04T10:00:00Z')`, id)
			tx.Exec(`UPDATE positions SET quantity = quantity + 1 WHERE id = 1`)
			if tx.Commit() == nil {
				commits.Add(1)
			}
		}
	}()
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		time.Sleep(30 * time.Millisecond)
		if _, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Passphrase: []byte(testPass),
			Now: func() time.Time { return time.Date(2026, 1, 4, 10, i, 0, 0, time.UTC) }}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if commits.Load() == 0 {
		t.Fatal("the writer never committed")
	}
	entries, _ := backup.List(context.Background(), backup.Source{Dir: dir})
	seen := map[int64]bool{}
	for _, e := range entries {
		scratch := MustRoot(t, "scratch", 0)
		o := restoreOpts(scratch, e.Path)
		o.Only = []string{"db"}
		if _, err := backup.Restore(context.Background(), o); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(scratch, "data", "quantai.db")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var qty float64
		var n int64
		if err := db.QueryRow("SELECT quantity FROM positions WHERE id = 1").Scan(&qty); err != nil {
			t.Fatalf("%s: restored position: %v", e.Name, err)
		}
		if err := db.QueryRow("SELECT count(*) FROM trades").Scan(&n); err != nil {
			t.Fatalf("%s: restored trades: %v", e.Name, err)
		}
		db.Close()
		if int64(qty) != n {
			t.Errorf("%s: position quantity %v but %d trades: not a consistent snapshot", e.Name, qty, n)
		}
		seen[n] = true
	}
	t.Logf("%d commits during %d backups; snapshots at %v trades", commits.Load(), len(entries), seen)
}
