package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

// checkerEnv, set to 1 in a process's environment, makes any program that
// links this package (drbook, a test binary) a one-shot database checker:
// it runs PRAGMA integrity_check on the file named by checkerDBEnv, prints
// the result and exits, before main or tests start. See checkStagedDB.
const (
	checkerEnv   = "DRBOOK_INTERNAL_INTEGRITY_CHECK"
	checkerDBEnv = "DRBOOK_INTERNAL_INTEGRITY_CHECK_DB"
)

func init() {
	if os.Getenv(checkerEnv) == "1" {
		os.Exit(runChecker(os.Getenv(checkerDBEnv)))
	}
}

// runChecker is the checker process: the result of the check on stdout
// ("ok" or the problems), exit status 0; 2 when it could not run at all.
func runChecker(path string) int {
	if path == "" {
		fmt.Fprintln(os.Stderr, "drbook integrity checker: no database named")
		return 2
	}
	db, err := sql.Open("sqlite", stagedURI(path))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	res, err := integrity(context.Background(), db, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(res)
	return 0
}

// stagedURI opens a staged database: read-only and immutable (no locks, no
// -shm or -wal looked for or made), which it is: the file is private to the
// restore until it is swapped in, and the swap moves that one file.
func stagedURI(path string) string { return roURI(path) + "&immutable=1" }

// checkStagedDB runs the full PRAGMA integrity_check on a staged database
// in a separate process (this program re-run as a checker), so that it
// runs beside the data validation on another core at full speed. In one
// process the two contend: every SQLite connection of a process (modernc,
// built with SQLITE_ENABLE_MEMORY_MANAGEMENT) fetches its pages through one
// mutex-guarded page cache, and two checks side by side took nearly twice
// their CPU time. When the program cannot be re-run, it checks in process.
func checkStagedDB(ctx context.Context, path string) error {
	lines, err := checkInChild(ctx, path)
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return ce
		}
		return checkDBURI(ctx, stagedURI(path), true)
	}
	if res := strings.TrimRight(string(lines), "\n"); res != "ok" {
		return fmt.Errorf("%w: integrity_check: %s", ErrCheckFailed, res)
	}
	return nil
}

// checkInChild runs the checker process and returns what it printed; an
// error means it could not say (not that the database is damaged).
func checkInChild(ctx context.Context, path string) ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), checkerEnv+"=1", checkerDBEnv+"="+path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// The checker dies with the restore: a killed restore leaves no
	// checker behind. The death signal follows the thread that started the
	// child, so that thread is held until the child is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("integrity checker: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	if out.Len() == 0 {
		return nil, errors.New("integrity checker: no result")
	}
	return out.Bytes(), nil
}

// procs counts the restores in this process that left a core to a checker.
var procs struct {
	sync.Mutex
	held, prev int
}

// leaveCoreForChecker lowers this process's GOMAXPROCS by one while the
// checker process runs, so the integrity check, the longest of the checks,
// gets a core of its own instead of an equal share with the data
// validation's three queries here (on two cores that share made the check,
// and so the restore, wait). The returned func puts it back; overlapping
// restores in one process put it back when the last one ends.
func leaveCoreForChecker() func() {
	procs.Lock()
	defer procs.Unlock()
	if procs.held == 0 {
		n := runtime.GOMAXPROCS(0)
		if n <= 1 {
			return func() {}
		}
		procs.prev = runtime.GOMAXPROCS(n - 1)
	}
	procs.held++
	return sync.OnceFunc(func() {
		procs.Lock()
		defer procs.Unlock()
		if procs.held--; procs.held == 0 {
			runtime.GOMAXPROCS(procs.prev)
		}
	})
}
