//go:build unix

package dbfile

import (
	"os"
	"syscall"
)

// shmInUse reports whether a live SQLite connection holds the -shm: every
// connection in WAL mode keeps a shared lock on the "DMS" byte at offset
// 128 of the -shm while open. F_GETLK only asks; it takes no lock. A -shm
// nobody holds is a leftover of a crash, which a reader would rewrite.
func shmInUse(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 128, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != syscall.F_UNLCK
}
