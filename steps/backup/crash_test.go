package backup_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/backup"
)

// TestMain doubles as the child process of the crash tests and as the
// integrity checker (backup.SelfChecker re-runs this binary), and
// registers every action, as drbook's composition root does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == backup.CheckerCommand {
		os.Exit(backup.RunChecker(os.Args[2:], os.Stdout, os.Stderr))
	}
	all.Install(all.Options{Checker: backup.SelfChecker()})
	switch os.Getenv("DRBOOK_TEST_CHILD") {
	case "wal":
		childWAL()
	case "restore":
		childRestore()
	default:
		os.Exit(m.Run())
	}
}

// childWAL commits a change to the WAL and dies before any checkpoint,
// leaving a live database whose latest state is only in its -wal.
func childWAL() {
	db, err := sql.Open("sqlite", os.Getenv("DB"))
	if err != nil {
		os.Exit(3)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA wal_autocheckpoint=0", "UPDATE control SET value='old' WHERE key='marker'"} {
		if _, err := db.Exec(q); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

func childRestore() {
	point := os.Getenv("CRASH_POINT")
	backup.SetCrashHook(func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	o := backup.RestoreOptions{Root: os.Getenv("ROOT"), From: os.Getenv("FROM"), Passphrase: []byte(testPass),
		Confirmed: true, Only: []string{"db", "config", "env"}}
	if _, err := backup.Restore(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestRestoreSurvivesSIGKILL kills a restore at every step of the swap and
// at random moments during staging. Afterwards the live database is the
// old one or the new one, intact, never a mix, and every original kept
// aside is intact too.
func TestRestoreSurvivesSIGKILL(t *testing.T) {
	src := MustRoot(t, "new", 3000)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	points := []string{"checkpointed", "linked-aside", "moved-wal", "moved-shm", "before-rename", "renamed", "dir-exchanged", "file-staged"}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < 6; i++ {
		points = append(points, "after "+strconv.Itoa(rng.Intn(400))+"ms")
	}
	killed := 0
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			live := MustRoot(t, "base", 50)
			db := filepath.Join(live, "data", "quantai.db")
			w := exec.Command(os.Args[0])
			w.Env = append(os.Environ(), "DRBOOK_TEST_CHILD=wal", "DB="+db)
			w.Run()
			if !exists(db+"-wal") || MustMarker(t, db) != "old" {
				t.Fatalf("setup: no hot WAL (marker %s)", MustMarker(t, db))
			}
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "DRBOOK_TEST_CHILD=restore", "ROOT="+live, "FROM="+out.ArchivePath, "CRASH_POINT="+point)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if ms, ok := strings.CutPrefix(point, "after "); ok {
				d, _ := strconv.Atoi(strings.TrimSuffix(ms, "ms"))
				time.Sleep(time.Duration(d) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
			}
			err := cmd.Wait()
			if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				killed++
			} else if err != nil {
				t.Fatalf("restore child failed: %v\n%s", err, stderr.String())
			}
			// The live database: old or new, intact.
			if got := Integrity(t, db); got != "ok" {
				t.Fatalf("live database after kill at %s: integrity %q", point, got)
			}
			m := MustMarker(t, db)
			if m != "old" && m != "new" {
				t.Fatalf("live database after kill at %s holds %q: neither old nor new", point, m)
			}
			// .env is whole: old or new.
			env := MustRead(t, filepath.Join(live, ".env"))
			if !strings.Contains(env, "sk-base\n") && !strings.Contains(env, "sk-new\n") {
				t.Fatalf(".env mixed: %q", env)
			}
			if !exists(filepath.Join(live, "config", "settings.yaml")) {
				t.Fatal("config/ missing after kill")
			}
			// Anything kept aside is the old database, intact.
			asides, _ := filepath.Glob(db + ".pre-restore-*")
			for _, a := range asides {
				if strings.HasSuffix(a, "-wal") || strings.HasSuffix(a, "-shm") || strings.HasSuffix(a, "-journal") {
					continue
				}
				if Integrity(t, a) != "ok" || MustMarker(t, a) != "old" {
					t.Errorf("kept-aside %s is not the old database", a)
				}
			}
			if m == "old" && len(asides) == 0 && !strings.HasPrefix(point, "after") && point != "checkpointed" {
				t.Logf("killed at %s before anything moved", point)
			}
		})
	}
	if killed < 6 {
		t.Errorf("only %d of %d runs were killed mid-restore; the crash points are not reached", killed, len(points))
	}
}
