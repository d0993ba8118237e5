package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/dbfile"
)

// CheckerCommand is the hidden subcommand that makes drbook a one-shot
// database checker: "drbook __integrity-check DB" runs PRAGMA
// integrity_check on DB, prints the result and exits. The program's main
// dispatches it to RunChecker (a test binary that wants the checker
// child dispatches it from its TestMain); see checkStagedDB.
const CheckerCommand = "__integrity-check"

// Checker runs the full integrity_check of a private database file in a
// child process. Command is the program and its arguments, the file's
// path appended; the zero Checker checks in this process instead.
type Checker struct {
	Command []string
}

// SelfChecker re-runs this program with CheckerCommand. Only a program
// whose main (or TestMain) dispatches CheckerCommand to RunChecker may use
// it.
func SelfChecker() Checker {
	exe, err := os.Executable()
	if err != nil {
		return Checker{}
	}
	return Checker{Command: []string{exe, CheckerCommand}}
}

// RunChecker is the checker process: args are the database's path; the
// result of the check goes to stdout ("ok" or the problems) with exit
// status 0; 2 when it could not run at all.
func RunChecker(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(stderr, "drbook integrity checker: want one database path")
		return 2
	}
	return runChecker(args[0], stdout, stderr)
}

func runChecker(path string, stdout, stderr io.Writer) int {
	db, err := steps.OpenDB(path, steps.Immutable)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer db.Close()
	res, err := integrity(context.Background(), db, true)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, res)
	return 0
}

// checkStagedDB runs the full PRAGMA integrity_check on a staged database
// in a separate process (the checker c, such as this program re-run with
// CheckerCommand), so that it
// runs beside the data validation on another core at full speed. In one
// process the two contend: every SQLite connection of a process (modernc,
// built with SQLITE_ENABLE_MEMORY_MANAGEMENT) fetches its pages through one
// mutex-guarded page cache, and two checks side by side took nearly twice
// their CPU time. Without a checker, or when it cannot run, it checks in
// process.
func checkStagedDB(ctx context.Context, c Checker, path string) error {
	lines, err := c.run(ctx, path)
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return ce
		}
		return checkDBURI(ctx, dbfile.ImmutableURI(path), true)
	}
	if res := strings.TrimRight(string(lines), "\n"); res != "ok" {
		return fmt.Errorf("%w: integrity_check: %s", ErrCheckFailed, res)
	}
	return nil
}

// errNoChecker means no checker process is configured.
var errNoChecker = errors.New("integrity checker: none configured")

// run runs the checker process and returns what it printed; an error means
// it could not say (not that the database is damaged).
func (c Checker) run(ctx context.Context, path string) ([]byte, error) {
	if len(c.Command) == 0 {
		return nil, errNoChecker
	}
	cmd := exec.CommandContext(ctx, c.Command[0], append(c.Command[1:len(c.Command):len(c.Command)], path)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// The checker dies with the restore where the system allows it (see
	// checkerAttr); the thread that started it is held until it is gone.
	cmd.SysProcAttr = checkerAttr()
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
