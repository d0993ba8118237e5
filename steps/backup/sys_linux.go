package backup

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// checkerAttr makes the checker child die with its parent: a killed
// restore leaves no checker behind. The death signal follows the thread
// that started the child, so the caller holds that thread until the child
// is gone.
func checkerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// exchange swaps two paths in one atomic renameat2(RENAME_EXCHANGE) call.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
