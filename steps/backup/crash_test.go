package backup_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/steps"
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
	case "verify":
		childVerify()
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

// childVerify runs a restore test into SCRATCH and, once a file is staged,
// dies (HOLD empty) or stops there holding its scratch (HOLD=1: a verify
// still running) until it is killed.
func childVerify() {
	backup.SetCrashHook(func(p string) {
		if p != "file-staged" {
			return
		}
		if os.Getenv("HOLD") == "" {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		fmt.Println("holding")
		select {}
	})
	o := backup.VerifyOptions{From: os.Getenv("FROM"), Passphrase: []byte(testPass), Scratch: os.Getenv("SCRATCH")}
	if _, err := backup.Verify(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestVerifyRemovesScratchOfKilledVerify: a restore test killed half-way
// leaves its scratch directory (a restored database in the temp
// directory); the next one removes it and says so, but never the scratch
// of a restore test that is still running.
func TestVerifyRemovesScratchOfKilledVerify(t *testing.T) {
	src := MustRoot(t, "v", 200)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	scratch := t.TempDir()
	child := func(hold string) *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "DRBOOK_TEST_CHILD=verify", "FROM="+out.ArchivePath, "SCRATCH="+scratch, "HOLD="+hold)
		return cmd
	}
	// A verify that is still running, holding its scratch.
	live := child("1")
	stdout, _ := live.StdoutPipe()
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer live.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("live verify child: %q %v", line, err)
	}
	liveDirs, _ := filepath.Glob(filepath.Join(scratch, "drbook-verify-*"))
	if err := child("").Run(); err == nil {
		t.Fatal("the verify child was not killed")
	}
	all, _ := filepath.Glob(filepath.Join(scratch, "drbook-verify-*"))
	var killed []string
	for _, d := range all {
		if !slices.Contains(liveDirs, d) {
			killed = append(killed, d)
		}
	}
	if len(liveDirs) != 1 || len(killed) != 1 {
		t.Fatalf("a live verify holds %v, a killed one left %v", liveDirs, killed)
	}
	// Someone else's directory named like drbook's scratch.
	foreign := filepath.Join(scratch, "drbook-verify-notours")
	os.MkdirAll(foreign, 0o755)

	var lines []string
	res, err := backup.Verify(context.Background(), backup.VerifyOptions{From: out.ArchivePath, Passphrase: []byte(testPass), Scratch: scratch,
		Emit: func(ev steps.Event) { lines = append(lines, ev.Line) }})
	if err != nil || !res.OK {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if exists(killed[0]) {
		t.Errorf("the killed verify's scratch %s is still there", killed[0])
	}
	if !strings.Contains(strings.Join(lines, "\n"), "removed "+killed[0]+", scratch left by a restore test that was interrupted") {
		t.Errorf("removal not said:\n%s", strings.Join(lines, "\n"))
	}
	left, _ := filepath.Glob(filepath.Join(scratch, "drbook-verify-*"))
	if len(left) != 2 || !slices.Contains(left, foreign) {
		t.Errorf("want the live verify's scratch and the foreign directory kept, have %v", left)
	}
	live.Process.Kill()
	live.Wait()
	if _, err := backup.Verify(context.Background(), backup.VerifyOptions{From: out.ArchivePath, Passphrase: []byte(testPass), Scratch: scratch}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(scratch, "drbook-verify-*")); len(left) != 1 || left[0] != foreign {
		t.Errorf("after the live verify died: %v", left)
	}
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
	for len(points) < 14 { // six distinct random moments
		if p := "after " + strconv.Itoa(rng.Intn(400)) + "ms"; !slices.Contains(points, p) {
			points = append(points, p)
		}
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
