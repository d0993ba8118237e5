package sandbox

// SetCacheKiB sets the page cache bound of the generator for a test and
// returns a func that restores it.
func SetCacheKiB(kib int) (restore func()) {
	old := cacheKiB
	cacheKiB = kib
	return func() { cacheKiB = old }
}

// TS is ts, the generator's timestamp formatter.
var TS = ts
