//go:build !unix

package checks

// shmInUse cannot ask about locks here; a -shm is taken to be live.
func shmInUse(string) bool { return true }
