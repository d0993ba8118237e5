package shell_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/shell"
)

// TestMain lets the test binary play drbook in TestBlockDiesWithDrbook: in
// child mode it runs a block that never ends, until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DRBOOK_SHELL_CHILD_DIR"); dir != "" {
		_, err := shell.Exec(context.Background(), shell.Command{Interpreter: []string{"bash", "-euo", "pipefail"},
			Code: grandchildBlock, Dir: dir, Env: os.Environ()}, nil)
		if err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	all.Install(all.Options{}) // shell, sql, and the restore a .restore runs
	os.Exit(m.Run())
}

// TestBlockDiesWithDrbook kills drbook (a child process running a block
// whose grandchild sleeps for minutes) with SIGKILL, as the OOM killer or
// an operator's kill -9 would: the block's whole process group must not
// outlive it.
func TestBlockDiesWithDrbook(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "DRBOOK_SHELL_CHILD_DIR="+dir)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "grandchild.pid")); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the block never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := grandchildPid(t, dir)
	if !alive(pid) {
		t.Fatalf("grandchild %d not running before the kill", pid)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	assertGone(t, pid) // within 10 s: the watchdog polls every second
}
