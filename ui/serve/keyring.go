package serve

import (
	"os"
	"sync"
	"time"
)

// keyring holds the authorized keys in force. When they were read from a
// file (Config.KeysFile), a change to the file (its size or modification
// time) is read again: before a login, and on the server's watch tick. A
// version that does not parse leaves the keys in force as they were, and
// the log says why once per version: nothing is served with half a key
// list.
type keyring struct {
	mu    sync.Mutex
	keys  Keys
	path  string
	stamp fileStamp // of the version in force
	bad   fileStamp // of the last version that failed to parse
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

func stampOf(path string) (fileStamp, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	return fileStamp{fi.Size(), fi.ModTime()}, true
}

func newKeyring(keys Keys, path string) *keyring {
	r := &keyring{keys: keys, path: path}
	if path != "" {
		r.stamp, _ = stampOf(path)
	}
	return r
}

// current returns the keys in force, reading the file again if it changed;
// changed is true when it was, logf is told what happened.
func (r *keyring) current(logf func(string, ...any)) (keys Keys, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" {
		return r.keys, false
	}
	st, ok := stampOf(r.path)
	switch {
	case !ok:
		if r.bad != (fileStamp{size: -1}) {
			logf("authorized keys %s cannot be read; the %d keys read before stay in force", r.path, len(r.keys))
			r.bad = fileStamp{size: -1}
		}
		return r.keys, false
	case st == r.stamp || st == r.bad:
		return r.keys, false
	}
	keys, err := LoadKeys(r.path)
	if err != nil {
		r.bad = st
		logf("%v; the %d keys read before stay in force", err, len(r.keys))
		return r.keys, false
	}
	r.keys, r.stamp, r.bad = keys, st, fileStamp{}
	logf("authorized keys %s read again: %d keys", r.path, len(keys))
	return keys, true
}
