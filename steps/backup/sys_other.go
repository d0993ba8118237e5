//go:build !linux

package backup

import (
	"errors"
	"syscall"
)

// checkerAttr: only Linux can tie a child's life to its parent's; on other
// systems a checker outlives a killed restore until its check ends (it
// only reads a staged file).
func checkerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// errNoExchange makes swapDir fall back to two renames.
var errNoExchange = errors.New("atomic exchange not supported on this system")

// exchange: no atomic exchange of two paths outside Linux.
func exchange(a, b string) error { return errNoExchange }
