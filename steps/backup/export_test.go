package backup

// SetCrashHook lets the tests kill the process at each step of a swap.
func SetCrashHook(f func(point string)) { crashHook = f }
